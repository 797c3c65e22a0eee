package dataplane

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/plan"
)

// testNode is a node namespace with a pod bridge, an uplink and a default
// route, for the dataplane reading's own tests.
func testNode() *plan.Namespace {
	return &plan.Namespace{
		Name: "t-node", Role: plan.RoleNode, Owner: "node",
		Links: []plan.Link{{Name: "eth0", Kind: plan.KindVeth}, {Name: "cni0", Kind: plan.KindBridge}},
		Addrs: []plan.Addr{{Dev: "eth0", CIDR: "10.0.0.10/16"}, {Dev: "cni0", CIDR: "10.244.0.1/24"}},
		Routes: []plan.Route{
			{Dst: "default", Gw: "10.0.255.253", Dev: "eth0"},
			{Dst: "10.244.1.0/24", Gw: "10.244.1.0", Dev: "flannel.1", Onlink: true},
		},
	}
}

var (
	testPod     = Client{Kind: FromPod, Addr: netip.MustParseAddr("10.244.0.254")}
	testLocal   = Client{Kind: FromNode, Addr: netip.MustParseAddr("10.0.0.10"), local: true}
	testOutside = Client{Kind: FromOutside, Addr: netip.MustParseAddr("198.51.100.10")}
)

func outcomeOf(ns *plan.Namespace, c Client, proto, dst string, port int) Outcome {
	return Read(ns).Connect(c, Frontend{Proto: proto, Addr: netip.MustParseAddr(dst), Port: port})
}

func TestTokenizers(t *testing.T) {
	if got, want := shellFields(`-m comment --comment "ns/web:http cluster IP" -d 10.96.0.10 -j KUBE-SVC-X`), []string{"-m", "comment", "--comment", "ns/web:http cluster IP", "-d", "10.96.0.10", "-j", "KUBE-SVC-X"}; !slices.Equal(got, want) {
		t.Errorf("shellFields: %q", got)
	}
	if got, want := nftFields(`add rule ip t c ip saddr != { 192.0.2.0/24, 198.51.100.0/24 } drop comment "x y"`), []string{"add", "rule", "ip", "t", "c", "ip", "saddr", "!=", "{", "192.0.2.0/24", ",", "198.51.100.0/24", "}", "drop", "comment", "x y"}; !slices.Equal(got, want) {
		t.Errorf("nftFields: %q", got)
	}
	for expr, want := range map[string]int{"-100": -100, "dstnat": -100, "dstnat - 10": -110, "filter + 5": 5, "srcnat": 100} {
		if got := parsePrio(strings.Fields(expr)); got != want {
			t.Errorf("priority %q = %d, want %d", expr, got, want)
		}
	}
}

func TestIPSetMatch(t *testing.T) {
	p := &packet{src: netip.MustParseAddr("192.0.2.10"), dst: netip.MustParseAddr("203.0.113.12"), proto: "tcp", sport: 40000, dport: 80}
	for _, c := range []struct {
		set   plan.IPSet
		flags string
		want  bool
	}{
		{plan.IPSet{Type: "hash:ip,port", Entries: []string{"203.0.113.12,tcp:80"}}, "dst,dst", true},
		{plan.IPSet{Type: "hash:ip,port", Entries: []string{"203.0.113.12,udp:80"}}, "dst,dst", false},
		{plan.IPSet{Type: "hash:ip,port", Entries: []string{"203.0.113.12,80"}}, "dst,dst", true},  // a bare port is TCP
		{plan.IPSet{Type: "hash:ip,port", Entries: []string{"203.0.113.12,tcp:80"}}, "dst", false}, // fewer flags than dimensions
		{plan.IPSet{Type: "hash:ip,port,net", Entries: []string{"203.0.113.12,tcp:80,192.0.2.0/24"}}, "dst,dst,src", true},
		{plan.IPSet{Type: "hash:ip,port,net", Entries: []string{"203.0.113.12,tcp:80,198.51.100.0/24"}}, "dst,dst,src", false},
		{plan.IPSet{Type: "bitmap:port", Options: "range 0-65535", Entries: []string{"80"}}, "dst", true},
		{plan.IPSet{Type: "hash:ip", Entries: []string{"192.0.2.10"}}, "src", true},
	} {
		if got := newIPSet(&c.set).test(p, c.flags); got != c.want {
			t.Errorf("%s %v %s: %v, want %v", c.set.Type, c.set.Entries, c.flags, got, c.want)
		}
	}
}

