package e2e

import (
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/kernel"
)

// TestTerway runs the Terway smoke sets with their security groups
// (ENIIP: veth + policy routing; ENI: exclusive ENIs) under each
// kube-proxy mode: iptables and nftables natively, IPVS in the guest.
func TestTerway(t *testing.T) {
	runs := []string{"iptables@1.28", "nftables@1.33"}
	if testenv.InGuest() {
		runs = []string{"ipvs@1.31"}
	}
	for _, sc := range []string{"terway-eniip", "terway-eni"} {
		for _, kp := range runs {
			t.Run(sc+"/"+kp, func(t *testing.T) {
				if strings.HasPrefix(kp, "ipvs") {
					testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
				}
				runChecks(t, upWith(t, sc, kp, "w"))
			})
		}
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
