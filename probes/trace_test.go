package probes

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/plan"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// frame builds an Ethernet + IPv4 + TCP header.
func frame(src, dst string, id uint16, seq, ack uint32, flags uint8) []byte {
	b := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[9] = 0x45, 6
	binary.BigEndian.PutUint16(ip[4:], id)
	s, d := ap(src), ap(dst)
	copy(ip[12:16], s.Addr().AsSlice())
	copy(ip[16:20], d.Addr().AsSlice())
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], s.Port())
	binary.BigEndian.PutUint16(tcp[2:], d.Port())
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[13] = flags
	return b
}

func TestParseFrame(t *testing.T) {
	syn := frame("10.244.0.2:40000", "10.96.0.10:80", 7, 1000, 0, tcpSYN)
	p, ok := parseFrame(syn)
	if !ok || p.Proto != "tcp" || p.Src != ap("10.244.0.2:40000") || p.Dst != ap("10.96.0.10:80") || p.ID != 7 || p.Seq != 1000 || p.Flags != tcpSYN {
		t.Fatalf("syn: %+v %v", p, ok)
	}
	// The same SYN inside VXLAN: described by the inner packet.
	outer := frame("10.0.0.10:40460", "10.0.0.11:8472", 99, 0, 0, 0)
	outer[14+9] = 17 // UDP
	udp := append(outer[:14+20+8:14+20+8], make([]byte, 8)...)
	vx := append(udp, syn...)
	p, ok = parseFrame(vx)
	if !ok || p.Seq != 1000 || p.ID != 7 || p.Outer == nil || p.Outer[1] != ap("10.0.0.11:8472") {
		t.Fatalf("vxlan: %+v %v", p, ok)
	}
	// An ICMP port unreachable quoting the SYN.
	icmp := frame("10.0.0.10:0", "10.244.0.2:0", 5, 0, 0, 0)[:14+20]
	icmp[14+9] = 1
	icmp = append(icmp, 3, 3, 0, 0, 0, 0, 0, 0)
	icmp = append(icmp, syn[14:14+28]...)
	p, ok = parseFrame(icmp)
	if !ok || p.Proto != "icmp" || p.ICMP != [2]uint8{3, 3} || p.Quoted == nil || p.Quoted.Seq != 1000 || p.Quoted.ID != 7 {
		t.Fatalf("icmp: %+v %v", p, ok)
	}
	req := packet{Proto: "tcp", ID: 7, Seq: 1000, Flags: tcpSYN}
	other := req
	other.Seq++
	none := [2]netip.AddrPort{}
	if !answersRequest(req, ap("10.244.0.2:40000"), none)(&p) || answersRequest(other, ap("10.244.0.2:40000"), none)(&p) {
		t.Error("answersRequest does not recognise the quoted SYN")
	}
	if !answersTuple("tcp", ap("10.244.0.2:40000"))(&p) || answersTuple("tcp", ap("10.244.0.2:40001"))(&p) || answersTuple("udp", ap("10.244.0.2:40000"))(&p) {
		t.Error("answersTuple does not recognise the quoted SYN by its source")
	}
	// ARP is not IPv4.
	arp := make([]byte, 42)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	if _, ok := parseFrame(arp); ok {
		t.Error("ARP parsed as IPv4")
	}
}

