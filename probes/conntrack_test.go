package probes

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite probes/testdata/*.golden")

// The messages below are built attribute by attribute the way ctnetlink
// lays them out (nfgenmsg, then nested tuples), so the parser meets the
// same bytes as from the kernel.

func ctMsg(attrs ...*nl.RtAttr) []byte {
	b := (&nl.Nfgenmsg{NfgenFamily: unix.AF_INET, Version: nl.NFNETLINK_V0}).Serialize()
	for _, a := range attrs {
		b = append(b, a.Serialize()...)
	}
	return b
}

// tupleAttr is a CTA_TUPLE_ORIG or _REPLY; l4 are CTA_TUPLE_PROTO's
// attributes after CTA_PROTO_NUM.
func tupleAttr(typ int, proto uint8, src, dst string, l4 ...*nl.RtAttr) *nl.RtAttr {
	t := nl.NewRtAttr(unix.NLA_F_NESTED|typ, nil)
	ip := t.AddRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_IP, nil)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	ip.AddRtAttr(nl.CTA_IP_V4_SRC, s[:])
	ip.AddRtAttr(nl.CTA_IP_V4_DST, d[:])
	p := t.AddRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_PROTO, nil)
	p.AddRtAttr(nl.CTA_PROTO_NUM, []byte{proto})
	for _, a := range l4 {
		p.AddChild(a)
	}
	return t
}

func ports(sport, dport uint16) []*nl.RtAttr {
	return []*nl.RtAttr{
		nl.NewRtAttr(nl.CTA_PROTO_SRC_PORT, binary.BigEndian.AppendUint16(nil, sport)),
		nl.NewRtAttr(nl.CTA_PROTO_DST_PORT, binary.BigEndian.AppendUint16(nil, dport)),
	}
}

func icmp(typ, code uint8, id uint16) []*nl.RtAttr {
	return []*nl.RtAttr{
		nl.NewRtAttr(ctaProtoICMPID, binary.BigEndian.AppendUint16(nil, id)),
		nl.NewRtAttr(ctaProtoICMPType, []byte{typ}),
		nl.NewRtAttr(ctaProtoICMPCode, []byte{code}),
	}
}

func u32Attr(typ int, v uint32) *nl.RtAttr {
	return nl.NewRtAttr(typ, binary.BigEndian.AppendUint32(nil, v))
}

func countersAttr(typ int, packets, bytes uint64) *nl.RtAttr {
	a := nl.NewRtAttr(unix.NLA_F_NESTED|typ, nil)
	a.AddRtAttr(nl.CTA_COUNTERS_PACKETS, binary.BigEndian.AppendUint64(nil, packets))
	a.AddRtAttr(nl.CTA_COUNTERS_BYTES, binary.BigEndian.AppendUint64(nil, bytes))
	return a
}

func tcpStateAttr(state uint8) *nl.RtAttr {
	a := nl.NewRtAttr(unix.NLA_F_NESTED|nl.CTA_PROTOINFO, nil)
	tcp := a.AddRtAttr(unix.NLA_F_NESTED|nl.CTA_PROTOINFO_TCP, nil)
	tcp.AddRtAttr(nl.CTA_PROTOINFO_TCP_STATE, []byte{state})
	tcp.AddRtAttr(nl.CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, []byte{7})
	return a
}

const (
	stSeenReplyAssured = 1<<1 | 1<<2 | 1<<3 // SEEN_REPLY, ASSURED, CONFIRMED
	stDNAT             = 1<<5 | 1<<8        // DST_NAT, DST_NAT_DONE
	stConfirmed        = 1 << 3
)

// A pod's connection to a ClusterIP (port 80, targetPort 8080) on its
// node, as TIME_WAIT after the probe; with accounting on (packets and
// bytes).
func tcpServiceMsg() []byte {
	return ctMsg(
		tupleAttr(nl.CTA_TUPLE_ORIG, unix.IPPROTO_TCP, "10.244.0.2", "10.96.0.10", ports(46058, 80)...),
		tupleAttr(nl.CTA_TUPLE_REPLY, unix.IPPROTO_TCP, "10.244.1.2", "10.244.0.2", ports(8080, 46058)...),
		u32Attr(nl.CTA_STATUS, stSeenReplyAssured|stDNAT),
		u32Attr(nl.CTA_TIMEOUT, 119),
		u32Attr(nl.CTA_MARK, 16384),
		countersAttr(nl.CTA_COUNTERS_ORIG, 6, 404),
		countersAttr(nl.CTA_COUNTERS_REPLY, 0, 0),
		tcpStateAttr(7),
		u32Attr(nl.CTA_USE, 1),
		u32Attr(nl.CTA_ID, 2666575204),
	)
}

// The IGMP report a bridge sends when it comes up: a protocol without
// ports, never answered.
func igmpMsg() []byte {
	return ctMsg(
		tupleAttr(nl.CTA_TUPLE_ORIG, unix.IPPROTO_IGMP, "10.244.0.1", "224.0.0.22"),
		tupleAttr(nl.CTA_TUPLE_REPLY, unix.IPPROTO_IGMP, "224.0.0.22", "10.244.0.1"),
		u32Attr(nl.CTA_STATUS, stConfirmed),
		u32Attr(nl.CTA_TIMEOUT, 576),
		u32Attr(nl.CTA_MARK, 0),
		u32Attr(nl.CTA_USE, 1),
		u32Attr(nl.CTA_ID, 7),
	)
}

func icmpMsg() []byte {
	sec := nl.NewRtAttr(unix.NLA_F_NESTED|ctaSecctx, nil)
	sec.AddRtAttr(ctaSecctxName, []byte("system_u:object_r:unlabeled_t:s0\x00"))
	return ctMsg(
		tupleAttr(nl.CTA_TUPLE_ORIG, unix.IPPROTO_ICMP, "10.244.0.2", "10.244.1.2", icmp(8, 0, 4711)...),
		tupleAttr(nl.CTA_TUPLE_REPLY, unix.IPPROTO_ICMP, "10.244.1.2", "10.244.0.2", icmp(0, 0, 4711)...),
		u32Attr(nl.CTA_STATUS, stSeenReplyAssured),
		u32Attr(nl.CTA_TIMEOUT, 29),
		u32Attr(nl.CTA_MARK, 0),
		nl.NewRtAttr(nl.CTA_ZONE, []byte{0, 5}),
		sec,
		nl.NewRtAttr(nl.CTA_LABELS, append(make([]byte, 15), 0x01)),
		u32Attr(nl.CTA_USE, 1),
		u32Attr(nl.CTA_ID, 9),
	)
}

// A protocol this package has no name for, and a node -> pod flow that
// was masqueraded.
func otherMsgs() [][]byte {
	return [][]byte{
		ctMsg(
			tupleAttr(nl.CTA_TUPLE_ORIG, 253, "10.0.0.10", "10.0.0.11"),
			tupleAttr(nl.CTA_TUPLE_REPLY, 253, "10.0.0.11", "10.0.0.10"),
			u32Attr(nl.CTA_STATUS, stConfirmed), u32Attr(nl.CTA_TIMEOUT, 599), u32Attr(nl.CTA_USE, 1), u32Attr(nl.CTA_ID, 11),
		),
		ctMsg(
			tupleAttr(nl.CTA_TUPLE_ORIG, unix.IPPROTO_UDP, "10.0.0.10", "10.244.1.2", ports(40000, 53)...),
			tupleAttr(nl.CTA_TUPLE_REPLY, unix.IPPROTO_UDP, "10.244.1.2", "10.244.1.0", ports(53, 40000)...),
			u32Attr(nl.CTA_STATUS, stConfirmed|1<<4), u32Attr(nl.CTA_TIMEOUT, 30), u32Attr(nl.CTA_USE, 1), u32Attr(nl.CTA_ID, 12),
		),
	}
}

func mustParse(t *testing.T, m []byte) *ctEntry {
	t.Helper()
	e, err := parseEntry(m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParseEntryTCP(t *testing.T) {
	f := mustParse(t, tcpServiceMsg()).flow()
	six, b404, zero := uint64(6), uint64(404), uint64(0)
	want := Flow{
		Proto: "tcp", ProtoNum: 6, State: "TIME_WAIT", TimeoutSeconds: 119,
		Orig:   Tuple{Src: "10.244.0.2:46058", Dst: "10.96.0.10:80", Packets: &six, Bytes: &b404},
		Reply:  Tuple{Src: "10.244.1.2:8080", Dst: "10.244.0.2:46058", Packets: &zero, Bytes: &zero},
		Flags:  []string{"ASSURED"},
		Status: []string{"SEEN_REPLY", "ASSURED", "CONFIRMED", "DST_NAT", "DST_NAT_DONE"},
		Mark:   16384, Use: 1, ID: 2666575204, NAT: "dnat",
	}
	assertJSONEqual(t, f, want)
	// The line conntrack -L prints for this entry (with accounting on),
	// and netlab's NAT reading.
	line := "tcp 6 119 TIME_WAIT src=10.244.0.2 dst=10.96.0.10 sport=46058 dport=80 packets=6 bytes=404 " +
		"src=10.244.1.2 dst=10.244.0.2 sport=8080 dport=46058 packets=0 bytes=0 [ASSURED] mark=16384 use=1 (dnat)"
	if f.String() != line {
		t.Errorf("String:\n got %s\nwant %s", f.String(), line)
	}
}

func TestParseEntryWithoutPorts(t *testing.T) {
	f := mustParse(t, igmpMsg()).flow()
	want := Flow{
		Proto: "igmp", ProtoNum: 2, TimeoutSeconds: 576,
		Orig:  Tuple{Src: "10.244.0.1", Dst: "224.0.0.22"},
		Reply: Tuple{Src: "224.0.0.22", Dst: "10.244.0.1"},
		Flags: []string{"UNREPLIED"}, Status: []string{"CONFIRMED"}, Use: 1, ID: 7, NAT: "none",
	}
	assertJSONEqual(t, f, want)
	line := "igmp 2 576 src=10.244.0.1 dst=224.0.0.22 [UNREPLIED] src=224.0.0.22 dst=10.244.0.1 mark=0 use=1 (none)"
	if f.String() != line {
		t.Errorf("String:\n got %s\nwant %s", f.String(), line)
	}
	other := mustParse(t, otherMsgs()[0]).flow()
	if other.Proto != "253" || other.Orig.Src != "10.0.0.10" || other.Reply.Dst != "10.0.0.10" {
		t.Errorf("unnamed protocol: %+v", other)
	}
}

func TestParseEntryICMP(t *testing.T) {
	f := mustParse(t, icmpMsg()).flow()
	want := Flow{
		Proto: "icmp", ProtoNum: 1, TimeoutSeconds: 29,
		Orig:   Tuple{Src: "10.244.0.2", Dst: "10.244.1.2", ICMP: &ICMPKey{Type: 8, ID: 4711}},
		Reply:  Tuple{Src: "10.244.1.2", Dst: "10.244.0.2", ICMP: &ICMPKey{Type: 0, ID: 4711}},
		Flags:  []string{"ASSURED"},
		Status: []string{"SEEN_REPLY", "ASSURED", "CONFIRMED"},
		Zone:   5, Use: 1, ID: 9, SecCtx: "system_u:object_r:unlabeled_t:s0",
		Labels: "00000000000000000000000000000001", NAT: "none",
	}
	assertJSONEqual(t, f, want)
	line := "icmp 1 29 src=10.244.0.2 dst=10.244.1.2 type=8 code=0 id=4711 src=10.244.1.2 dst=10.244.0.2 type=0 code=0 id=4711 " +
		"[ASSURED] mark=0 secctx=system_u:object_r:unlabeled_t:s0 zone=5 use=1 (none)"
	if f.String() != line {
		t.Errorf("String:\n got %s\nwant %s", f.String(), line)
	}
}

// TestFlowJSONKeys: the JSON keys are camelCase, and counters absent
// (accounting off) are left out rather than shown as zero.
func TestFlowJSONKeys(t *testing.T) {
	b, _ := json.Marshal(mustParse(t, igmpMsg()).flow())
	for _, key := range []string{`"protoNum":2`, `"timeoutSeconds":576`, `"flags":["UNREPLIED"]`, `"mark":0`, `"use":1`, `"nat":"none"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	if strings.Contains(string(b), "packets") || strings.Contains(string(b), "icmp") {
		t.Errorf("JSON has fields the entry does not: %s", b)
	}
	b, _ = json.Marshal(mustParse(t, tcpServiceMsg()).flow())
	if !strings.Contains(string(b), `"reply":{"src":"10.244.1.2:8080","dst":"10.244.0.2:46058","packets":0,"bytes":0}`) {
		t.Errorf("zero reply counters must show: %s", b)
	}
}

func assertJSONEqual(t *testing.T, got, want Flow) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("flow\n got %s\nwant %s", g, w)
	}
}

func testEntries(t *testing.T) []*ctEntry {
	var es []*ctEntry
	for _, m := range append([][]byte{tcpServiceMsg(), igmpMsg(), icmpMsg()}, otherMsgs()...) {
		es = append(es, mustParse(t, m))
	}
	sortEntries(es)
	return es
}

func TestConntrackFilter(t *testing.T) {
	es := testEntries(t)
	ids := func(f ConntrackFilter) []uint32 {
		var out []uint32
		for _, e := range es {
			if f.match(e) {
				out = append(out, e.id)
			}
		}
		slices.Sort(out)
		return out
	}
	a := netip.MustParseAddr
	for _, c := range []struct {
		name string
		f    ConntrackFilter
		want []uint32
	}{
		{"no filter", ConntrackFilter{}, []uint32{7, 9, 11, 12, 2666575204}},
		{"original source", ConntrackFilter{Src: a("10.244.0.2")}, []uint32{9, 2666575204}},
		{"original destination: the ClusterIP", ConntrackFilter{Dst: a("10.96.0.10")}, []uint32{2666575204}},
		// The pod the ClusterIP was DNATed to is the reply's source, not
		// the original destination (conntrack -d reads the same way).
		{"the DNAT target is not the original destination", ConntrackFilter{Dst: a("10.244.1.2"), Proto: unix.IPPROTO_TCP}, nil},
		{"protocol", ConntrackFilter{Proto: unix.IPPROTO_IGMP}, []uint32{7}},
		{"destination port", ConntrackFilter{Port: 80}, []uint32{2666575204}},
		{"source port", ConntrackFilter{Port: 40000}, []uint32{12}},
		{"the DNAT target's port is a reply port, not matched", ConntrackFilter{Port: 8080}, nil},
		{"a port nobody has", ConntrackFilter{Port: 1}, nil},
		{"ICMP has no ports, its id is not one", ConntrackFilter{Port: 4711}, nil},
		{"all of them", ConntrackFilter{Src: a("10.244.0.2"), Dst: a("10.96.0.10"), Proto: unix.IPPROTO_TCP, Port: 46058}, []uint32{2666575204}},
		{"all but one", ConntrackFilter{Src: a("10.244.0.2"), Dst: a("10.96.0.10"), Proto: unix.IPPROTO_UDP}, nil},
	} {
		if got := ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: ids %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseConntrackFilter(t *testing.T) {
	f, err := ParseConntrackFilter("10.244.0.2", "10.96.0.10", "TCP", "80")
	if err != nil || f != (ConntrackFilter{Src: netip.MustParseAddr("10.244.0.2"), Dst: netip.MustParseAddr("10.96.0.10"), Proto: 6, Port: 80}) {
		t.Errorf("good flags: %+v %v", f, err)
	}
	if f, err := ParseConntrackFilter("", "", "132", ""); err != nil || f.Proto != unix.IPPROTO_SCTP {
		t.Errorf("protocol by number: %+v %v", f, err)
	}
	if f, err := ParseConntrackFilter("", "", "", ""); err != nil || f != (ConntrackFilter{}) {
		t.Errorf("no flags: %+v %v", f, err)
	}
	for _, c := range []struct{ src, dst, proto, port, want string }{
		{"10.0.0.300", "", "", "", `--src "10.0.0.300": not an IPv4 address`},
		{"", "fe80::1", "", "", `--dst "fe80::1": not an IPv4 address`},
		{"", "", "tcpp", "", `--proto "tcpp": unknown protocol (use icmp, igmp, ipip, tcp, udp,`},
		{"", "", "0", "", `--proto "0": unknown protocol`},
		{"", "", "256", "", `--proto "256": unknown protocol`},
		{"", "", "", "0", `--port "0": not a port (use 1-65535)`},
		{"", "", "", "65536", `--port "65536": not a port (use 1-65535)`},
		{"", "", "", "http", `--port "http": not a port`},
		{"", "", "igmp", "80", `--port 80: igmp has no ports (only tcp, udp, dccp, sctp, udplite do)`},
	} {
		_, err := ParseConntrackFilter(c.src, c.dst, c.proto, c.port)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c, err, c.want)
		}
	}
}

// TestSortEntries: by original source and destination as addresses
// (10.96.0.10 before 10.244.1.2, which a string sort would swap), then
// protocol and ports.
func TestSortEntries(t *testing.T) {
	var got []string
	for _, e := range testEntries(t) {
		got = append(got, e.flow().Orig.Src+">"+e.flow().Orig.Dst)
	}
	want := []string{"10.0.0.10>10.0.0.11", "10.0.0.10:40000>10.244.1.2:53", "10.244.0.1>224.0.0.22", "10.244.0.2:46058>10.96.0.10:80", "10.244.0.2>10.244.1.2"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestWriteConntrackGolden(t *testing.T) {
	flows := map[string][]Flow{}
	for _, e := range testEntries(t) {
		node := "node-1"
		if e.proto == unix.IPPROTO_UDP || e.proto == 253 {
			node = "node-2"
		}
		flows[node] = append(flows[node], e.flow())
	}
	// Without the ICMP entry no row has a zone, security context or
	// label, and those columns are left out.
	plain := map[string][]Flow{"node-1": slices.DeleteFunc(slices.Clone(flows["node-1"]), func(f Flow) bool { return f.Proto == "icmp" }), "node-2": flows["node-2"]}
	for golden, fl := range map[string]map[string][]Flow{"conntrack.golden": plain, "conntrack-extra.golden": flows} {
		var b bytes.Buffer
		if err := WriteConntrack(&b, []string{"node-1", "node-2", "node-3"}, fl); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", golden)
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./probes -run TestWriteConntrackGolden -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs (run go test ./probes -run TestWriteConntrackGolden -update and review the diff):\n%s", golden, b.String())
		}
	}
}