// TestIPTablesReading: what the reading makes of small rulesets, one
// semantic each.
func TestIPTablesReading(t *testing.T) {
	for _, c := range []struct {
		name  string
		rules map[string][]string // "table chain" -> rules
		pol   string              // filter FORWARD policy
		from  Client
		dst   string
		want  string
	}{
		{"no rules: routed on", nil, "", testPod, "10.96.0.10", "not captured (routed on via eth0)"},
		{"DNAT and statistic fork", map[string][]string{
			"nat PREROUTING": {"-j SVC"},
			"nat SVC":        {"-m statistic --mode random --probability 0.5 -j SEP1", "-j SEP2"},
			"nat SEP1":       {"-p tcp -j DNAT --to-destination 10.244.1.2:8080"},
			"nat SEP2":       {"-p tcp -j DNAT --to-destination 10.244.0.3:8080"},
		}, "", testPod, "10.96.0.10", "10.244.0.3:8080, 10.244.1.2:8080"},
		{"a mark set in nat, masqueraded by it in postrouting", map[string][]string{
			"nat PREROUTING":  {"! -s 10.244.0.0/16 -j MARK --or-mark 0x4000", "-j DNAT --to-destination 10.244.1.2:80"},
			"nat POSTROUTING": {"-m mark ! --mark 0x4000/0x4000 -j RETURN", "-j MASQUERADE"},
		}, "", testOutside, "10.0.0.10", "10.244.1.2:80 (SNAT)"},
		{"the same from a pod: no mark, no SNAT", map[string][]string{
			"nat PREROUTING":  {"! -s 10.244.0.0/16 -j MARK --or-mark 0x4000", "-j DNAT --to-destination 10.244.1.2:80"},
			"nat POSTROUTING": {"-m mark ! --mark 0x4000/0x4000 -j RETURN", "-j MASQUERADE"},
		}, "", testPod, "10.0.0.10", "10.244.1.2:80"},
		{"goto returns to the caller's caller", map[string][]string{
			"filter FORWARD": {"-j A", "-j REJECT"},
			"filter A":       {"-g B", "-j DROP"},
			"filter B":       {"-j RETURN"},
		}, "", testPod, "10.96.0.10", "rejected"},
		{"policy DROP", nil, "DROP", testPod, "10.96.0.10", "dropped"},
		{"ctstate DNAT", map[string][]string{
			"nat PREROUTING": {"-j DNAT --to-destination 10.244.1.2:80"},
			"filter FORWARD": {"-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"},
		}, "", testPod, "10.96.0.10", "10.244.1.2:80"},
		{"addrtype LOCAL and -i", map[string][]string{
			"nat PREROUTING": {"-i cni0 -m addrtype --dst-type LOCAL -j DNAT --to-destination 10.244.1.2:80"},
		}, "", testPod, "10.0.0.10", "10.244.1.2:80"},
		{"-i does not match another device", map[string][]string{
			"nat PREROUTING": {"-i eth+ -m addrtype --dst-type LOCAL -j DNAT --to-destination 10.244.1.2:80"},
		}, "", testPod, "10.0.0.10", "delivered to the node itself"},
		{"recent --rcheck forks a returning client", map[string][]string{
			"nat PREROUTING": {"-m recent --name X --rcheck --seconds 600 --reap -j DNAT --to-destination 10.244.1.2:80", "-j DNAT --to-destination 10.244.1.2:80"},
		}, "", testPod, "10.96.0.10", "10.244.1.2:80; ClientIP affinity 600s"},
		{"a match not understood", map[string][]string{
			"nat PREROUTING": {"-m owner --uid-owner 0 -j DNAT --to-destination 10.244.1.2:80"},
		}, "", testPod, "10.96.0.10", "not captured (routed on via eth0) (uncertain: 1 rule(s) not understood)"},
		{"the node's own connection: output, no SNAT told", map[string][]string{
			"nat OUTPUT":      {"-d 10.96.0.10 -j DNAT --to-destination 10.244.1.2:80"},
			"nat POSTROUTING": {"-j MASQUERADE"},
		}, "", testLocal, "10.96.0.10", "10.244.1.2:80"},
	} {
		ns := testNode()
		r := &plan.Ruleset{}
		for tc, rules := range c.rules {
			table, chain, _ := strings.Cut(tc, " ")
			r.Append(table, chain, rules...)
		}
		if c.pol != "" {
			r.Table("filter").Chain("FORWARD").Policy = c.pol
		}
		ns.IPTables = r
		if got := outcomeOf(ns, c.from, "tcp", c.dst, 80); got.Text != c.want {
			t.Errorf("%s: %q, want %q", c.name, got.Text, c.want)
		}
	}
}

