package probes

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/topology"
)

const expectTopo = `name: t
nodes: [{name: n1, ip: 10.0.0.10}, {name: n2, ip: 10.0.0.11}]
pods:
  - {name: web, node: n2, ip: 10.244.1.5, labels: {app: web}, ports: [80]}
services:
  - {name: web, type: LoadBalancer, selector: {app: web}, loadBalancerIP: 203.0.113.10, ports: [{port: 80, nodePort: 30080}]}
cloud: {clients: [{name: internet, ip: 198.51.100.10}]}
probes:
  - from: internet
    to: svc/web:loadbalancer@n1
    expect:
      slbBackends: [n1]
      conntrack:
        - {node: n1, entry: "tcp src=internet:* dst=n1:30080 reply src=server:80 dst=n1:*"}
        - {node: server, entry: "tcp src=n1:* dst=server:80 reply src=server:80 dst=n1:*"}
`

// linkOne is A5's flow: the SLB sends the client to n1, which DNATs and
// masquerades it to the pod on n2.
func linkOne() *Result {
	return &Result{
		Result: topology.ResultConnected, Server: &Server{Pod: "web", Node: "n2"}, Pinned: "n1", SLBBackend: "n1",
		Hops: []Hop{{Owner: "internet"}, {Owner: "vpc"}, {Owner: "slb"}, {Owner: "vpc"}, {Owner: "n1"}, {Owner: "vpc"}, {Owner: "n2"}, {Owner: "web"}},
		Conntrack: map[string][]Flow{
			"n1": {newFlow(6, ap("198.51.100.10:40000"), ap("10.0.0.10:30080"), ap("10.244.1.5:80"), ap("10.0.0.10:5555"), "TIME_WAIT", 0)},
			"n2": {newFlow(6, ap("10.0.0.10:5555"), ap("10.244.1.5:80"), ap("10.244.1.5:80"), ap("10.0.0.10:5555"), "TIME_WAIT", 0)},
		},
	}
}

func TestCompareConntrackAndSLB(t *testing.T) {
	topo, err := topology.Load("t.yaml", []byte(expectTopo))
	if err != nil {
		t.Fatal(err)
	}
	want := topo.Probes[0].Expect
	if f := Compare(topo, want, linkOne()); len(f) != 0 {
		t.Fatalf("the flow the expectation describes fails it: %v", f)
	}
	for _, tc := range []struct {
		name   string
		change func(r *Result)
		want   string
	}{
		{"missing entry", func(r *Result) { delete(r.Conntrack, "n2") }, `conntrack on n2: no entry "tcp src=n1:* dst=server:80 reply src=server:80 dst=n1:*" (has none)`},
		{"extra entry", func(r *Result) {
			r.Conntrack["n2"] = append(r.Conntrack["n2"], newFlow(6, ap("10.0.0.10:5555"), ap("10.96.0.10:80"), ap("10.244.1.5:80"), ap("10.0.0.10:5555"), "", 0))
		}, `conntrack on n2: unexpected entry "tcp src=10.0.0.10:5555 dst=10.96.0.10:80 reply src=10.244.1.5:80 dst=10.0.0.10:5555"`},
		{"client IP kept", func(r *Result) {
			r.Conntrack["n1"] = []Flow{newFlow(6, ap("198.51.100.10:40000"), ap("10.0.0.10:30080"), ap("10.244.1.5:80"), ap("198.51.100.10:40000"), "", 0)}
		}, `conntrack on n1: no entry "tcp src=internet:* dst=n1:30080 reply src=server:80 dst=n1:*"`},
		{"another server", func(r *Result) { r.Server.Pod = "internet" }, "conntrack on n1: no entry"},
		{"no server", func(r *Result) { r.Server = nil }, `conntrack: no server answered, so "tcp src=n1:* dst=server:80 reply src=server:80 dst=n1:*" cannot be checked`},
		{"pin not honoured", func(r *Result) { r.SLBBackend = "n2" }, "pinned to n1, but the SLB forwarded it to n2"},
		{"never through the SLB", func(r *Result) {
			r.SLBBackend = ""
			r.Hops = []Hop{{Owner: "internet"}, {Owner: "vpc"}, {Owner: "n1"}}
		}, "pinned to n1, but the SLB forwarded it to nowhere (the request never reached the SLB)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := linkOne()
			tc.change(r)
			got := strings.Join(Compare(topo, want, r), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("failures\n  %s\nwant one containing\n  %s", got, tc.want)
			}
		})
	}
	// The SLB dropped it (its ACL): no pin was broken.
	r0 := linkOne()
	r0.SLBBackend, r0.Hops = "", []Hop{{Owner: "internet"}, {Owner: "vpc"}, {Owner: "slb"}}
	if got := strings.Join(compareSLB(topology.Expect{}, r0), "\n"); got != "" {
		t.Errorf("an SLB that forwarded nothing broke the pin: %s", got)
	}
	// Another SLB backend than expected, without a pin.
	r := linkOne()
	r.Pinned, r.SLBBackend = "", "n2"
	if got := strings.Join(Compare(topo, want, r), "\n"); !strings.Contains(got, "the SLB forwarded it to n2, want one of n1") {
		t.Errorf("failures %q", got)
	}
}

func TestSLBBackend(t *testing.T) {
	for _, tc := range []struct {
		hops []string
		want string
	}{
		{[]string{"internet", "vpc", "slb", "vpc", "n1", "vpc", "n2", "web"}, "n1"},
		{[]string{"ecs-vm", "vpc", "slb", "vpc", "ecs-web"}, "ecs-web"},
		{[]string{"client", "n1", "vpc", "n2", "web"}, ""},
	} {
		var hs []Hop
		for _, o := range tc.hops {
			hs = append(hs, Hop{Owner: o})
		}
		if got := slbBackend(hs); got != tc.want {
			t.Errorf("slbBackend(%v) = %q, want %q", tc.hops, got, tc.want)
		}
	}
}

// newFlow is a TCP or UDP conntrack entry for tests of the comparisons,
// which read only the protocol and the tuples.
func newFlow(proto uint8, osrc, odst, rsrc, rdst netip.AddrPort, state string, mark uint32) Flow {
	return Flow{Proto: protoName(proto), ProtoNum: proto, State: state, Mark: mark,
		Orig: Tuple{Src: osrc.String(), Dst: odst.String()}, Reply: Tuple{Src: rsrc.String(), Dst: rdst.String()}}
}
