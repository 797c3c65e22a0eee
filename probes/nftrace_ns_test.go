package probes

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/daemon/wire"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
)

// The tests here build their own namespaces, named trc-<pid>-<test>-<x>,
// and delete them (only them) when they end.

// twoNS is a client namespace (10.77.0.1, routing 10.96.0.0/16 to the
// router) and a router (10.77.0.2, with 10.77.9.9 on lo) where a server
// answers on 10.77.9.9:8080 as netlab's daemon does.
type twoNS struct {
	client, router string
	wiring         *plan.Wiring
}

func newTwoNS(t *testing.T, tag string) *twoNS {
	t.Helper()
	testenv.RequireFeatures(t, kernel.Iptables, kernel.Nftables, kernel.Conntrack)
	base := "trc-" + strconv.FormatUint(uint64(os.Getpid()), 36) + "-" + tag
	n := &twoNS{client: base + "-c", router: base + "-r"}
	for _, ns := range []string{n.client, n.router} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	}
	run(t, "ip", "-n", n.client, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", n.router)
	run(t, "ip", "-n", n.client, "addr", "add", "10.77.0.1/24", "dev", "eth0")
	run(t, "ip", "-n", n.router, "addr", "add", "10.77.0.2/24", "dev", "eth0")
	run(t, "ip", "-n", n.router, "addr", "add", "10.77.9.9/32", "dev", "lo")
	for _, ns := range []string{n.client, n.router} {
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	}
	run(t, "ip", "-n", n.client, "route", "add", "10.96.0.0/16", "via", "10.77.0.2")
	n.wiring = &plan.Wiring{Lab: base, Namespaces: []plan.WiredNamespace{
		{Name: n.client, Owner: "client", Links: []plan.Link{{Name: "eth0", Peer: &plan.Peer{Namespace: n.router, Name: "eth0"}}}},
		{Name: n.router, Owner: "router", IPTables: true},
	}}
	serve(t, n.router, "10.77.9.9:8080")
	return n
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func runIn(t *testing.T, ns, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(args, " "), ns, err, out)
	}
}

// serve answers probes on addr in ns as the lab daemon does.
func serve(t *testing.T, ns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := netns.Do(ns, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = bufio.NewReader(c).ReadString('\n')
				a, _ := json.Marshal(wire.Answer{Pod: "server", Client: c.RemoteAddr().String(), Local: c.LocalAddr().String()})
				_, _ = c.Write(append(a, '\n'))
			}()
		}
	}()
}

// traceIn fires one TCP probe from src to target and explains it as
// probes.Run does for netlab trace, on a wiring of its own (no lab).
func traceIn(t *testing.T, w *plan.Wiring, src string, target netip.AddrPort) *Result {
	t.Helper()
	c, err := openCapture(w.Names())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	tr := &Tracer{applied: w, wires: newWiring(w), cap: c, decide: true}
	obs := tr.start(true, "tcp")
	defer stop(obs)
	local, ans, err := dial(src, target, sockOpts{}, DefaultTimeout)
	r := &Result{Target: target.String(), Protocol: "tcp", Result: classify(err, ans), Conntrack: map[string][]Flow{}, Hops: []Hop{}}
	var seen [2]netip.AddrPort
	if ans != nil {
		seen[0], _ = netip.ParseAddrPort(ans.Client)
		seen[1], _ = netip.ParseAddrPort(ans.Local)
	}
	if !local.IsValid() {
		t.Fatalf("probe to %s: %v", target, err)
	}
	tr.explain(r, src, "tcp", local, seen, obs)
	return r
}

// short is a decision as the tests compare them: packet, kind, table,
// chain, and the rule's iptables target or nft text.
func short(d Decision) string {
	rule := d.Rule
	if d.Kind == DecisionIPTables {
		rule = "-j " + d.target()
	}
	s := fmt.Sprintf("%s %s %s/%s %s", d.Packet, d.Kind, d.Table, d.Chain, rule)
	if d.Element != "" {
		s += " [" + d.Element + "]"
	}
	return s
}

