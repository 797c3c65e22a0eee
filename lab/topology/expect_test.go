package topology_test

import (
	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
	"net/netip"
	"strings"
	"testing"
)

// expectScenario is a small scenario whose one probe gets the expectation
// under test (indented to sit under "expect:").
func expectScenario(expect string) string {
	return `name: t
nodes: [{name: n1, ip: 10.0.0.10}, {name: n2, ip: 10.0.0.11}]
pods:
  - {name: web, node: n2, ip: 10.244.1.5, labels: {app: web}, ports: [80]}
services:
  - {name: web, type: LoadBalancer, selector: {app: web}, loadBalancerIP: 203.0.113.10, ports: [{port: 80, nodePort: 30080}]}
cloud: {clients: [{name: internet, ip: 198.51.100.10}]}
probes:
  - from: internet
    to: svc/web:loadbalancer
    expect:
` + expect
}

func TestConntrackAndSLBExpectations(t *testing.T) {
	topo, err := topology.Load("ok.yaml", []byte(expectScenario(`      slbBackends: [n1, n2]
      conntrack:
        - {node: n2, entry: "tcp src=internet:* dst=n2:30080 reply src=web:80 dst=10.0.0.11:*"}
        - {node: server, entry: "tcp src=* dst=server:80 reply src=server:80 dst=*:*"}
`)))
	if err != nil {
		t.Fatal(err)
	}
	e := topo.Probes[0].Expect
	if len(e.Conntrack) != 2 || len(e.SLBBackends) != 2 {
		t.Fatalf("expect %+v", e)
	}
	p := e.Conntrack[0].Pattern
	server := netip.MustParseAddr("10.244.1.5")
	if !p.Match("tcp", "198.51.100.10:40000", "10.0.0.11:30080", "10.244.1.5:80", "10.0.0.11:6000", server) {
		t.Errorf("%+v does not match the entry it describes", p)
	}
	for _, bad := range [][4]string{
		{"198.51.100.11:40000", "10.0.0.11:30080", "10.244.1.5:80", "10.0.0.11:6000"}, // another client
		{"198.51.100.10:40000", "10.0.0.11:30081", "10.244.1.5:80", "10.0.0.11:6000"}, // another port
		{"198.51.100.10:40000", "10.0.0.11:30080", "10.244.1.5:80", "10.0.0.10:6000"}, // another node
	} {
		if p.Match("tcp", bad[0], bad[1], bad[2], bad[3], server) {
			t.Errorf("%+v matches %v", p, bad)
		}
	}
	if p.Match("udp", "198.51.100.10:40000", "10.0.0.11:30080", "10.244.1.5:80", "10.0.0.11:6000", server) {
		t.Error("a TCP pattern matches a UDP entry")
	}
	s := e.Conntrack[1].Pattern
	if !s.UsesServer() || !s.Match("tcp", "1.2.3.4:5", "10.244.1.5:80", "10.244.1.5:80", "9.9.9.9:1", server) ||
		s.Match("tcp", "1.2.3.4:5", "10.244.1.6:80", "10.244.1.6:80", "9.9.9.9:1", server) {
		t.Errorf("server pattern %+v", s)
	}
}

func TestConntrackExpectationErrors(t *testing.T) {
	for _, tc := range []struct {
		name, expect string
		want         []string
	}{
		{"unknown node", `      conntrack:
        - {node: n9, entry: "tcp src=*:* dst=*:* reply src=*:* dst=*:*"}
`, []string{`ok.yaml:13: probes[0].expect.conntrack[0].node: node "n9" does not exist (fix: use one of: n1, n2, or server`}},
		{"no node", `      conntrack:
        - {entry: "tcp src=*:* dst=*:* reply src=*:* dst=*:*"}
`, []string{`probes[0].expect.conntrack[0].node: no node given`}},
		{"not an entry", `      conntrack:
        - {node: n1, entry: "tcp 1.2.3.4 -> 5.6.7.8"}
`, []string{`ok.yaml:13: probes[0].expect.conntrack[0].entry: entry "tcp 1.2.3.4 -> 5.6.7.8" is not PROTO src=HOST:PORT dst=HOST:PORT reply src=HOST:PORT dst=HOST:PORT (fix: write PROTO src=HOST:PORT`}},
		{"bad protocol", `      conntrack:
        - {node: n1, entry: "icmp src=*:* dst=*:* reply src=*:* dst=*:*"}
`, []string{`protocol "icmp" is not tcp or udp`}},
		{"missing key", `      conntrack:
        - {node: n1, entry: "tcp src=*:* 10.0.0.1:80 reply src=*:* dst=*:*"}
`, []string{`word 3 is "10.0.0.1:80", want dst=HOST:PORT`}},
		{"unknown host", `      conntrack:
        - {node: n1, entry: "tcp src=ghost:* dst=*:* reply src=*:* dst=*:*"}
`, []string{`src=ghost:*: "ghost" is neither an IPv4 address nor a pod, node or client of this scenario`}},
		{"bad port", `      conntrack:
        - {node: n1, entry: "tcp src=*:* dst=10.0.0.10:99999 reply src=*:* dst=*:*"}
`, []string{`port "99999" is not 1-65535 or *`}},
		{"no port", `      conntrack:
        - {node: n1, entry: "tcp src=10.0.0.10 dst=*:* reply src=*:* dst=*:*"}
`, []string{`src=10.0.0.10: want HOST:PORT (HOST:* for any port)`}},
		{"server without an answer", `      result: timeout
      conntrack:
        - {node: server, entry: "tcp src=*:* dst=*:* reply src=*:* dst=*:*"}
`, []string{`probes[0].expect.conntrack[0]: a timeout probe has no server for "server" to refer to`}},
		{"unknown SLB backend", `      slbBackends: [n1, n7]
`, []string{`probes[0].expect.slbBackends[1]: node "n7" does not exist (fix: name nodes (or outside hosts behind a listener) of this scenario: n1, n2)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := topology.Load("ok.yaml", []byte(expectScenario(tc.expect)))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", err, w)
				}
			}
			if n := len(err.(topology.Problems)); n != 1 {
				t.Errorf("%d problems, want 1:\n%s", n, err)
			}
		})
	}
}
