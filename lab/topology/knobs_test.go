package topology_test

import (
	"net/netip"
	"strings"
	"testing"

	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
)

// knobScenario is a one-node scenario with a kubeProxy mapping and one
// LoadBalancer Service, with the two lines a test changes.
func knobScenario(kubeProxy, service string) string {
	return "name: t\nnodes: [{name: n1}]\npods: [{name: web, node: n1, labels: {app: web}, ports: [80]}]\n" +
		"kubeProxy: " + kubeProxy + "\n" +
		"services:\n  - {name: s, type: LoadBalancer, selector: {app: web}, ports: [{port: 80}], " + service + "}\n"
}

const lbIP = "loadBalancerIP: 203.0.113.10"

// TestKubeProxyOptionErrors: every kube-proxy option and Service field is
// refused with its field, line and fix when the value is wrong or the
// version does not have it yet, naming the release that added it.
func TestKubeProxyOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, kubeProxy, service, want string
	}{
		{"clusterCIDR not a CIDR", `{mode: iptables, version: "1.28", clusterCIDR: 10.244.0.0}`, lbIP,
			`bad.yaml:4: kubeProxy.clusterCIDR: "10.244.0.0" is not a CIDR (fix: write a CIDR such as 10.244.0.0/16)`},
		{"nodePortAddresses before 1.10", `{mode: iptables, version: "1.9", nodePortAddresses: [10.0.0.0/16]}`, lbIP,
			`bad.yaml:4: kubeProxy.nodePortAddresses: kube-proxy 1.9 has no --nodeport-addresses: it arrived in 1.10 (#58052) (fix: drop nodePortAddresses (NodePorts then answer on every local address), or use kube-proxy 1.10 or later)`},
		{"primary before 1.31", `{mode: ipvs, version: "1.29", nodePortAddresses: [primary]}`, lbIP,
			`bad.yaml:4: kubeProxy.nodePortAddresses[0]: kube-proxy 1.29 has no nodePortAddresses value "primary": it arrived in 1.31 (#123105) (fix: list the CIDR of the node addresses instead, e.g. [10.0.0.0/16], or use kube-proxy 1.31 or later)`},
		{"primary with CIDRs", `{mode: iptables, version: "1.31", nodePortAddresses: [10.0.0.0/16, primary]}`, lbIP,
			`bad.yaml:4: kubeProxy.nodePortAddresses[1]: "primary" cannot be combined with CIDRs (kube-proxy refuses the mix) (fix: use "primary" alone, or only CIDRs)`},
		{"nodePortAddresses not a CIDR", `{mode: iptables, version: "1.28", nodePortAddresses: [10.0.0.10]}`, lbIP,
			`bad.yaml:4: kubeProxy.nodePortAddresses[0]: "10.0.0.10" is not a CIDR (fix: write a CIDR such as 10.0.0.0/16, or "primary")`},
		{"nodePortAddresses IPv6", `{mode: iptables, version: "1.28", nodePortAddresses: ["fd00::/64"]}`, lbIP,
			`bad.yaml:4: kubeProxy.nodePortAddresses[0]: "fd00::/64": only IPv4 is supported (fix: drop it: netlab's cluster is IPv4 only, and kube-proxy's IPv4 rules ignore IPv6 CIDRs)`},
		{"unknown scheduler", `{mode: ipvs, version: "1.31", scheduler: roundrobin}`, lbIP,
			`bad.yaml:4: kubeProxy.scheduler: the kernel has no IPVS scheduler "roundrobin" (no module ip_vs_roundrobin) (fix: use one of rr, wrr, lc, wlc, lblc, lblcr, sh, dh, sed, nq, fo, ovf, mh, twos)`},
		{"mh before 1.27", `{mode: ipvs, version: "1.26", scheduler: mh}`, lbIP,
			`bad.yaml:4: kubeProxy.scheduler: kube-proxy 1.26 accepts only its own list of IPVS schedulers; mh is accepted from 1.27 (#114878) (fix: use one of rr, wrr, lc, wlc, lblc, lblcr, sh, dh, sed, nq, or kube-proxy 1.27 or later)`},
		{"localhostNodePorts before 1.26", `{mode: iptables, version: "1.25", localhostNodePorts: false}`, lbIP,
			`bad.yaml:4: kubeProxy.localhostNodePorts: kube-proxy 1.25 has no --iptables-localhost-nodeports: it arrived in 1.26 (#108250) (fix: drop localhostNodePorts (before 1.26 NodePorts always answer on 127.0.0.1 in iptables mode), or use kube-proxy 1.26 or later)`},
		{"localhostNodePorts not a boolean", `{mode: iptables, version: "1.28", localhostNodePorts: maybe}`, lbIP,
			`bad.yaml:4: kubeProxy.localhostNodePorts: "maybe" is not true or false (fix: write true or false)`},
		{"allocateLoadBalancerNodePorts before 1.20", `{mode: iptables, version: "1.19"}`, lbIP + ", allocateLoadBalancerNodePorts: false",
			`bad.yaml:6: services[0].allocateLoadBalancerNodePorts: Kubernetes 1.19 has no allocateLoadBalancerNodePorts: it arrived in 1.20 (KEP-1864, alpha behind ServiceLBNodePortControl; on by default from 1.22) (fix: drop it (every LoadBalancer port then gets a nodePort), or use kube-proxy 1.20 or later: the scenario's version is the cluster's)`},
		{"ingress and loadBalancerIP", `{mode: iptables, version: "1.28"}`, lbIP + ", loadBalancerIngress: [{ip: 203.0.113.11}]",
			`bad.yaml:6: services[0].loadBalancerIngress: give the load balancer's addresses either as loadBalancerIP or as loadBalancerIngress, not both (fix: list every address under loadBalancerIngress and drop loadBalancerIP)`},
		{"ingress and loadBalancerIPMode", `{mode: iptables, version: "1.28"}`, "loadBalancerIPMode: Proxy, loadBalancerIngress: [{ip: 203.0.113.11}]",
			`bad.yaml:6: services[0].loadBalancerIPMode: loadBalancerIPMode is for loadBalancerIP; with loadBalancerIngress each address has its own ipMode (fix: give each loadBalancerIngress entry its ipMode)`},
		{"ingress twice", `{mode: iptables, version: "1.28"}`, "loadBalancerIngress: [{ip: 203.0.113.11}, {ip: 203.0.113.11}]",
			`bad.yaml:6: services[0].loadBalancerIngress[1].ip: 203.0.113.11 is already loadBalancerIngress[0] (fix: list each address once)`},
		{"ingress without ip", `{mode: iptables, version: "1.28"}`, "loadBalancerIngress: [{ipMode: VIP}]",
			`bad.yaml:6: services[0].loadBalancerIngress[0].ip: load balancer ingress 0 has no ip (fix: give each entry its address: {ip: 203.0.113.10})`},
		{"ingress ipMode", `{mode: iptables, version: "1.28"}`, "loadBalancerIngress: [{ip: 203.0.113.11, ipMode: proxy}]",
			`bad.yaml:6: services[0].loadBalancerIngress[0].ipMode: unknown load balancer ipMode "proxy" (fix: use VIP or Proxy)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := topology.Load("bad.yaml", []byte(knobScenario(tc.kubeProxy, tc.service)))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got\n  %v\nwant\n  %s", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"allocateLoadBalancerNodePorts on a NodePort Service",
			"name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: NodePort, ports: [{port: 80}], allocateLoadBalancerNodePorts: false}\n",
			`bad.yaml:4: services[0].allocateLoadBalancerNodePorts: only a LoadBalancer Service has allocateLoadBalancerNodePorts (fix: drop it, or make the Service type LoadBalancer)`},
		{"ingress on a ClusterIP Service",
			"name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, ports: [{port: 80}], loadBalancerIngress: [{ip: 203.0.113.11}]}\n",
			`bad.yaml:4: services[0].loadBalancerIngress: only a LoadBalancer Service has load balancer ingress addresses (fix: drop it, or make the Service type LoadBalancer)`},
		{"nodeport probe without a nodePort",
			knobScenario(`{mode: iptables, version: "1.28"}`, lbIP+", allocateLoadBalancerNodePorts: false") + "probes: [{from: n1, to: \"svc/s:nodeport@n1\"}]\n",
			`bad.yaml:7: probes[0].to: "svc/s:nodeport@n1": Service s's port 80 has no nodePort (allocateLoadBalancerNodePorts is false) (fix: write pod/NAME[:port], svc/NAME[:port|:nodeport@NODE|:loadbalancer|:external], node/NAME:port or IP:port)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := topology.Load("bad.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got\n  %v\nwant\n  %s", err, tc.want)
			}
		})
	}
}

