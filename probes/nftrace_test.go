package probes

import (
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// readTraceEvents parses a file of captured trace datagrams (hex, one a
// line, # comments).
func readTraceEvents(t *testing.T, path string) []traceEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []traceEvent
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := syscall.ParseNetlinkMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			e, ok, err := parseTraceMessage(m)
			if err != nil || !ok {
				t.Fatalf("message %x: ok %v, %v", b, ok, err)
			}
			out = append(out, e)
		}
	}
	return out
}

func evText(e traceEvent) string {
	return fmt.Sprintf("%s/%s %d %d %s", e.Table, e.Chain, e.Type, e.Handle, e.verdictText())
}

// TestParseTraceMessage reads NFT_MSG_TRACE messages a real kernel sent
// for a SYN through kube-proxy's nftables table and iptables-nft rules.
func TestParseTraceMessage(t *testing.T) {
	evs := readTraceEvents(t, "testdata/nftrace-syn.hex")
	if len(evs) != 24 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if e.Family != nfprotoIPv4 || e.Table != traceTableName || e.Chain != "prerouting" || e.Type != unix.NFT_TRACETYPE_RULE || e.Handle != 2 ||
		e.verdictText() != "continue" || e.IIF == 0 {
		t.Errorf("first event %+v", e)
	}
	p := e.packet()
	if p == nil || p.Proto != "tcp" || p.Src != ap("10.77.0.1:45484") || p.Dst != ap("10.96.0.10:80") || p.ID != 53813 || p.Seq != 2364177297 || !isSYN(p) || p.Len != 60 {
		t.Fatalf("first event's packet %+v", p)
	}
	// Only the first event of each base chain carries the headers.
	if evs[1].packet() != nil || evs[3].packet() == nil {
		t.Error("headers on the wrong events")
	}
	var got []string
	for _, e := range evs[:21] {
		got = append(got, evText(e))
	}
	want := []string{
		"netlab-trace/prerouting 3 2 continue", "netlab-trace/prerouting 3 0 continue", "netlab-trace/prerouting 1 0 accept",
		"kube-proxy/filter-prerouting-pre-dnat 3 98 jump firewall-check", "kube-proxy/firewall-check 3 0 continue",
		"kube-proxy/filter-prerouting-pre-dnat 3 0 continue", "kube-proxy/filter-prerouting-pre-dnat 1 0 accept",
		"kube-proxy/nat-prerouting 3 109 jump services", "kube-proxy/services 3 0 continue", "kube-proxy/nat-prerouting 3 0 continue",
		"kube-proxy/nat-prerouting 1 0 accept",
		"nat/PREROUTING 3 4 jump ZZZ-FIRST", "nat/ZZZ-FIRST 3 5 jump AAA-DNAT", "nat/AAA-DNAT 3 6 accept",
		"kube-proxy/filter-input 3 93 jump nodeport-endpoints-check", "kube-proxy/nodeport-endpoints-check 3 0 continue",
		"kube-proxy/filter-input 3 94 jump service-endpoints-check", "kube-proxy/service-endpoints-check 3 0 continue",
		"kube-proxy/filter-input 3 0 continue", "kube-proxy/filter-input 1 0 accept", "filter/INPUT 3 2 accept",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if e := evs[21]; e.ID == evs[0].ID || e.Chain != "output" || e.packet() == nil || !isSYNACK(e.packet()) {
		t.Errorf("the SYN-ACK: %+v", e)
	}

	// Cut into visits: the SYN's (the lab's rules only, the ends of
	// chains and accepting policies dropped) and the SYN-ACK's.
	vs := groupVisits(evs)
	if len(vs) != 2 {
		t.Fatalf("%d visits", len(vs))
	}
	got = nil
	for _, s := range vs[0].steps {
		got = append(got, evText(s.ev))
	}
	want = []string{"kube-proxy/filter-prerouting-pre-dnat 3 98 jump firewall-check", "kube-proxy/nat-prerouting 3 109 jump services",
		"nat/PREROUTING 3 4 jump ZZZ-FIRST", "nat/ZZZ-FIRST 3 5 jump AAA-DNAT", "nat/AAA-DNAT 3 6 accept",
		"kube-proxy/filter-input 3 93 jump nodeport-endpoints-check", "kube-proxy/filter-input 3 94 jump service-endpoints-check",
		"filter/INPUT 3 2 accept"}
	if !slices.Equal(got, want) {
		t.Errorf("the SYN's visit\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// The DNAT shows in the headers of the next base chain.
	if last := vs[0].steps[len(vs[0].steps)-1]; last.pkt.Dst != ap("10.77.9.9:8080") || vs[0].entry.Dst != ap("10.96.0.10:80") {
		t.Errorf("packet at filter/INPUT %v, entered as %v", last.pkt.Dst, vs[0].entry.Dst)
	}
}

// TestTraceTableBatch: the batch netlab sends to create its table parses
// back as netlink messages with the attributes nf_tables expects.
func TestTraceTableBatch(t *testing.T) {
	s := &traceSocket{}
	msgs := s.createTable([]uint8{unix.IPPROTO_TCP, unix.IPPROTO_ICMP}, nftTableFOwner)
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
	}
	parsed, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	var types []uint16
	for _, m := range parsed {
		types = append(types, m.Header.Type&0xff)
		if m.Header.Flags&unix.NLM_F_ACK == 0 || m.Data[0] != nfprotoIPv4 {
			t.Errorf("message %d: flags %x family %d", m.Header.Seq, m.Header.Flags, m.Data[0])
		}
	}
	want := []uint16{unix.NFT_MSG_NEWTABLE, unix.NFT_MSG_DELTABLE, unix.NFT_MSG_NEWTABLE, unix.NFT_MSG_NEWCHAIN, unix.NFT_MSG_NEWRULE, unix.NFT_MSG_NEWRULE,
		unix.NFT_MSG_NEWCHAIN, unix.NFT_MSG_NEWRULE, unix.NFT_MSG_NEWRULE}
	if !slices.Equal(types, want) {
		t.Fatalf("message types %v, want %v", types, want)
	}
	// The prerouting chain: hook 0 at priority -350.
	attrs, err := nl.ParseRouteAttr(parsed[3].Data[nl.SizeofNfgenmsg:])
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attrs {
		if a.Attr.Type&nlaTypeMask == unix.NFTA_CHAIN_HOOK {
			hook, _ := nl.ParseRouteAttr(a.Value)
			if len(hook) != 2 || be32(hook[0].Value) != unix.NF_INET_PRE_ROUTING || int32(be32(hook[1].Value)) != -350 {
				t.Errorf("hook %+v", hook)
			}
		}
	}
	// The owned table's flags.
	attrs, _ = nl.ParseRouteAttr(parsed[2].Data[nl.SizeofNfgenmsg:])
	if len(attrs) != 2 || cString(attrs[0].Value) != traceTableName || be32(attrs[1].Value) != nftTableFOwner {
		t.Errorf("table %+v", attrs)
	}
}

func TestParseNFTList(t *testing.T) {
	data, err := os.ReadFile("testdata/nft-kube-proxy.txt")
	if err != nil {
		t.Fatal(err)
	}
	tables := parseNFTList(string(data))
	if len(tables) != 1 || tables[0].family != "ip" || tables[0].name != "kube-proxy" {
		t.Fatalf("tables %+v", tables)
	}
	tb := tables[0]
	svc := tb.chains["services"]
	if svc == nil || !slices.Equal(svc.handles, []uint64{136, 137}) || svc.rules[136] != "ip daddr . meta l4proto . th dport vmap @service-ips" {
		t.Fatalf("services chain %+v", svc)
	}
	ep := tb.chains["endpoint-45JJE4DJ-demo/web-local/tcp/http__10.244.2.7/8080"]
	if ep == nil || len(ep.handles) != 2 || ep.rules[ep.handles[1]] != "meta l4proto tcp dnat to 10.244.2.7:8080" {
		t.Errorf("endpoint chain %+v", ep)
	}
	if es := tb.maps["service-ips"]; len(es) != 9 || es[0] != (nftElem{key: "10.96.0.10 . tcp . 53", value: "goto service-NWBZK7IH-kube-system/kube-dns/tcp/dns-tcp"}) {
		t.Errorf("service-ips %+v", es)
	}
	// An element's comment is not part of its key.
	if es := tb.maps["no-endpoint-nodeports"]; len(es) != 1 || es[0] != (nftElem{key: "tcp . 30081", value: "drop", comment: "demo/web-remote-only:http"}) {
		t.Errorf("no-endpoint-nodeports %+v", es)
	}

	// The element that decided: by its value, and by the packet's key
	// where two elements give the same verdict.
	syn := &packet{Proto: "tcp", Src: ap("10.244.0.5:40000"), Dst: ap("10.96.10.10:80")}
	if got := vmapElement(tb, svc.rules[136], "goto service-47YYNQ7I-demo/web-local/tcp/http", syn); got !=
		"element 10.96.10.10 . tcp . 80 : goto service-47YYNQ7I-demo/web-local/tcp/http in map service-ips" {
		t.Errorf("service-ips element %q", got)
	}
	tb.maps["service-ips"] = append(tb.maps["service-ips"], nftElem{key: "10.96.10.99 . tcp . 80", value: "goto service-47YYNQ7I-demo/web-local/tcp/http"})
	for _, dst := range []string{"10.96.10.10:80", "10.96.10.99:80"} {
		syn.Dst = ap(dst)
		want := "element " + strings.ReplaceAll(dst, ":", " . tcp . ") + " : goto service-47YYNQ7I-demo/web-local/tcp/http in map service-ips"
		if got := vmapElement(tb, svc.rules[136], "goto service-47YYNQ7I-demo/web-local/tcp/http", syn); got != want {
			t.Errorf("two elements, packet to %s: %q", dst, got)
		}
	}
	local := tb.chains["service-47YYNQ7I-demo/web-local/tcp/http"]
	if got := vmapElement(tb, local.rules[117], "goto endpoint-45JJE4DJ-demo/web-local/tcp/http__10.244.2.7/8080", syn); got !=
		"element 1 : goto endpoint-45JJE4DJ-demo/web-local/tcp/http__10.244.2.7/8080 in the rule's anonymous map" {
		t.Errorf("numgen element %q", got)
	}
	if got := vmapElement(tb, ep.rules[ep.handles[1]], "accept", syn); got != "" {
		t.Errorf("a rule without a vmap: %q", got)
	}
}

func TestNFTTarget(t *testing.T) {
	for _, tc := range []struct{ rule, verdict, want string }{
		{"ip daddr . meta l4proto . th dport vmap @service-ips", "goto service-X", "service-X"},
		{"ip saddr 10.244.2.7 jump mark-for-masquerade", "jump mark-for-masquerade", "mark-for-masquerade"},
		{"meta l4proto tcp dnat to 10.244.2.7:8080", "accept", "DNAT"},
		{"masquerade fully-random", "accept", "MASQUERADE"},
		{"meta mark set meta mark | 0x00004000", "continue", "MARK"},
		{"ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"", "drop", "REJECT"},
		{"reject", "drop", "REJECT"},
		{"ip daddr . meta l4proto . th dport vmap @no-endpoint-services", "drop", "DROP"},
		{"policy drop", "drop", "DROP"},
		{"meta mark & 0x00004000 == 0x00000000 return", "return", ""},
	} {
		if got := nftTarget(tc.rule, tc.verdict); got != tc.want {
			t.Errorf("%q (%s): %q, want %q", tc.rule, tc.verdict, got, tc.want)
		}
	}
}

func TestParseSaveRules(t *testing.T) {
	save := `# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
:AAA-DNAT - [0:0]
:EMPTY - [0:0]
:ZZZ-FIRST - [0:0]
[1:60] -A PREROUTING -p tcp -j ZZZ-FIRST
-A AAA-DNAT -p tcp -j DNAT --to-destination 10.77.9.9:8080
-A ZZZ-FIRST -d 10.96.0.10/32 -j AAA-DNAT
-A ZZZ-FIRST -j RETURN
COMMIT
`
	r := parseSaveRules(save)
	if got := r["nat"]["ZZZ-FIRST"]; !slices.Equal(got, []string{"-A ZZZ-FIRST -d 10.96.0.10/32 -j AAA-DNAT", "-A ZZZ-FIRST -j RETURN"}) {
		t.Errorf("ZZZ-FIRST %q", got)
	}
	if got := r["nat"]["PREROUTING"]; !slices.Equal(got, []string{"-A PREROUTING -p tcp -j ZZZ-FIRST"}) {
		t.Errorf("PREROUTING (with counters) %q", got)
	}
	if got, ok := r["nat"]["EMPTY"]; !ok || len(got) != 0 {
		t.Errorf("an empty chain: %q %v", got, ok)
	}
}