// TestIPVSReading: a virtual server takes a local address's packets after
// the filter INPUT chain; without real servers it refuses them.
func TestIPVSReading(t *testing.T) {
	ns := testNode()
	ns.Addrs = append(ns.Addrs, plan.Addr{Dev: "kube-ipvs0", CIDR: "10.96.0.10/32"}, plan.Addr{Dev: "kube-ipvs0", CIDR: "10.96.0.15/32"})
	ns.IPVS = []plan.IPVSService{
		{Proto: "tcp", Addr: "10.96.0.10", Port: 80, Scheduler: "rr", Persistent: 10800, Reals: []plan.IPVSReal{{Addr: "10.244.1.2", Port: 8080, Weight: 1}, {Addr: "10.244.0.3", Port: 8080, Weight: 1}}},
		{Proto: "tcp", Addr: "10.96.0.15", Port: 80, Scheduler: "rr"},
	}
	if got := outcomeOf(ns, testPod, "tcp", "10.96.0.10", 80).Text; got != "10.244.0.3:8080, 10.244.1.2:8080; ClientIP affinity 10800s" {
		t.Errorf("virtual server: %q", got)
	}
	if got := outcomeOf(ns, testPod, "tcp", "10.96.0.15", 80).Text; got != "rejected" {
		t.Errorf("no real servers: %q", got)
	}
	if got := outcomeOf(ns, testPod, "udp", "10.96.0.10", 80).Text; got != "delivered to the node itself" {
		t.Errorf("another protocol: %q", got)
	}
	ns.IPTables = &plan.Ruleset{}
	ns.IPTables.Append("filter", "INPUT", "-d 10.96.0.10 -j DROP")
	if got := outcomeOf(ns, testPod, "tcp", "10.96.0.10", 80).Text; got != "dropped" {
		t.Errorf("filter INPUT before IPVS: %q", got)
	}
}