// TestKubeProxyOptionsLoad: the options load at the versions that have
// them, and the Service fields are defaulted: a port of a LoadBalancer with
// allocateLoadBalancerNodePorts false gets no nodePort unless it names one,
// and every ingress address is a load balancer address.
func TestKubeProxyOptionsLoad(t *testing.T) {
	for _, kp := range []string{
		`{mode: ipvs, version: "1.31", masqueradeAll: true, clusterCIDR: "", nodePortAddresses: [primary], scheduler: mh, localhostNodePorts: false}`,
		`{mode: ipvs, version: "1.10", nodePortAddresses: [10.0.0.10/16], scheduler: wrr, clusterCIDR: 10.0.0.0/8}`,
		`{mode: iptables, version: "1.26", localhostNodePorts: true, nodePortAddresses: [0.0.0.0/0]}`,
		`{mode: iptables, version: "1.1", masqueradeAll: true, clusterCIDR: ""}`,
	} {
		if _, err := topology.Load("ok.yaml", []byte(knobScenario(kp, lbIP))); err != nil {
			t.Errorf("%s: %v", kp, err)
		}
	}
	topo, err := topology.Load("ok.yaml", []byte("name: t\nnodes: [{name: n1}]\nkubeProxy: {mode: iptables, version: \"1.20\"}\nservices:\n"+
		"  - name: s\n    type: LoadBalancer\n    allocateLoadBalancerNodePorts: false\n"+
		"    ports: [{name: a, port: 80}, {name: b, port: 81, nodePort: 30081}]\n"+
		"    loadBalancerIngress: [{ip: 203.0.113.10}, {ip: 203.0.113.11, ipMode: Proxy}]\n"+
		"  - {name: u, type: LoadBalancer, ports: [{port: 80}], loadBalancerIP: 203.0.113.20}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, u := topo.Service("s"), topo.Service("u")
	if s.Ports[0].NodePort != 0 || s.Ports[1].NodePort != 30081 {
		t.Errorf("allocateLoadBalancerNodePorts false: nodePorts %d, %d; want 0 and the explicit 30081", s.Ports[0].NodePort, s.Ports[1].NodePort)
	}
	if u.Ports[0].NodePort == 0 {
		t.Error("a LoadBalancer without the field got no nodePort")
	}
	want := []topology.LBIngress{{IP: "203.0.113.10", IPMode: "VIP"}, {IP: "203.0.113.11", IPMode: "Proxy"}}
	if len(s.LBIngress) != 2 || s.LBAddr != netip.MustParseAddr("203.0.113.10") {
		t.Fatalf("ingress %+v, LB address %s", s.LBIngress, s.LBAddr)
	}
	for i, in := range s.LBIngress {
		if in.IP != want[i].IP || in.IPMode != want[i].IPMode || in.Addr.String() != want[i].IP {
			t.Errorf("ingress %d: %+v, want %+v", i, in, want[i])
		}
	}
	if len(u.LBIngress) != 1 || u.LBIngress[0].Addr != u.LBAddr || u.LBIngress[0].IPMode != "VIP" {
		t.Errorf("loadBalancerIP's ingress: %+v", u.LBIngress)
	}
	// A listener of the lab's own must not take a second ingress address.
	_, err = topology.Load("bad.yaml", []byte("name: t\nnodes: [{name: n1}]\nservices:\n"+
		"  - {name: s, type: LoadBalancer, ports: [{port: 80}], loadBalancerIngress: [{ip: 203.0.113.10}, {ip: 203.0.113.11}]}\n"+
		"cloud:\n  clients: [{name: h, ports: [80]}]\n  listeners: [{ip: 203.0.113.11, port: 80, backend: h}]\n"))
	if err == nil || !strings.Contains(err.Error(), "cloud.listeners[0]: 203.0.113.11:80 is already Service s's listener") {
		t.Errorf("listener on a second ingress address: %v", err)
	}
}

// TestKubeProxyFeatureGates: kubeProxy.featureGates are checked against
// the version (unknown, absent or locked gates) and against the mode's
// own gate, at the kubeProxy line.
func TestKubeProxyFeatureGates(t *testing.T) {
	for _, tc := range []struct{ kubeProxy, want string }{
		{`{mode: ipvs, version: "1.37", featureGates: {KubeProxyIPVS: false}}`,
			`bad.yaml:4: kubeProxy.featureGates: kube-proxy 1.37 runs the IPVS mode only with feature gate KubeProxyIPVS on (fix: featureGates: {KubeProxyIPVS: true})`},
		{`{mode: iptables, version: "1.28", featureGates: {NoSuchGate: true}}`,
			`bad.yaml:4: kubeProxy.featureGates: feature gate "NoSuchGate" is not known to kube-proxy 1.28`},
	} {
		_, err := topology.Load("bad.yaml", []byte(knobScenario(tc.kubeProxy, lbIP)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v\nwant %s", tc.kubeProxy, err, tc.want)
		}
	}
	if _, err := topology.Load("ok.yaml", []byte(knobScenario(`{mode: ipvs, version: "1.37", featureGates: {KubeProxyIPVS: true}}`, lbIP))); err != nil {
		t.Errorf("KubeProxyIPVS on: %v", err)
	}
}
