package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/netlab/netlab/probes"
)

// TestWriteDecisions holds the trace's rules section to a golden file:
// traced rules grouped by the packet that met them (an nftables verdict
// map's element under its rule), then a counted namespace's rules, then
// IPVS, under a line saying how each namespace was watched.
func TestWriteDecisions(t *testing.T) {
	r := &probes.Result{Protocol: "tcp",
		Observed: []probes.Observation{
			{Owner: "node-1", Namespace: "l-node-1", Method: probes.MethodNFTrace},
			{Owner: "node-2", Namespace: "l-node-2", Method: probes.MethodNFTrace},
			{Owner: "slb", Namespace: "l-slb", Method: probes.MethodCounters, Reason: "iptables-legacy: its rules are not nftables rules, which tracing sees"},
		},
		Decisions: []probes.Decision{
			{Owner: "node-1", Kind: probes.DecisionNFTables, Family: "ip", Table: "kube-proxy", Chain: "nat-prerouting", Rule: "jump services", Verdict: "jump services", Packet: probes.PacketRequest, Packets: 1},
			{Owner: "node-1", Kind: probes.DecisionNFTables, Family: "ip", Table: "kube-proxy", Chain: "services", Rule: "ip daddr . meta l4proto . th dport vmap @service-ips",
				Element: "element 10.96.0.10 . tcp . 80 : goto service-X in map service-ips", Verdict: "goto service-X", Packet: probes.PacketRequest, Packets: 1},
			{Owner: "node-1", Kind: probes.DecisionIPTables, Table: "filter", Chain: "FORWARD", Rule: "-A FORWARD -j FLANNEL-FWD", Verdict: "jump FLANNEL-FWD", Packet: probes.PacketRequest, Packets: 6},
			{Owner: "node-2", Kind: probes.DecisionIPTables, Table: "filter", Chain: "FORWARD", Rule: "-A FORWARD -j FLANNEL-FWD", Verdict: "jump FLANNEL-FWD", Packet: probes.PacketReply, Packets: 5},
			{Owner: "node-2", Kind: probes.DecisionIPTables, Table: "filter", Chain: "KUBE-FORWARD", Rule: "-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", Verdict: "accept", Packet: probes.PacketLater, Packets: 4},
			{Owner: "slb", Kind: probes.DecisionIPTables, Table: "nat", Chain: "PREROUTING", Rule: "-A PREROUTING -d 203.0.113.10/32 -j SLB-X", Packets: 1},
			{Owner: "node-1", Kind: probes.DecisionIPVS, Rule: "TCP 10.0.0.1:4000 -> 10.244.1.2:80 (virtual server 10.96.0.10:80, real server 10.244.1.2:80, SYN_RECV)"},
		},
	}
	var b bytes.Buffer
	writeDecisions(&b, r)
	const golden = "testdata/trace-decisions.golden"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	writeDecisions(&b, &probes.Result{})
	if b.Len() != 0 {
		t.Errorf("nothing observed: %q", b.String())
	}
}
