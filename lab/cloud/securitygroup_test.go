package cloud

import (
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/topology"
)

// TestSecurityGroupRules: the rules of an ENI's groups in the cloud's
// order (priority, then drop before accept, then as written), the
// intra-group accepts before them, the default verdicts last, and the
// ENIs of no group left alone.
func TestSecurityGroupRules(t *testing.T) {
	// A plugin with ENIs (the real ones live in lab/cni, which imports
	// this package).
	topology.RegisterCNIPlugin(topology.CNIPluginInfo{Name: "eni-test", Backends: []string{"eni"}, SecurityGroups: true})
	topo, err := topology.Load("t.yaml", []byte(`name: t
cni: {plugin: eni-test}
nodes: [{name: node-1, securityGroups: [sg-a, sg-b]}, {name: node-2, securityGroups: [sg-b]}, {name: node-3}]
cloud:
  securityGroups:
    - name: sg-a
      intraGroup: false
      ingress:
        - {priority: 5, protocol: tcp, ports: "80", cidr: 10.0.0.0/8}
        - {priority: 2, action: drop, protocol: udp, ports: "53/54"}
    - name: sg-b
      ingress:
        - {priority: 2, protocol: icmp}
      egress:
        - {priority: 1, action: drop, cidr: 203.0.113.0/24}
`))
	if err != nil {
		t.Fatal(err)
	}
	enis := []ENI{
		{Name: "node-1/eth1", Port: "eni0", Addrs: []string{"10.0.0.1", "10.1.0.2"}, Groups: []string{"sg-a", "sg-b"}},
		{Name: "node-2/eth1", Port: "eni1", Addrs: []string{"10.0.0.2"}, Groups: []string{"sg-b"}},
		{Name: "node-3/eth1", Port: "eni2", Addrs: []string{"10.0.0.3"}},
	}
	got := SecurityGroupRules(topo, enis).Restore()
	for _, want := range []string{
		`-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "security groups are stateful" -j ACCEPT
-A FORWARD -i eni0 -m comment --comment "leaving node-1/eth1" -j SG-EGRESS-0
-A FORWARD -o eni0 -m comment --comment "for node-1/eth1" -j SG-INGRESS-0
-A FORWARD -i eni1 -m comment --comment "leaving node-2/eth1" -j SG-EGRESS-1
-A FORWARD -o eni1 -m comment --comment "for node-2/eth1" -j SG-INGRESS-1
`,
		`-A SG-EGRESS-0 -d 203.0.113.0/24 -m comment --comment "sg-b egress rule 1 (priority 1): drop all traffic to 203.0.113.0/24" -j DROP
-A SG-EGRESS-0 -m comment --comment "sg-a, sg-b: outbound traffic is allowed by default" -j RETURN
`,
		// sg-a has no intra-group accept; sg-b's members are both ENIs' addresses.
		`-A SG-INGRESS-0 -s 10.0.0.1/32 -m comment --comment "sg-b: intra-group traffic is allowed" -j ACCEPT
-A SG-INGRESS-0 -s 10.1.0.2/32 -m comment --comment "sg-b: intra-group traffic is allowed" -j ACCEPT
-A SG-INGRESS-0 -s 10.0.0.2/32 -m comment --comment "sg-b: intra-group traffic is allowed" -j ACCEPT
-A SG-INGRESS-0 -p udp --dport 53:54 -m comment --comment "sg-a ingress rule 2 (priority 2): drop udp 53/54 from 0.0.0.0/0" -j DROP
-A SG-INGRESS-0 -p icmp -m comment --comment "sg-b ingress rule 1 (priority 2): accept icmp from 0.0.0.0/0" -j ACCEPT
-A SG-INGRESS-0 -p tcp --dport 80:80 -s 10.0.0.0/8 -m comment --comment "sg-a ingress rule 1 (priority 5): accept tcp 80/80 from 10.0.0.0/8" -j ACCEPT
-A SG-INGRESS-0 -m comment --comment "sg-a, sg-b: inbound traffic is denied by default" -j DROP
`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing\n%s\nin\n%s", want, got)
		}
	}
	if strings.Contains(got, "eni2") {
		t.Errorf("node-3's ENI is in no group but has rules:\n%s", got)
	}
	if SecurityGroupRules(topo, enis[2:]) != nil {
		t.Error("rules without any group")
	}
}

// TestSourceCheckRules: each ENI with a VPC port admits only its own
// addresses as sources; an ENI without a port (a node's primary ENI on
// the vSwitch) gets no check.
func TestSourceCheckRules(t *testing.T) {
	if SourceCheckRules([]ENI{{Name: "node-1/eth0", Addrs: []string{"10.0.0.1"}}}) != nil {
		t.Fatal("an ENI without a port got a source check")
	}
	r := SourceCheckRules([]ENI{
		{Name: "node-1/eth0", Addrs: []string{"10.0.0.1"}},
		{Name: "node-1/eth1", Port: "eni0", Addrs: []string{"10.0.0.1", "10.0.16.2"}},
	})
	want := map[string][]string{
		"FORWARD": {`-i eni0 -m comment --comment "source check of node-1/eth1" -j ENI-SOURCE-1`},
		"ENI-SOURCE-1": {
			"-s 10.0.0.1/32 -j RETURN",
			"-s 10.0.16.2/32 -j RETURN",
			`-m comment --comment "source check: node-1/eth1 does not hold the packet's source address" -j DROP`,
		},
	}
	for name, rules := range want {
		if got := r.Table("filter").Chain(name).Rules; !slices.Equal(got, rules) {
			t.Errorf("%s:\n got %q\nwant %q", name, got, rules)
		}
	}
}
