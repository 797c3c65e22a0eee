package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/cni"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/probes"
	"github.com/netlab/netlab/topologies"
)

// TestTerway runs the Terway smoke sets with their security groups
// (ENIIP: veth + policy routing; ENI: exclusive ENIs) under each
// kube-proxy mode: iptables and nftables natively, IPVS in the guest;
// ipvlan (the guest's) under all three, and trunking (802.1Q, the
// guest's) under iptables and nftables: under IPVS, its mode in the
// article, it is TestTerwayTrunking's.
func TestTerway(t *testing.T) {
	runs := [][2]string{
		{"terway-eniip", "iptables@1.28"}, {"terway-eniip", "nftables@1.33"},
		{"terway-eni", "iptables@1.28"}, {"terway-eni", "nftables@1.33"},
	}
	if testenv.InGuest() {
		runs = [][2]string{
			{"terway-eniip", "ipvs@1.22"}, {"terway-eniip", "ipvs@1.24"},
			{"terway-eni", "ipvs@1.22"}, {"terway-eni", "ipvs@1.24"},
			{"terway-trunking", "iptables@1.28"}, {"terway-trunking", "nftables@1.33"},
			{"terway-ipvlan", "iptables@1.28"}, {"terway-ipvlan", "ipvs@1.22"}, {"terway-ipvlan", "ipvs@1.24"}, {"terway-ipvlan", "nftables@1.33"},
		}
	}
	for _, run := range runs {
		sc, kp := run[0], run[1]
		t.Run(sc+"/"+kp, func(t *testing.T) {
			sct := builtin(t, sc).Topology
			testenv.RequireFeatures(t, cni.Needs(sct.CNI)...)
			if strings.HasPrefix(kp, "ipvs") {
				testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
			}
			runChecks(t, upWith(t, sc, kp, "w"))
		})
	}
}

// TestTerwayENITable holds the ENIIP plan to the kernel it runs on: the
// pods' ENI eth1 has ifindex 3 on every node, so that its routing table
// is 1000 + its ifindex as Terway numbers it, and the node has the
// pod's two rules.
func TestTerwayENITable(t *testing.T) {
	l := upWith(t, "terway-eniip", "", "w")
	for _, node := range []string{"node-1", "node-2"} {
		link := nsExec(t, l, node, "ip", "-o", "link", "show", "eth1")
		if !strings.HasPrefix(link, "3: eth1") {
			t.Errorf("%s: eth1 is not ifindex 3: %s", node, link)
		}
		if table := nsExec(t, l, node, "ip", "route", "show", "table", "1003"); !strings.Contains(table, "default via 192.168.31.253 dev eth1 onlink") {
			t.Errorf("%s: table 1003: %s", node, table)
		}
	}
	rules := nsExec(t, l, "node-1", "ip", "rule")
	for _, want := range []string{"512:\tfrom all to 192.168.16.2 lookup main", "2048:\tfrom 192.168.16.2 lookup 1003"} {
		if !strings.Contains(rules, want) {
			t.Errorf("node-1 rules have no %q:\n%s", want, rules)
		}
	}
}

