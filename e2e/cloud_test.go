package e2e

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
)

// inNodePortRange reports whether addr's port lies in the NodePort range.
func inNodePortRange(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && int(ap.Port()) >= topology.NodePortMin && int(ap.Port()) <= topology.NodePortMax
}

// TestSLBReturnIsExact: only replies of connections the SLB forwarded go
// back through it. A flow across the VPC router whose source port lies in
// the NodePort range (a client that happens to use such a port, a
// masquerade's random one) must take its ordinary path every time; a rule
// by source port sent it through the SLB.
func TestSLBReturnIsExact(t *testing.T) {
	l := upWith(t, "flannel-cluster-mode", "iptables@1.28", "x")
	tr, err := probes.NewTracer(l, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	o := probeOptions()
	o.Tracer = tr

	// A pod whose source port is in the range, to a pod on another node.
	a2 := []string{"centos:eth0", "node-180:veth", "node-180:cni0", "node-180:eth0", "vpc", "node-216:eth0", "node-216:cni0", "node-216:veth", "nginx1-s6z79:eth0"}
	pinned := o
	pinned.SourcePorts = [2]int{topology.NodePortMin, topology.NodePortMax}
	for i := 0; i < 5; i++ {
		r, err := probes.Run(l, "centos", "pod/nginx1-s6z79", pinned)
		if err != nil {
			t.Fatal(err)
		}
		if !inNodePortRange(r.ClientAddr) {
			t.Fatalf("client port %s is not in the NodePort range", r.ClientAddr)
		}
		wantPath(t, "pod to pod from port "+r.ClientAddr, r, a2...)
	}

	// A5: node-180 masquerades the client with a random source port; the
	// runs whose port landed in the NodePort range must take the same way.
	inRange := 0
	for i := 0; i < 400 && inRange < 3; i++ {
		r, err := probes.Run(l, "internet", "svc/nginx1:loadbalancer@node-180", o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Server == nil {
			t.Fatalf("run %d: %s (%s)", i, r.Result, r.Error)
		}
		n, p := r.Server.Node, r.Server.Pod
		wantPath(t, "A5 masqueraded as "+r.ClientAddrSeen, r, "internet:eth0", "vpc", "slb", "vpc", "node-180:eth0", "vpc", n+":eth0", n+":cni0", n+":veth", p+":eth0")
		if inNodePortRange(r.ClientAddrSeen) {
			inRange++
		}
	}
	if inRange == 0 {
		t.Fatal("400 masqueraded probes never got a source port in the NodePort range")
	}
}

// TestSLBPinHolds: svc/NAME:loadbalancer@NODE reaches NODE every time, also
// from a pod, whose connection leaves its node masqueraded with a random
// source port; and an in-cluster client reaches an LB IP that points back
// into the cluster (the SLB's answer comes back through it), except when
// the SLB picks the client's own node.
func TestSLBPinHolds(t *testing.T) {
	l := upWith(t, "seed002-clb", "iptables@1.22", "p")
	for _, tc := range []struct{ from, to, node string }{
		{"client-pod", "svc/svc2:loadbalancer@node-2", "node-2"},
		{"node-1", "svc/svc2:loadbalancer@node-2", "node-2"},
		{"ecs-vm", "svc/svc1:loadbalancer@node-1", "node-1"},
		{"ecs-vm", "svc/svc1:loadbalancer@node-2", "node-2"},
	} {
		for i := 0; i < 6; i++ {
			r := trace(t, l, tc.from, tc.to)
			if r.SLBBackend != tc.node || r.Result != "connected" {
				t.Errorf("%s -> %s: %s through the SLB to %q, want connected through %s\n%s", tc.from, tc.to, r.Result, r.SLBBackend, tc.node, probes.FormatHops(r.Hops))
			}
		}
	}
	r := trace(t, l, "client-pod", "svc/svc2:loadbalancer@node-1")
	if d := r.Verdict.DecidedBy; r.Result != "timeout" || r.SLBBackend != "node-1" || d == nil || !strings.Contains(d.Rule, "SLB loopback") {
		t.Errorf("loopback: %s through %q, verdict %s", r.Result, r.SLBBackend, r.Verdict.Summary)
	}
}

// TestBadPinIsAFailedCheck: a probe pinned to a node the SLB does not send
// the Service to fails with the reason, and the scenario's other probes
// still run.
func TestBadPinIsAFailedCheck(t *testing.T) {
	sc := scenario(t, "pins.yaml", []byte(`name: pins
cni: {plugin: flannel, backend: vxlan}
nodes: [{name: node-1}, {name: node-2}]
pods:
  - {name: web, node: node-2, labels: {app: web}, ports: [80]}
services:
  - {name: web, type: LoadBalancer, selector: {app: web}, externalTrafficPolicy: Local, loadBalancerIP: 203.0.113.10, ports: [{port: 80, nodePort: 30080}]}
cloud: {clients: [{name: internet, ip: 198.51.100.10}]}
probes:
  - {name: bad pin, from: internet, to: "svc/web:loadbalancer@node-1"}
  - {name: good pin, from: internet, to: "svc/web:loadbalancer@node-2", expect: {server: web, clientIP: internet, slbBackends: [node-2]}}
`))
	checks, err := probes.RunScenario(up(t, sc, "b"), probeOptions())
	if err != nil {
		t.Fatalf("one bad pin aborted the scenario: %v", err)
	}
	if len(checks) != 2 {
		t.Fatalf("%d checks, want 2", len(checks))
	}
	if c := checks[0]; c.Pass || len(c.Failures) != 1 ||
		c.Failures[0] != "cannot pin the SLB to node-1 for Service web: it is not one of the SLB's backends (externalTrafficPolicy Local and no ready endpoint there: the health check fails); pin one of: node-2" {
		t.Errorf("bad pin: pass %v, failures %q", c.Pass, c.Failures)
	}
	if c := checks[1]; !c.Pass {
		t.Errorf("good pin: %v", c.Failures)
	}
}

// TestNodeTraceHasNoRelay: a node's own connection to a ClusterIP is
// rewritten (DNAT, masquerade) before any device sees it; its hops start
// at the node's eth0, with no proxy relay step, which only kube-proxy's
// userspace mode has.
func TestNodeTraceHasNoRelay(t *testing.T) {
	l := upWith(t, "flannel-cluster-mode", "iptables@1.28", "r")
	assertNoRelay(t, l)
}

func assertNoRelay(t *testing.T, l *lab.Lab) {
	t.Helper()
	r := trace(t, l, "node-180", "svc/nginx1")
	if r.Server == nil {
		t.Fatalf("no answer: %s", r.Error)
	}
	n, p := r.Server.Node, r.Server.Pod
	wantPath(t, "node to ClusterIP", r, "node-180:eth0", "vpc", n+":eth0", n+":cni0", n+":veth", p+":eth0")
	if i := slices.IndexFunc(r.Hops, func(h probes.Hop) bool { return h.Dir == "relay" }); i >= 0 {
		t.Errorf("relay step at hop %d:\n%s", i+1, probes.FormatHops(r.Hops))
	}
}
