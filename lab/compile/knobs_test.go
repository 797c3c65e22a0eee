package compile

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// vxlanScenario is two flannel vxlan nodes (cni0 and flannel.1 on each),
// a NodePort Service with an endpoint on each node and an external IP, and
// the kubeProxy mapping kp.
func vxlanScenario(t *testing.T, kp string) *topology.Topology {
	t.Helper()
	topo, err := topology.Load("t.yaml", []byte(`name: t
cni: {plugin: flannel, backend: vxlan}
network: {nodes: 10.0.0.0/16, pods: 10.244.0.0/16, services: 10.96.0.0/12}
nodes: [{name: node-1, ip: 10.0.0.10}, {name: node-2, ip: 10.0.0.11}]
pods:
  - {name: web-1, node: node-1, labels: {app: web}, ports: [80]}
  - {name: web-2, node: node-2, labels: {app: web}, ports: [80]}
kubeProxy: `+kp+`
services:
  - {name: web, type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 30080}], externalIPs: [192.0.2.80]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// nodePortVS lists the addresses of node-1's IPVS virtual servers on port.
func nodePortVS(p *plan.Plan, port int) []string {
	var out []string
	for _, s := range p.Namespace("t-node-1").IPVS {
		if s.Port == port {
			out = append(out, s.Addr)
		}
	}
	slices.Sort(out)
	return out
}

// TestNodeInterfaces: kube-proxy's view of a node has every interface the
// plan gives an address, read after the CNI planned its own (cni0 and
// flannel.1 here), and lo; not kube-ipvs0, which the mode adds.
func TestNodeInterfaces(t *testing.T) {
	topo := vxlanScenario(t, `{mode: ipvs, version: "1.31"}`)
	p, err := Compile(topo, "t")
	if err != nil {
		t.Fatal(err)
	}
	got := nodeInterfaces(&plan.Namespace{Addrs: slices.DeleteFunc(slices.Clone(p.Namespace("t-node-1").Addrs), func(a plan.Addr) bool {
		return a.Dev == kubeproxy.IPVSDummyDevice
	})})
	want := []kubeproxy.Interface{
		{Name: "lo", Addrs: []string{"127.0.0.1/8"}},
		{Name: "eth0", Addrs: []string{"10.0.0.10/16"}},
		{Name: "cni0", Addrs: []string{"10.244.0.1/24"}},
		{Name: "flannel.1", Addrs: []string{"10.244.0.0/32"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("interfaces %+v\nwant %+v", got, want)
	}
}

// TestNodePortOnEveryInterface: IPVS binds a NodePort virtual server to
// every local address but loopback's and kube-ipvs0's, cni0's and
// flannel.1's included (GetAllLocalAddressesExcept in v1.31 and v1.33);
// before 1.10 only to eth*'s (#56685). nodePortAddresses narrows it to the
// matching ones, in IPVS and in iptables mode (one KUBE-NODEPORTS jump per
// matching address, lo's 127.0.0.1 included in iptables mode).
func TestNodePortOnEveryInterface(t *testing.T) {
	for _, tc := range []struct {
		kp   string
		want []string
	}{
		{`{mode: ipvs, version: "1.31"}`, []string{"10.0.0.10", "10.244.0.0", "10.244.0.1"}},
		{`{mode: ipvs, version: "1.22"}`, []string{"10.0.0.10", "10.244.0.0", "10.244.0.1"}},
		{`{mode: ipvs, version: "1.10"}`, []string{"10.0.0.10", "10.244.0.0", "10.244.0.1"}},
		{`{mode: ipvs, version: "1.9"}`, []string{"10.0.0.10"}},
		{`{mode: ipvs, version: "1.8"}`, []string{"10.0.0.10"}},
		{`{mode: ipvs, version: "1.31", nodePortAddresses: [10.244.0.0/16]}`, []string{"10.244.0.0", "10.244.0.1"}},
		{`{mode: ipvs, version: "1.31", nodePortAddresses: [primary]}`, []string{"10.0.0.10"}},
		{`{mode: ipvs, version: "1.31", nodePortAddresses: [127.0.0.0/8, 10.244.0.1/32]}`, []string{"10.244.0.1"}},
	} {
		p, err := Compile(vxlanScenario(t, tc.kp), "t")
		if err != nil {
			t.Fatal(err)
		}
		if got := nodePortVS(p, 30080); !slices.Equal(got, tc.want) {
			t.Errorf("%s: NodePort virtual servers on %v, want %v", tc.kp, got, tc.want)
		}
	}
	for _, tc := range []struct {
		kp   string
		want []string
	}{
		{`{mode: iptables, version: "1.31", nodePortAddresses: [10.244.0.0/16]}`, []string{"10.244.0.0", "10.244.0.1"}},
		{`{mode: iptables, version: "1.31", nodePortAddresses: [127.0.0.0/8, 10.244.0.1/32]}`, []string{"10.244.0.1", "127.0.0.1"}},
		{`{mode: iptables, version: "1.31", nodePortAddresses: [primary]}`, []string{"10.0.0.10"}},
	} {
		p, err := Compile(vxlanScenario(t, tc.kp), "t")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p.Namespace("t-node-1").IPTables.Table("nat").Chain("KUBE-SERVICES").Rules {
			if f := strings.Fields(r); strings.HasSuffix(r, "-j KUBE-NODEPORTS") && slices.Contains(f, "-d") {
				got = append(got, f[slices.Index(f, "-d")+1])
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: KUBE-NODEPORTS for %v, want %v", tc.kp, got, tc.want)
		}
	}
}

// TestKubeProxyOptions: the kubeProxy mapping becomes kube-proxy's own
// options in kubeproxy.Node, and the rendered rules show each.
func TestKubeProxyOptions(t *testing.T) {
	no, yes := false, true
	for _, tc := range []struct {
		kp   string
		want kubeproxy.Node
	}{
		{`{mode: iptables, version: "1.28"}`, kubeproxy.Node{ClusterCIDR: "10.244.0.0/16"}},
		{`{mode: iptables, version: "1.28", clusterCIDR: ""}`, kubeproxy.Node{ClusterCIDR: ""}},
		{`{mode: iptables, version: "1.28", clusterCIDR: 10.0.0.0/8, masqueradeAll: true, localhostNodePorts: false}`,
			kubeproxy.Node{ClusterCIDR: "10.0.0.0/8", MasqueradeAll: true, LocalhostNodePorts: &no}},
		{`{mode: ipvs, version: "1.31", scheduler: sh, nodePortAddresses: [primary], localhostNodePorts: true}`,
			kubeproxy.Node{ClusterCIDR: "10.244.0.0/16", IPVSScheduler: "sh", NodePortAddresses: []string{"10.0.0.10/32"}, LocalhostNodePorts: &yes}},
	} {
		topo := vxlanScenario(t, tc.kp)
		got := kubeProxyNode(topo, topo.Node("node-1"), nil)
		tc.want.Name, tc.want.IPs = "node-1", []string{"10.0.0.10"}
		tc.want.ServiceCIDRs = []string{"10.96.0.0/12"} // network.services
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.kp, got, tc.want)
		}
	}

	rules := func(kp string) string {
		p, err := Compile(vxlanScenario(t, kp), "t")
		if err != nil {
			t.Fatal(err)
		}
		ns := p.Namespace("t-node-1")
		var b strings.Builder
		b.WriteString(ns.IPTables.Restore())
		for _, s := range ns.Sysctls {
			fmt.Fprintf(&b, "sysctl %s=%s\n", s.Key, s.Value)
		}
		for _, s := range ns.IPVS {
			fmt.Fprintf(&b, "ipvs %s:%d %s\n", s.Addr, s.Port, s.Scheduler)
		}
		return b.String()
	}
	for _, tc := range []struct {
		kp            string
		want, notWant []string
	}{
		{`{mode: iptables, version: "1.28"}`,
			[]string{`-d 10.96.0.10 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`, "sysctl net.ipv4.conf.all.route_localnet=1", `-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`}, nil},
		{`{mode: iptables, version: "1.28", masqueradeAll: true}`,
			[]string{`-d 10.96.0.10 --dport 80 -j KUBE-MARK-MASQ`}, []string{`--dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`}},
		{`{mode: iptables, version: "1.28", clusterCIDR: ""}`,
			nil, []string{`-d 10.96.0.10 --dport 80 ! -s`, `-d 10.96.0.10 --dport 80 -j KUBE-MARK-MASQ`}},
		{`{mode: iptables, version: "1.28", localhostNodePorts: false}`,
			[]string{`-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS`}, []string{"route_localnet"}},
		{`{mode: ipvs, version: "1.31", scheduler: wrr}`,
			[]string{"ipvs 10.96.0.10:80 wrr", "ipvs 10.244.0.1:30080 wrr"}, []string{" rr\n"}},
		{`{mode: ipvs, version: "1.31"}`,
			[]string{`--match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`}, nil},
		{`{mode: ipvs, version: "1.31", clusterCIDR: ""}`,
			[]string{`--match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ`}, []string{`KUBE-CLUSTER-IP dst,dst ! -s`}},
	} {
		got := rules(tc.kp)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in\n%s", tc.kp, w, got)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: %q in\n%s", tc.kp, w, got)
			}
		}
	}
}

// lbScenario has a LoadBalancer Service with two ingress addresses (the
// second ipMode Proxy) and one without nodePorts.
func lbScenario(t *testing.T, kp string) *topology.Topology {
	t.Helper()
	topo, err := topology.Load("t.yaml", []byte(`name: t
nodes: [{name: node-1, ip: 10.0.0.10}, {name: node-2, ip: 10.0.0.11}]
pods: [{name: web-1, node: node-1, labels: {app: web}, ports: [80]}]
kubeProxy: `+kp+`
services:
  - name: two
    type: LoadBalancer
    selector: {app: web}
    ports: [{port: 80}]
    loadBalancerIngress: [{ip: 203.0.113.10}, {ip: 203.0.113.11, ipMode: Proxy}]
  - name: direct
    type: LoadBalancer
    selector: {app: web}
    ports: [{name: a, port: 80}, {name: b, port: 81, nodePort: 30081}]
    loadBalancerIP: 203.0.113.20
    allocateLoadBalancerNodePorts: false
cloud: {clients: [{name: internet}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestLoadBalancerIngress: kube-proxy sees every ingress address of the
// status that it captures (a Proxy one only before 1.30), and the SLB
// listens on each; a port without a nodePort has no NodePort rule and the
// SLB refuses it, saying why.
func TestLoadBalancerIngress(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want []string
	}{
		{"1.29", []string{"203.0.113.10", "203.0.113.11"}},
		{"1.30", []string{"203.0.113.10"}},
	} {
		topo := lbScenario(t, `{mode: iptables, version: "`+tc.v+`"}`)
		v, _ := kubeproxy.ParseVersion(tc.v)
		svcs := KubeProxyServices(topo, v)
		if got := svcs[0].LoadBalancerIPs; !slices.Equal(got, tc.want) {
			t.Errorf("%s: kube-proxy sees LB IPs %v, want %v", tc.v, got, tc.want)
		}
		if np := []int{svcs[1].Ports[0].NodePort, svcs[1].Ports[1].NodePort}; np[0] != 0 || np[1] != 30081 {
			t.Errorf("%s: nodePorts %v, want [0 30081]", tc.v, np)
		}
	}
	p, err := Compile(lbScenario(t, `{mode: iptables, version: "1.31"}`), "t")
	if err != nil {
		t.Fatal(err)
	}
	slb := p.Namespace("t-slb").IPTables.Restore()
	for _, w := range []string{
		`-A PREROUTING -d 203.0.113.10/32 -p tcp -m tcp --dport 80 -m comment --comment "default/two listener" -j SLB-`,
		`-A PREROUTING -d 203.0.113.11/32 -p tcp -m tcp --dport 80 -m comment --comment "default/two listener" -j SLB-`,
		`-A FORWARD -d 203.0.113.20/32 -p tcp -m tcp --dport 80 -m comment --comment "default/direct:a has no nodePort, and the SLB backends are nodes (allocateLoadBalancerNodePorts: false)" -j REJECT --reject-with tcp-reset`,
		`-A PREROUTING -d 203.0.113.20/32 -p tcp -m tcp --dport 81 -m comment --comment "default/direct:b listener" -j SLB-`,
		`--to-destination 10.0.0.11:30081`,
	} {
		if !strings.Contains(slb, w) {
			t.Errorf("SLB rules lack %q:\n%s", w, slb)
		}
	}
	if strings.Contains(slb, "--dport 80 -m comment --comment \"default/direct:a listener\"") {
		t.Errorf("the SLB forwards a port without a nodePort:\n%s", slb)
	}
	var routes []string
	for _, r := range p.Namespace("t-vpc").Routes {
		if r.Gw == "100.100.0.2" {
			routes = append(routes, r.Dst)
		}
	}
	if want := []string{"203.0.113.10", "203.0.113.11", "203.0.113.20"}; !slices.Equal(routes, want) {
		t.Errorf("VPC routes to the SLB %v, want %v", routes, want)
	}
	node := p.Namespace("t-node-1").IPTables.Restore()
	if !strings.Contains(node, `-A KUBE-NODEPORTS -m comment --comment default/direct:b -m tcp -p tcp --dport 30081 -j KUBE-EXT-`) ||
		strings.Contains(node, `-A KUBE-NODEPORTS -m comment --comment default/direct:a `) {
		t.Errorf("NodePort rules: want one for direct:b only:\n%s", node)
	}
}
