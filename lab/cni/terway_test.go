package cni

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// TestTerwayVethName: Calico's scheme, "cali" + 11 hex digits of
// sha1("<namespace>.<pod>"), checked against sha1sum.
func TestTerwayVethName(t *testing.T) {
	got := TerwayVethName("default", "nginx")
	if !regexp.MustCompile(`^cali[0-9a-f]{11}$`).MatchString(got) {
		t.Fatalf("%q is not cali + 11 hex digits", got)
	}
	if want := "cali" + sha1Prefix("default.nginx"); got != want {
		t.Errorf("TerwayVethName = %q, want %q", got, want)
	}
	if TerwayVethName("kube-system", "nginx") == got {
		t.Error("the namespace is not part of the name")
	}
}

// TestTerwayENIIPPlan checks one pod's wiring in the compiled plan: the
// pod's /32 and its route to 169.254.1.1 through the cali peer's MAC,
// the node's rules and the ENI table, and the VPC's delivery to the ENI.
func TestTerwayENIIPPlan(t *testing.T) {
	topo, err := topology.Load("t.yaml", []byte(`name: t
cni: {plugin: terway}
network: {nodes: 192.168.0.0/24, pods: 192.168.16.0/20, services: 172.21.0.0/20}
nodes: [{name: node-1, ip: 192.168.0.10}]
pods: [{name: a, node: node-1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if topo.CNI.Backend != BackendENIIP {
		t.Fatalf("default backend %q", topo.CNI.Backend)
	}
	p := &plan.Plan{Lab: "t"}
	for _, n := range []string{"vpc", "node-1", "a"} {
		p.Namespaces = append(p.Namespaces, &plan.Namespace{Name: plan.NSName("t", n), Owner: n})
	}
	if err := terway(p, topo); err != nil {
		t.Fatal(err)
	}
	pod, node, vpc := p.Namespace("t-a"), p.Namespace("t-node-1"), p.Namespace("t-vpc")
	podIP := topo.Pods[0].Addr.String()
	cali := TerwayVethName("default", "a")
	want := map[string]string{
		"pod addr":  "eth0 " + podIP + "/32",
		"pod route": "default via 169.254.1.1 dev eth0 onlink",
		"pod neigh": "169.254.1.1 " + plan.MAC("node", "node-1", cali),
		"rules":     "pref 512 to " + podIP + "/32 lookup main; pref 2048 from " + podIP + "/32 lookup 1003",
		"vpc gw":    "eni0 192.168.31.253/32",
		"vpc route": podIP + "/32 dev eni0 scope link",
	}
	got := map[string]string{
		"pod addr":  pod.Addrs[0].Dev + " " + pod.Addrs[0].CIDR,
		"pod route": pod.Routes[0].String(),
		"pod neigh": pod.Neighs[0].IP + " " + pod.Neighs[0].MAC,
		"rules":     node.Rules[0].String() + "; " + node.Rules[1].String(),
		"vpc gw":    vpc.Addrs[0].Dev + " " + vpc.Addrs[0].CIDR,
		"vpc route": vpc.Routes[0].String(),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	var eniTable string
	for _, r := range node.Routes {
		if r.Table == 1003 {
			eniTable = r.String()
		}
	}
	if !strings.HasPrefix(eniTable, "default via 192.168.31.253 dev eth1 onlink") {
		t.Errorf("ENI table route %q", eniTable)
	}
}

func sha1Prefix(s string) string {
	out, _ := exec.Command("sh", "-c", "printf %s '"+s+"' | sha1sum").Output()
	return string(out[:11])
}

// TestMemberVLANs: a pod's own VLAN is kept; the others count up from
// 1027, skipping the VLANs taken.
func TestMemberVLANs(t *testing.T) {
	pods := []*topology.Pod{{Name: "a"}, {Name: "b", VLAN: 1028}, {Name: "c"}, {Name: "d", VLAN: 5}}
	if got, want := memberVLANs(pods), []int{1027, 1028, 1029, 5}; !slices.Equal(got, want) {
		t.Errorf("memberVLANs = %v, want %v", got, want)
	}
}