// TestFollow reconstructs a request through an SLB detour (the VPC is
// crossed twice) and a bridge, from per-namespace capture order only.
func TestFollow(t *testing.T) {
	p := &plan.Plan{Namespaces: []*plan.Namespace{
		{Name: "c", Owner: "client", Links: []plan.Link{{Name: "eth0", Peer: &plan.Peer{Namespace: "vpc", Name: "client0"}}}},
		{Name: "slb", Owner: "slb", Links: []plan.Link{{Name: "eth0", Peer: &plan.Peer{Namespace: "vpc", Name: "slb"}}}},
		{Name: "vpc", Owner: "vpc", Links: []plan.Link{{Name: "vswitch"}}},
		{Name: "n", Owner: "node-1", Links: []plan.Link{
			{Name: "eth0", Peer: &plan.Peer{Namespace: "vpc", Name: "port0", Master: "vswitch"}},
			{Name: "cni0"},
			{Name: "veth0000aaa1", Master: "cni0", Peer: &plan.Peer{Namespace: "p", Name: "eth0"}},
			{Name: "veth0000aaa2", Master: "cni0", Peer: &plan.Peer{Namespace: "q", Name: "eth0"}},
		}},
		{Name: "p", Owner: "web"},
	}}
	w := newWiring(p.Wiring())
	syn := packet{Proto: "tcp", ID: 1, Seq: 42, Flags: tcpSYN}
	other := packet{Proto: "tcp", ID: 2, Seq: 9, Flags: tcpSYN | tcpACK, Ack: 43}
	cap := func(ns, dev string, out bool, pk packet) captured {
		return captured{ns: ns, dev: dev, out: out, pkt: pk}
	}
	caps := map[string][]captured{
		"c":   {cap("c", "eth0", true, syn), cap("c", "eth0", false, other)},
		"vpc": {cap("vpc", "client0", false, syn), cap("vpc", "slb", true, syn), cap("vpc", "slb", false, syn), cap("vpc", "vswitch", true, syn), cap("vpc", "port0", true, syn)},
		"slb": {cap("slb", "eth0", false, syn), cap("slb", "eth0", true, syn)},
		"n":   {cap("n", "eth0", false, syn), cap("n", "veth0000aaa2", true, other), cap("n", "cni0", true, syn), cap("n", "veth0000aaa1", true, syn)},
		"p":   {cap("p", "eth0", false, syn)},
	}
	hops := w.hops(w.follow(caps, isRequest(syn), "c"))
	var got []string
	for _, h := range hops {
		got = append(got, h.Owner+":"+h.Device+":"+h.Dir)
	}
	want := []string{"client:eth0:out", "vpc:client0:in", "vpc:slb:out", "slb:eth0:in+out", "vpc:slb:in", "vpc:vswitch:out",
		"vpc:port0:out", "node-1:eth0:in", "node-1:cni0:out", "node-1:veth0000aaa1:out", "web:eth0:in"}
	if !slices.Equal(got, want) {
		t.Errorf("hops\n  %v\nwant\n  %v", got, want)
	}
	if sp := ShortPath(hops); strings.Join(sp, " ") != "client:eth0 vpc slb vpc node-1:eth0 node-1:cni0 node-1:veth web:eth0" {
		t.Errorf("short path %v", sp)
	}
	if o := origin(caps, samePacket(other), ""); o != "n" {
		t.Errorf("origin of the answer: %q", o)
	}
	// Bridged: a frame switched between two ports gets the bridge between.
	caps = map[string][]captured{
		"c": {cap("c", "eth0", true, syn)},
		"n": {cap("n", "veth0000aaa2", false, syn), cap("n", "veth0000aaa1", true, syn)},
		"p": {cap("p", "eth0", false, syn)},
	}
	w.peer[devKey{"c", "eth0"}], w.peer[devKey{"n", "veth0000aaa2"}] = devKey{"n", "veth0000aaa2"}, devKey{"c", "eth0"}
	hops = w.hops(w.follow(caps, isRequest(syn), "c"))
	if len(hops) != 5 || hops[2].Device != "cni0" || hops[2].Dir != "bridged" {
		t.Errorf("bridged hops: %+v", hops)
	}
}

func TestParseCounters(t *testing.T) {
	save := `# Generated by iptables-save
*nat
:PREROUTING ACCEPT [3:180]
:KUBE-SERVICES - [0:0]
[3:180] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[1:60] -A KUBE-SERVICES -d 10.96.0.15/32 -p tcp -j REJECT
[0:0] -A KUBE-SERVICES -d 10.96.0.15/32 -p tcp -j REJECT
COMMIT
`
	c := parseSaveCounters(save)
	if n := c[ruleKey{"nat", "KUBE-SERVICES", 1, "-A KUBE-SERVICES -d 10.96.0.15/32 -p tcp -j REJECT"}]; n.packets != 0 {
		t.Errorf("second identical rule: %+v", n)
	}
	if n := c[ruleKey{"nat", "KUBE-SERVICES", 0, "-A KUBE-SERVICES -d 10.96.0.15/32 -p tcp -j REJECT"}]; n.packets != 1 {
		t.Errorf("first identical rule: %+v", n)
	}
	if n := c[ruleKey{"nat", "PREROUTING", -1, "policy ACCEPT"}]; n.packets != 3 {
		t.Errorf("policy: %+v", n)
	}
	d := Decision{Rule: "-A KUBE-SERVICES -d 10.96.0.15/32 -p tcp -j REJECT --reject-with icmp-port-unreachable"}
	if d.target() != "REJECT" {
		t.Errorf("target %q", d.target())
	}
}

