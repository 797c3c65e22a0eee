package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// TestLBIPCapture checks which CLB addresses kube-proxy binds to kube-ipvs0
// in seed002-clb: svc1's always, svc2's (hostname annotation) never, svc3's
// (ipMode Proxy) only before 1.30. Under iptables mode the same rule decides
// whether KUBE-SERVICES has a rule for the address.
func TestLBIPCapture(t *testing.T) {
	data, _ := topologies.Get("seed002-clb")
	for _, tc := range []struct {
		kp   string
		want []string
	}{
		{"ipvs@1.22", []string{"192.168.1.200", "192.168.1.202"}},
		{"ipvs@1.29", []string{"192.168.1.200", "192.168.1.202"}},
		{"ipvs@1.30", []string{"192.168.1.200"}},
		{"ipvs@1.31", []string{"192.168.1.200"}},
	} {
		kp, err := topology.ParseKubeProxy(tc.kp)
		if err != nil {
			t.Fatal(err)
		}
		topo, err := topology.Load("seed002-clb.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		topo.KubeProxy = kp
		p, err := Compile(topo, "t")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range p.Namespace(plan.NSName("t", "node-1")).Addrs {
			if a.Dev == kubeproxy.IPVSDummyDevice && a.CIDR >= "192.168.1." && a.CIDR < "192.168.2." {
				got = append(got, a.CIDR[:len(a.CIDR)-3])
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: LB IPs on kube-ipvs0 %v, want %v", tc.kp, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    string
		want map[string]bool
	}{
		{"1.29", map[string]bool{"svc1": true, "svc2": false, "svc3": true}},
		{"1.30", map[string]bool{"svc1": true, "svc2": false, "svc3": false}},
	} {
		topo, _ := topology.Load("seed002-clb.yaml", data)
		v, _ := kubeproxy.ParseVersion(tc.v)
		for _, s := range KubeProxyServices(topo, v) {
			if got := len(s.LoadBalancerIPs) > 0; got != tc.want[s.Name] {
				t.Errorf("iptables %s: %s has LB IPs %v, want captured=%v", tc.v, s.Name, s.LoadBalancerIPs, tc.want[s.Name])
			}
		}
	}
}

// TestIPVSMachineOptions: strictARP comes from the scenario and the kernel
// version from the machine (conn_reuse_mode is left alone from 5.9).
func TestIPVSMachineOptions(t *testing.T) {
	data, _ := topologies.Get("flannel-cluster-mode")
	sysctls := func(kernel string, strict bool) map[string]string {
		topo, err := topology.Load("flannel-cluster-mode.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		topo.KubeProxy.StrictARP = strict
		p, err := CompileWith(topo, "t", Options{KernelVersion: kernel})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, s := range p.Namespace(plan.NSName("t", "node-180")).Sysctls {
			out[s.Key] = s.Value
		}
		return out
	}
	if s := sysctls("4.19.0-27-amd64", false); s["net.ipv4.vs.conn_reuse_mode"] != "0" || s["net.ipv4.conf.all.arp_ignore"] != "" {
		t.Errorf("4.19, no strict ARP: %v", s)
	}
	if s := sysctls("6.1.0-18-amd64", true); s["net.ipv4.vs.conn_reuse_mode"] != "" || s["net.ipv4.conf.all.arp_ignore"] != "1" || s["net.ipv4.conf.all.arp_announce"] != "2" {
		t.Errorf("6.1, strict ARP: %v", s)
	}
}

// TestTerminatingServing: a terminating pod is published serving only while
// it is Ready (the EndpointSlice controller's podToEndpoint), so from 1.28
// kube-proxy falls back to it when it is the only endpoint and Ready, and
// has no endpoint when it also fails its readiness probe. netlab used to
// publish every terminating pod as serving.
func TestTerminatingServing(t *testing.T) {
	for _, tc := range []struct {
		ready      string
		serving    bool
		noEndpoint bool
	}{
		{"true", true, false},
		{"false", false, true},
	} {
		yaml := `name: t
nodes: [{name: node-1}]
pods:
  - {name: client, node: node-1}
  - {name: web, node: node-1, labels: {app: web}, ports: [80], terminating: true, ready: ` + tc.ready + `}
kubeProxy: {mode: iptables, version: "1.28"}
services: [{name: web, selector: {app: web}, ports: [{port: 80}]}]
`
		topo, err := topology.Load("t.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		eps := KubeProxyServices(topo, kubeproxy.Version{Major: 1, Minor: 28})[0].Endpoints
		if len(eps) != 1 || *eps[0].Serving != tc.serving || *eps[0].Ready || !*eps[0].Terminating {
			t.Errorf("ready %s: endpoint %+v, want serving=%v ready=false terminating=true", tc.ready, eps, tc.serving)
		}
		p, err := Compile(topo, "t")
		if err != nil {
			t.Fatal(err)
		}
		rules := p.Namespace("t-node-1").IPTables.Restore()
		if got := strings.Contains(rules, `"default/web has no endpoints"`); got != tc.noEndpoint {
			t.Errorf("ready %s: \"has no endpoints\" rule present=%v, want %v\n%s", tc.ready, got, tc.noEndpoint, rules)
		}
	}
}

// TestNamedTargetPortProtocol: a named targetPort is found by name and
// protocol (Kubernetes' FindPort), so a UDP Service port named "dns" does
// not pick the pod's TCP port called "dns"; before, netlab matched by name
// alone.
func TestNamedTargetPortProtocol(t *testing.T) {
	topo, err := topology.Load("t.yaml", []byte(`name: t
nodes: [{name: node-1}]
pods:
  - name: dns
    node: node-1
    labels: {app: dns}
    ports: [{name: dns, port: 5353}, {name: dns-udp, port: 53, protocol: UDP}]
services:
  - name: dns
    selector: {app: dns}
    ports: [{name: udp, port: 53, protocol: UDP, targetPort: dns}, {name: tcp, port: 53, protocol: TCP, targetPort: dns}]
`))
	if err != nil {
		t.Fatal(err)
	}
	eps := KubeProxyServices(topo, kubeproxy.Version{Major: 1, Minor: 28})[0].Endpoints
	if len(eps) != 1 || len(eps[0].Ports) != 1 || eps[0].Ports[0].Name != "tcp" || eps[0].Ports[0].Port != 5353 {
		t.Errorf("endpoints %+v: want only the TCP port, 5353 (the pod has no UDP port named dns)", eps)
	}
	_, err = topology.Load("t.yaml", []byte("name: t\nnodes: [{name: n}]\npods: [{name: p, node: n, ports: [{port: 80, protocol: tcp}]}]\n"))
	if err == nil || !strings.Contains(err.Error(), `t.yaml:3: pods[0].ports[0].protocol: unknown protocol "tcp" (fix: use TCP or UDP)`) {
		t.Errorf("lower-case protocol: %v", err)
	}
}