// TestNFTablesReading: nft expressions and statements, one semantic each
// (the kube-proxy tables themselves are held in nftables_test.go).
func TestNFTablesReading(t *testing.T) {
	const head = "add table ip t\n" +
		"add chain ip t pre { type nat hook prerouting priority dstnat ; }\n" +
		"add chain ip t fwd { type filter hook forward priority 0 ; }\n" +
		"add chain ip t post { type nat hook postrouting priority srcnat ; }\n"
	for _, c := range []struct {
		name, rules string
		from        Client
		dst         string
		want        string
	}{
		{"dnat", "add rule ip t pre ip daddr 10.96.0.10 tcp dport 80 dnat to 10.244.1.2:8080\n", testPod, "10.96.0.10", "10.244.1.2:8080"},
		{"udp dport does not match tcp", "add rule ip t pre ip daddr 10.96.0.10 udp dport 80 dnat to 10.244.1.2:8080\n", testPod, "10.96.0.10", "not captured (routed on via eth0)"},
		{"vmap over a map, numgen forks",
			"add chain ip t svc\nadd chain ip t ep1\nadd chain ip t ep2\n" +
				"add map ip t ips { type ipv4_addr . inet_proto . inet_service : verdict ; }\n" +
				"add rule ip t pre ip daddr . meta l4proto . th dport vmap @ips\n" +
				"add rule ip t svc numgen random mod 2 vmap { 0 : goto ep1 , 1 : goto ep2 }\n" +
				"add rule ip t ep1 meta l4proto tcp dnat to 10.244.1.2:80\n" +
				"add rule ip t ep2 meta l4proto tcp dnat to 10.244.0.3:80\n" +
				"add element ip t ips { 10.96.0.10 . tcp . 80 comment \"ns/web\" : goto svc }\n", testPod, "10.96.0.10", "10.244.0.3:80, 10.244.1.2:80"},
		{"anonymous set, negated", "add rule ip t pre ip saddr != { 192.0.2.0/24, 198.51.100.0/24 } drop\n", testOutside, "10.0.0.10", "delivered to the node itself"},
		{"anonymous set, negated, outside it", "add rule ip t pre ip saddr != { 192.0.2.0/24 } drop\n", testOutside, "10.0.0.10", "dropped"},
		{"mark, then masquerade on it (1.37's one-rule form)",
			"add rule ip t pre mark set mark or 0x4000\nadd rule ip t pre dnat to 10.244.1.2:80\n" +
				"add rule ip t post mark and 0x00004000 != 0 mark set mark xor 0x00004000 masquerade fully-random\n", testPod, "10.96.0.10", "10.244.1.2:80 (SNAT)"},
		{"the mark test that fails", "add rule ip t pre dnat to 10.244.1.2:80\n" +
			"add rule ip t post mark and 0x00004000 != 0 masquerade\n", testPod, "10.96.0.10", "10.244.1.2:80"},
		{"fib daddr type local", "add rule ip t pre fib daddr type local meta l4proto . th dport vmap { tcp . 80 : drop }\n", testPod, "10.0.0.10", "dropped"},
		{"an affinity set forks", "add set ip t aff { type ipv4_addr ; flags dynamic,timeout ; timeout 600s ; }\n" +
			"add rule ip t pre ip saddr @aff dnat to 10.244.1.2:80\nadd rule ip t pre dnat to 10.244.1.2:80\n", testPod, "10.96.0.10", "10.244.1.2:80; ClientIP affinity 600s"},
		{"jump returns, goto does not", "add chain ip t a\nadd chain ip t b\n" +
			"add rule ip t fwd jump a\nadd rule ip t fwd reject\nadd rule ip t a goto b\nadd rule ip t a drop\nadd rule ip t b return\n", testPod, "10.96.0.10", "rejected"},
		{"policy drop", "add chain ip t f2 { type filter hook forward priority 10 ; policy drop ; }\n", testPod, "10.96.0.10", "dropped"},
		{"an expression not understood", "add rule ip t pre ip dscp cs1 dnat to 10.244.1.2:80\n", testPod, "10.96.0.10", "not captured (routed on via eth0) (uncertain: 1 rule(s) not understood)"},
	} {
		ns := testNode()
		ns.NFTables = head + c.rules
		if got := outcomeOf(ns, c.from, "tcp", c.dst, 80); got.Text != c.want {
			t.Errorf("%s: %q, want %q", c.name, got.Text, c.want)
		}
	}
}

// TestUserspaceProxyReading: a REDIRECT to the proxy's port is the proxy's
// connection to its endpoints.
func TestUserspaceProxyReading(t *testing.T) {
	ns := testNode()
	ns.IPTables = &plan.Ruleset{}
	ns.IPTables.Append("nat", "PREROUTING", "-d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 20009")
	ns.UserspaceProxies = []plan.Proxy{{Service: "default/web", Protocol: "tcp", Port: 20009, Endpoints: []string{"10.244.1.2:80"}}}
	if got := outcomeOf(ns, testPod, "tcp", "10.96.0.10", 80).Text; got != "proxied by kube-proxy to 10.244.1.2:80" {
		t.Errorf("%q", got)
	}
	ns.UserspaceProxies[0].Endpoints = nil
	if got := outcomeOf(ns, testPod, "tcp", "10.96.0.10", 80).Text; got != "proxied by kube-proxy, no endpoints" {
		t.Errorf("%q", got)
	}
}