func TestParseIPVS(t *testing.T) {
	conns := `Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP AC176017 C9E6 C0A80D17 0050 AC1760A3 0050 SYN_RECV         59
`
	cs := parseIPVSConns(conns)
	if len(cs) != 1 || cs[0].from != ap("172.23.96.23:51686") || cs[0].to != ap("192.168.13.23:80") || cs[0].dest != ap("172.23.96.163:80") {
		t.Errorf("conns %+v", cs)
	}
	table := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A0000B4:7F44 rr
TCP  C0A80D17:0050 rr
  -> AC1760A3:0050      Masq    1      0          0
  -> AC176052:0050      Masq    1      0          0
`
	if n := countRealServers(table, "tcp", ap("10.0.0.180:32580")); n != 0 {
		t.Errorf("NodePort without real servers: %d", n)
	}
	if n := countRealServers(table, "tcp", ap("192.168.13.23:80")); n != 2 {
		t.Errorf("ClusterIP: %d real servers", n)
	}
	if n := countRealServers(table, "tcp", ap("192.168.13.99:80")); n != -1 {
		t.Errorf("missing service: %d", n)
	}
}

// TestFollowIPVlan: Terway's ipvlan datapath, where frames cross between
// namespaces without veths. A pod's SYN to a ClusterIP leaves its slave
// eth0, enters the node's ipvl_3 by the ENI's tc redirect, leaves ipvl_3
// DNATed for a pod on the same node (a sibling slave); the server's
// answer goes from slave to slave, past the node; a SYN from the VPC
// enters the ENI and goes on to its slave.
func TestFollowIPVlan(t *testing.T) {
	p := &plan.Plan{Namespaces: []*plan.Namespace{
		{Name: "n", Owner: "node-1", Links: []plan.Link{
			{Name: "eth1", Peer: &plan.Peer{Namespace: "vpc", Name: "eni0"}},
			{Name: "ipvl_3", Kind: plan.KindIPVlan, IPVlan: &plan.IPVlan{Parent: "eth1"}},
		}},
		{Name: "vpc", Owner: "vpc"},
		{Name: "a", Owner: "client", Links: []plan.Link{{Name: "eth0", Kind: plan.KindIPVlan, IPVlan: &plan.IPVlan{Parent: "eth1", ParentNamespace: "n"}}}},
		{Name: "b", Owner: "web", Links: []plan.Link{{Name: "eth0", Kind: plan.KindIPVlan, IPVlan: &plan.IPVlan{Parent: "eth1", ParentNamespace: "n"}}}},
	}}
	w := newWiring(p.Wiring())
	cap := func(ns, dev string, out bool, pk packet) captured {
		return captured{ns: ns, dev: dev, out: out, pkt: pk}
	}
	path := func(caps map[string][]captured, pk packet, start string) string {
		var got []string
		for _, h := range w.hops(w.follow(caps, samePacket(pk), start)) {
			got = append(got, h.Owner+":"+h.Device+":"+h.Dir)
		}
		return strings.Join(got, " ")
	}
	syn := packet{Proto: "tcp", ID: 1, Seq: 42, Flags: tcpSYN}
	caps := map[string][]captured{
		"a": {cap("a", "eth0", true, syn)},
		"n": {cap("n", "ipvl_3", false, syn), cap("n", "ipvl_3", true, syn)},
		"b": {cap("b", "eth0", false, syn)},
	}
	if got, want := path(caps, syn, "a"), "client:eth0:out node-1:ipvl_3:in+out web:eth0:in"; got != want {
		t.Errorf("ClusterIP via the redirect:\n got %s\nwant %s", got, want)
	}
	answer := packet{Proto: "tcp", ID: 2, Seq: 7, Flags: tcpSYN | tcpACK}
	caps = map[string][]captured{"b": {cap("b", "eth0", true, answer)}, "a": {cap("a", "eth0", false, answer)}}
	if got, want := path(caps, answer, "b"), "web:eth0:out client:eth0:in"; got != want {
		t.Errorf("slave to slave:\n got %s\nwant %s", got, want)
	}
	caps = map[string][]captured{"vpc": {cap("vpc", "eni0", true, syn)}, "n": {cap("n", "eth1", false, syn)}, "b": {cap("b", "eth0", false, syn)}}
	if got, want := path(caps, syn, "vpc"), "vpc:eni0:out node-1:eth1:in web:eth0:in"; got != want {
		t.Errorf("from the VPC:\n got %s\nwant %s", got, want)
	}
}