func shorts(ds []Decision, packet string) []string {
	var out []string
	for _, d := range ds {
		if packet == "" || d.Packet == packet {
			out = append(out, short(d))
		}
	}
	return out
}

// TestTraceOrderIPTables: iptables-nft rules through user chains whose
// names sort the other way round (nat PREROUTING -> ZZZ-FIRST -> MMM-MARK,
// then ZZZ-FIRST -> AAA-DNAT): the trace names them in the order the SYN
// met them, raw before nat before filter, each rule as iptables-save
// prints it; the counters, which cannot know the order, list AAA-DNAT
// first.
func TestTraceOrderIPTables(t *testing.T) {
	n := newTwoNS(t, "ord")
	runIn(t, n.router, `*raw
:PREROUTING ACCEPT [0:0]
:ZZ-RAW - [0:0]
-A PREROUTING -p tcp --dport 80 -j ZZ-RAW
-A ZZ-RAW -p tcp -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:ZZZ-FIRST - [0:0]
:MMM-MARK - [0:0]
:AAA-DNAT - [0:0]
-A PREROUTING -p tcp -j ZZZ-FIRST
-A ZZZ-FIRST -d 10.96.0.10/32 -p tcp --dport 80 -j MMM-MARK
-A ZZZ-FIRST -d 10.96.0.10/32 -p tcp --dport 80 -j AAA-DNAT
-A MMM-MARK -j MARK --set-xmark 0x4000/0x4000
-A AAA-DNAT -p tcp -j DNAT --to-destination 10.77.9.9:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:BBB-IN - [0:0]
-A INPUT -p tcp --dport 8080 -j BBB-IN
-A BBB-IN -m conntrack --ctstate NEW -j ACCEPT
-A BBB-IN -m conntrack --ctstate ESTABLISHED -j ACCEPT
COMMIT
`, "iptables-restore")
	r := traceIn(t, n.wiring, n.client, ap("10.96.0.10:80"))
	if r.Result != "connected" {
		t.Fatalf("result %s (%s)", r.Result, r.Error)
	}
	want := []string{
		"request iptables raw/PREROUTING -j ZZ-RAW",
		"request iptables raw/ZZ-RAW -j RETURN",
		"request iptables nat/PREROUTING -j ZZZ-FIRST",
		"request iptables nat/ZZZ-FIRST -j MMM-MARK",
		"request iptables nat/MMM-MARK -j MARK",
		"request iptables nat/ZZZ-FIRST -j AAA-DNAT",
		"request iptables nat/AAA-DNAT -j DNAT",
		"request iptables filter/INPUT -j BBB-IN",
		"request iptables filter/BBB-IN -j ACCEPT",
	}
	if got := shorts(r.Decisions, PacketRequest); !slices.Equal(got, want) {
		t.Errorf("the SYN's rules\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// The rule text is iptables-save's, found by the rule's position.
	for _, d := range r.Decisions {
		if d.Chain == "AAA-DNAT" && d.Rule != "-A AAA-DNAT -p tcp -j DNAT --to-destination 10.77.9.9:8080" {
			t.Errorf("DNAT rule %q", d.Rule)
		}
		if d.Chain == "ZZZ-FIRST" && d.Verdict == "jump MMM-MARK" && !strings.HasSuffix(d.Rule, "-j MMM-MARK") {
			t.Errorf("ZZZ-FIRST's first rule %q", d.Rule)
		}
	}
	// Later packets (the ACKs) met the ESTABLISHED rule, which the SYN
	// did not; the rules both met are not listed twice.
	if got := shorts(r.Decisions, PacketLater); !slices.Equal(got, []string{"later iptables filter/BBB-IN -j ACCEPT"}) {
		t.Errorf("later packets' rules %q", got)
	}
	if got := shorts(r.Decisions, PacketReply); len(got) != 0 {
		t.Errorf("the SYN-ACK met no rule of the router (it has no OUTPUT rules): %q", got)
	}
	for _, d := range r.Decisions {
		if d.Chain == "INPUT" && d.Packets < 3 {
			t.Errorf("filter INPUT saw %d of the flow's packets; the SYN, the ACK and the hello at least", d.Packets)
		}
	}
	if len(r.Observed) != 1 || r.Observed[0].Method != MethodNFTrace || r.Observed[0].Owner != "router" {
		t.Errorf("observed %+v", r.Observed)
	}
	if len(r.Rewrites) != 0 {
		t.Errorf("rewrites %+v", r.Rewrites)
	}
	assertNoTraceTable(t, n.router)

	// The counters (tracing turned off) see the same rules, but in
	// iptables-save's order: user chains alphabetically.
	t.Setenv("NETLAB_NFTRACE", "0")
	r = traceIn(t, n.wiring, n.client, ap("10.96.0.10:80"))
	var nat []string
	for _, d := range r.Decisions {
		if d.Table == "nat" {
			nat = append(nat, d.Chain)
		}
	}
	if want := []string{"PREROUTING", "AAA-DNAT", "MMM-MARK", "ZZZ-FIRST", "ZZZ-FIRST"}; !slices.Equal(nat, want) {
		t.Errorf("counters: nat chains %q, want %q", nat, want)
	}
	if len(r.Observed) != 1 || r.Observed[0].Method != MethodCounters || !strings.Contains(r.Observed[0].Reason, "by NETLAB_NFTRACE=0") {
		t.Errorf("observed with tracing off %+v", r.Observed)
	}

	// Another trace holding the namespace's table: counters, and why.
	t.Setenv("NETLAB_NFTRACE", "")
	other, err := openTrace(n.router, []uint8{6})
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	r = traceIn(t, n.wiring, n.client, ap("10.96.0.10:80"))
	if len(r.Observed) != 1 || r.Observed[0].Method != MethodCounters || !strings.Contains(r.Observed[0].Reason, "another trace holds") || len(r.Decisions) == 0 {
		t.Errorf("observed beside another trace %+v, %d decisions", r.Observed, len(r.Decisions))
	}
}

// TestTraceNFTablesVmap: a table shaped like kube-proxy's nftables mode
// (a service-ips verdict map keyed by ip daddr . meta l4proto . th dport,
// a service chain picking an endpoint chain by numgen, the endpoint
// chain's DNAT) beside the CNI's iptables-nft rules: the trace names the
// map element that matched (of two that jump to the same chain) and every
// rule in order; a Service without endpoints is rejected by the rule the
// no-endpoint-services element sent it to.
func TestTraceNFTablesVmap(t *testing.T) {
	n := newTwoNS(t, "vmap")
	n.wiring.Namespaces[1].NFTables = true
	// Service addresses are routed (back out of eth0), so a Service
	// without endpoints is forwarded, and its forward chain rejects it.
	run(t, "ip", "-n", n.router, "route", "add", "10.96.0.0/16", "via", "10.77.0.1")
	// No redirects back to the client: they would spend the ICMP rate
	// limit the reject's port unreachable needs.
	runIn(t, n.router, "", "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0")
	runIn(t, n.router, `*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp --dport 8080 -j ACCEPT
COMMIT
`, "iptables-restore")
	const (
		svc = "service-AAAAAAAA-demo/web/tcp/http"
		ep  = "endpoint-BBBBBBBB-demo/web/tcp/http__10.77.9.9/8080"
	)
	runIn(t, n.router, `add table ip kube-proxy
add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }
add chain ip kube-proxy services
add chain ip kube-proxy service-endpoints-check
add chain ip kube-proxy reject-chain
add chain ip kube-proxy mark-for-masquerade
add chain ip kube-proxy `+svc+`
add chain ip kube-proxy `+ep+`
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; }
add rule ip kube-proxy nat-prerouting jump services
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
add rule ip kube-proxy reject-chain reject
add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
add rule ip kube-proxy `+svc+` ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
add rule ip kube-proxy `+svc+` numgen random mod 1 vmap { 0 : goto `+ep+` }
add rule ip kube-proxy `+ep+` ip saddr 10.77.9.9 jump mark-for-masquerade
add rule ip kube-proxy `+ep+` meta l4proto tcp dnat to 10.77.9.9:8080
add element ip kube-proxy service-ips { 10.96.0.11 . tcp . 80 : goto `+svc+` }
add element ip kube-proxy service-ips { 10.96.0.10 . tcp . 80 : goto `+svc+` }
add element ip kube-proxy no-endpoint-services { 10.96.0.30 . tcp . 80 comment "demo/empty" : goto reject-chain }
add element ip kube-proxy no-endpoint-services { 10.96.0.31 . tcp . 80 : goto reject-chain }
`, "nft", "-f", "-")

	r := traceIn(t, n.wiring, n.client, ap("10.96.0.10:80"))
	if r.Result != "connected" {
		t.Fatalf("result %s (%s)", r.Result, r.Error)
	}
	want := []string{
		"request nftables kube-proxy/nat-prerouting jump services",
		"request nftables kube-proxy/services ip daddr . meta l4proto . th dport vmap @service-ips [element 10.96.0.10 . tcp . 80 : goto " + svc + " in map service-ips]",
		"request nftables kube-proxy/" + svc + " ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
		"request nftables kube-proxy/mark-for-masquerade meta mark set meta mark | 0x00004000",
		"request nftables kube-proxy/" + svc + " numgen random mod 1 vmap { 0 : goto " + ep + " } [element 0 : goto " + ep + " in the rule's anonymous map]",
		"request nftables kube-proxy/" + ep + " meta l4proto tcp dnat to 10.77.9.9:8080",
		"request iptables filter/INPUT -j ACCEPT",
	}
	if got := shorts(r.Decisions, PacketRequest); !slices.Equal(got, want) {
		t.Errorf("the SYN's rules\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, d := range r.Decisions {
		if d.Kind == DecisionNFTables && (d.Family != "ip" || d.Owner != "router") {
			t.Errorf("decision %+v", d)
		}
		if strings.Contains(d.Rule, "dnat to") && (d.Verdict != "accept" || d.target() != "DNAT") {
			t.Errorf("the DNAT rule: verdict %q target %q", d.Verdict, d.target())
		}
	}

	// No endpoints: the forward chain's check sends it to reject-chain,
	// whose reject answers with an ICMP port unreachable.
	r = traceIn(t, n.wiring, n.client, ap("10.96.0.30:80"))
	want = []string{
		"request nftables kube-proxy/nat-prerouting jump services",
		"request nftables kube-proxy/filter-forward ct state new jump service-endpoints-check",
		"request nftables kube-proxy/service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services [element 10.96.0.30 . tcp . 80 comment \"demo/empty\" : goto reject-chain in map no-endpoint-services]",
		"request nftables kube-proxy/reject-chain reject",
	}
	if got := shorts(r.Decisions, PacketRequest); r.Result != "refused" || !slices.Equal(got, want) {
		t.Errorf("no endpoints: %s, the SYN's rules\n  %s\nwant\n  %s", r.Result, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if d := r.Verdict.DecidedBy; d == nil || d.Kind != DecisionNFTables || d.Chain != "reject-chain" || !strings.Contains(r.Verdict.Summary, "nftables ip kube-proxy/reject-chain: reject") {
		t.Errorf("verdict %+v", r.Verdict)
	}
	assertNoTraceTable(t, n.router)
}

// TestRuleHandlesMatchIPTablesSave holds the mapping the trace relies on:
// the n-th handle of an iptables-nft chain (nf_tables' rule dump) is the
// n-th -A line of that chain in iptables-save, as nft -a lists it too.
func TestRuleHandlesMatchIPTablesSave(t *testing.T) {
	n := newTwoNS(t, "map")
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n")
	chains := []string{"ZZ", "MM", "AA"}
	for _, c := range chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for i := 0; i < 12; i++ {
		c := chains[i%3]
		fmt.Fprintf(&b, "-A %s -p tcp --dport %d -m comment --comment rule-%s-%d -j ACCEPT\n", c, 1000+i, c, i)
		fmt.Fprintf(&b, "-A INPUT -p udp --dport %d -j %s\n", 2000+i, c)
	}
	b.WriteString("COMMIT\n")
	runIn(t, n.router, b.String(), "iptables-restore")
	// Insert at the head, so handles no longer grow with position.
	runIn(t, n.router, "", "iptables", "-I", "MM", "1", "-p", "tcp", "--dport", "999", "-m", "comment", "--comment", "rule-MM-first", "-j", "ACCEPT")
	save, err := netns.Output(n.router, "iptables-save")
	if err != nil {
		t.Fatal(err)
	}
	rules := parseSaveRules(save)["filter"]
	handles := map[string][]uint64{}
	if err := netns.Do(n.router, func() error {
		for _, c := range append(chains, "INPUT") {
			h, err := ruleHandles("filter", c)
			if err != nil {
				return err
			}
			handles[c] = h
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(chains, "INPUT") {
		listing, err := netns.Output(n.router, "nft", "-a", "list", "chain", "ip", "filter", c)
		if err != nil {
			t.Fatal(err)
		}
		tables := parseNFTList(listing)
		if len(tables) != 1 || tables[0].chains[c] == nil {
			t.Fatalf("nft -a list chain ip filter %s:\n%s", c, listing)
		}
		ch := tables[0].chains[c]
		if !slices.Equal(ch.handles, handles[c]) || len(rules[c]) != len(ch.handles) {
			t.Fatalf("chain %s: nft lists handles %v, the dump %v, iptables-save %d rules", c, ch.handles, handles[c], len(rules[c]))
		}
		for i, h := range ch.handles {
			// Each rule's own port, in both texts (nft does not print
			// iptables' comments).
			f := strings.Fields(rules[c][i])
			mark := "dport " + f[slices.Index(f, "--dport")+1] + " "
			if !strings.Contains(ch.rules[h], mark) {
				t.Errorf("chain %s rule %d (handle %d): nft %q, iptables-save %q", c, i, h, ch.rules[h], rules[c][i])
			}
		}
	}
	if first := rules["MM"][0]; !strings.Contains(first, "rule-MM-first") {
		t.Errorf("the inserted rule is not MM's first: %q", first)
	}
}

// assertNoTraceTable: netlab's table is gone once the probe is explained
// (the kernel removes an owned table as its socket closes, maybe a moment
// later).
func assertNoTraceTable(t *testing.T, ns string) {
	t.Helper()
	for i := 0; ; i++ {
		out, err := netns.Output(ns, "nft", "list", "tables")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, traceTableName) {
			return
		}
		if i == 50 {
			t.Fatalf("the trace table is left in %s:\n%s", ns, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTraceFallback: where the trace subscription cannot be made (here a
// namespace that is gone), the observer falls back to the counters and
// says why, without failing the probe's other observers.
func TestTraceFallback(t *testing.T) {
	testenv.RequireRoot(t)
	gone := "trc-" + strconv.FormatUint(uint64(os.Getpid()), 36) + "-gone"
	w := &plan.Wiring{Namespaces: []plan.WiredNamespace{{Name: gone, Owner: "node-1", IPTables: true}}}
	o := newRulesObserver(w, "tcp")
	if err := o.before(); err != nil {
		t.Fatalf("before: %v", err)
	}
	ds, notes := o.after(&flowView{onPath: map[string]bool{gone: true}})
	if len(ds) != 0 || len(notes) != 1 || notes[0].Method != MethodCounters || !strings.Contains(notes[0].Reason, "nftables trace in "+gone) ||
		!strings.Contains(notes[0].Reason, "iptables-save -c failed") {
		t.Errorf("decisions %v, notes %+v", ds, notes)
	}
}