// TestTerwayTrunking runs seed 001's B1-B9 (ENI trunking: member ENIs by
// VLAN on the trunk ENI, three security groups) under the article's IPVS
// kube-proxy, in the guest (802.1Q, act_vlan, IPVS); then shows the VLANs
// on the wire, the denied rows connecting once sg-admit-192 admits the
// clients, and that the member ENI path is real: without its push filter
// a pod's cross-node probe is dropped by the VPC's source check.
func TestTerwayTrunking(t *testing.T) {
	testenv.RequireFeatures(t, kernel.VLAN, kernel.ActVlan, kernel.IPVS, kernel.Dummy, kernel.Ipset)
	const client, server = "centos-59cdc5c9c4-l5vf9", "pod/nginx-6f545cb57c-kt7r8"
	l := upWith(t, "terway-trunking", "", "k")
	runChecks(t, l)
	if tc := nsExec(t, l, "node-20", "tc", "filter", "show", "dev", "eth1", "egress"); !strings.Contains(tc, "vlan") || !strings.Contains(tc, "id 1027") {
		t.Errorf("node-20 eth1 egress filters:\n%s", tc)
	}
	if link := nsExec(t, l, "vpc", "ip", "-d", "link", "show", "eni0.1027"); !strings.Contains(link, "vlan protocol 802.1Q id 1027") {
		t.Errorf("vpc eni0.1027: %s", link)
	}
	// B4's SYN as the packet sockets saw it: tagged 1027 (node-20's first
	// member ENI) from node-20's trunk to the VPC's trunk port, untagged
	// on the member ENI sub-interfaces, tagged 1027 again (node-22's
	// first) into node-22's trunk.
	r := probe(t, l, client, server)
	want := []string{"node-20:eth1 out vlan 1027", "vpc:eni0 in vlan 1027", "vpc:eni0.1027 in", "vpc:eni1.1027 out", "vpc:eni1 out vlan 1027", "node-22:eth1 in vlan 1027"}
	var got []string
	for _, h := range r.Hops {
		s := h.Owner + ":" + h.Device + " " + h.Dir
		if h.VLAN != 0 {
			s += fmt.Sprintf(" vlan %d", h.VLAN)
		}
		got = append(got, s)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("B4 hops have no %q:\n%s", w, strings.Join(got, "\n"))
		}
	}
	// Without node-20's push filter the pod's SYN leaves the trunk
	// untagged; the trunk ENI does not hold the pod's address.
	nsExec(t, l, "node-20", "tc", "filter", "del", "dev", "eth1", "egress", "prio", "50001")
	tr, err := probes.Run(l, client, server, probes.Options{Timeout: probeOptions().Timeout, Rules: true})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Result != "timeout" || tr.Verdict == nil || !tr.Verdict.Matches("source check: node-20/eth1 does not hold") {
		t.Errorf("B4 without the push filter: %s, verdict %+v; want a timeout by the VPC's source check", tr.Result, tr.Verdict)
	}

	// The denied rows connect once sg-admit-192 admits the pods' and
	// nodes' addresses.
	data, _ := topologies.Get("terway-trunking")
	wide := strings.Replace(string(data), "cidr: 192.168.0.0/16", "cidr: 10.0.0.0/8", 1)
	if wide == string(data) {
		t.Fatal("terway-trunking has no sg-admit-192 rule for 192.168.0.0/16")
	}
	l2 := up(t, scenario(t, "terway-trunking-admit.yaml", []byte(wide)), "k2")
	for _, to := range []string{"pod/nginx-96bb9b7bb-wwrdm", "svc/nginx-other", "svc/nginx-other:loadbalancer", "203.0.113.12:80"} {
		if r := probe(t, l2, client, to); r.Result != "connected" {
			t.Errorf("%s -> %s with sg-admit-192 admitting 10.0.0.0/8: %s, want connected", client, to, r.Result)
		}
	}
}

// TestTerwayIPVlan holds the ipvlan datapath to the kernel: the pods'
// eth0 are ipvlan slaves of the node's ENI (with its MAC), the node has
// ipvl_3 and the ServiceCIDR redirect; a pod's ClusterIP SYN goes through
// ipvl_3 and is DNATed to the remote server, whose answer comes back
// into the client's ENI and straight to the client, never through the
// node's ipvl_3 (so it is never un-DNATed); and without the redirect
// filter the SYN no longer reaches kube-proxy at all.
func TestTerwayIPVlan(t *testing.T) {
	testenv.RequireFeatures(t, kernel.Ipvlan, kernel.ActMirred)
	l := upWith(t, "terway-ipvlan", "", "v")
	eth1 := nsExec(t, l, "node-1", "ip", "-o", "link", "show", "eth1")
	mac := strings.Fields(eth1[strings.Index(eth1, "link/ether"):])[1]
	if link := nsExec(t, l, "client", "ip", "-d", "-o", "link", "show", "eth0"); !strings.Contains(link, "ipvlan  mode l2") || !strings.Contains(link, mac) {
		t.Errorf("client eth0 is not an L2 slave with eth1's MAC %s: %s", mac, link)
	}
	if tc := nsExec(t, l, "node-1", "tc", "filter", "show", "dev", "eth1", "egress"); !strings.Contains(tc, "mirred (Ingress Redirect to device ipvl_3)") {
		t.Errorf("node-1 eth1 egress filters:\n%s", tc)
	}
	r := probe(t, l, "client", "svc/remote")
	var reply []string
	for _, h := range r.ReplyHops {
		reply = append(reply, h.Name())
	}
	if r.Result != "timeout" || !slices.Contains(reply, "node-1:eth1") || slices.Contains(reply, "node-1:ipvl_3") || len(reply) == 0 || reply[len(reply)-1] != "client:eth0" {
		t.Errorf("client -> svc/remote: %s, answer's hops %v; want a timeout, the answer in through eth1 straight to client:eth0", r.Result, reply)
	}
	nsExec(t, l, "node-1", "tc", "filter", "del", "dev", "eth1", "egress", "prio", "40000")
	r = probe(t, l, "client", "svc/remote")
	for _, h := range r.Hops {
		if h.Name() == "node-1:ipvl_3" || h.Name() == "web-2:eth0" {
			t.Errorf("without the redirect the SYN still reached %s: %v", h.Name(), probes.ShortPath(r.Hops))
		}
	}
}
