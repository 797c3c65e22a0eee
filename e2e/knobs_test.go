package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/kernel"
)

// knobsScenario is two flannel vxlan nodes (node-1 10.0.0.10 with cni0
// 10.244.0.1 and flannel.1 10.244.0.0; node-2 10.0.0.11, 10.244.1.1,
// 10.244.1.0), a client pod and web-1 on node-1, web-2 on node-2, and
// Services on each: near (web-1), far (web-2, NodePort 30080), local (a
// LoadBalancer with externalTrafficPolicy Local on web-2's node only),
// two (a LoadBalancer with two ingress addresses) and direct (a
// LoadBalancer without nodePorts). kubeProxy and probes are the test's.
func knobsScenario(name, kubeProxy, probes string) string {
	return fmt.Sprintf(`name: %s
cni: {plugin: flannel, backend: vxlan}
network: {nodes: 10.0.0.0/16, pods: 10.244.0.0/16, services: 10.96.0.0/12}
kubeProxy: %s
nodes: [{name: node-1, ip: 10.0.0.10}, {name: node-2, ip: 10.0.0.11}]
pods:
  - {name: client, node: node-1}
  - {name: web-1, node: node-1, labels: {app: web1, app-all: web}, ports: [80]}
  - {name: web-2, node: node-2, labels: {app: web2, app-all: web}, ports: [80]}
services:
  - {name: near, selector: {app: web1}, ports: [{port: 80}]}
  - {name: far, type: NodePort, selector: {app: web2}, ports: [{port: 80, nodePort: 30080}]}
  - {name: all, selector: {app-all: web}, ports: [{port: 80}]}
  - name: local
    type: LoadBalancer
    selector: {app: web2}
    ports: [{port: 80, nodePort: 30090}]
    externalTrafficPolicy: Local
    loadBalancerIP: 203.0.113.30
  - name: two
    type: LoadBalancer
    selector: {app: web2}
    ports: [{port: 80, nodePort: 30081}]
    loadBalancerIngress: [{ip: 203.0.113.10}, {ip: 203.0.113.11}]
  - name: direct
    type: LoadBalancer
    selector: {app: web2}
    ports: [{port: 80}]
    loadBalancerIP: 203.0.113.20
    allocateLoadBalancerNodePorts: false
cloud:
  clients: [{name: internet, ip: 198.51.100.10}]
probes:
%s`, name, kubeProxy, probes)
}

// TestKubeProxyOptionsIPTables runs each kube-proxy option of the scenario
// against the same cluster without it, natively (iptables mode): what the
// server sees, and which addresses a NodePort answers on.
func TestKubeProxyOptionsIPTables(t *testing.T) {
	for _, tc := range []struct {
		name, kubeProxy, probes string
	}{
		{"defaults", `{mode: iptables, version: "1.31"}`, `
  - {name: pod to a same-node ClusterIP keeps its IP, from: client, to: svc/near, expect: {server: web-1, clientIP: client}}
  - {name: pod to a remote ClusterIP keeps its IP, from: client, to: svc/far, expect: {server: web-2, clientIP: client}}
  - {name: "pod to an eTP=Local LB IP without a local endpoint is short-circuited to the ClusterIP by the detector", from: client, to: "svc/local:loadbalancer", expect: {server: web-2, clientIP: client}}
  - {name: NodePort answers on eth0, from: client, to: "svc/far:nodeport@node-2", expect: {server: web-2}}
  - {name: NodePort answers on cni0, from: client, to: "10.244.1.1:30080", expect: {server: web-2}}
  - {name: NodePort answers on 127.0.0.1, from: node-1, to: "127.0.0.1:30080", expect: {server: web-2}}
`},
		{"masqueradeAll", `{mode: iptables, version: "1.31", masqueradeAll: true}`, `
  - {name: "same node: masqueraded to cni0's address", from: client, to: svc/near, expect: {server: web-1, clientIP: 10.244.0.1}}
  - {name: "other node: masqueraded to flannel.1's address", from: client, to: svc/far, expect: {server: web-2, clientIP: 10.244.0.0}}
  - {name: "a pod reaching the pod directly is not masqueraded", from: client, to: pod/web-2, expect: {server: web-2, clientIP: client}}
`},
		{"no cluster CIDR", `{mode: iptables, version: "1.31", clusterCIDR: ""}`, `
  - {name: pod to a remote ClusterIP keeps its IP, from: client, to: svc/far, expect: {server: web-2, clientIP: client}}
  - {name: "pod to an eTP=Local LB IP without a local endpoint: no detector, so no short-circuit, and no local endpoint", from: client, to: "svc/local:loadbalancer", expect: {result: timeout, decidedBy: has no local endpoints}}
`},
		{"nodePortAddresses", `{mode: iptables, version: "1.31", nodePortAddresses: [10.244.0.0/16]}`, `
  - {name: NodePort answers on cni0, from: client, to: "10.244.1.1:30080", expect: {server: web-2}}
  - {name: NodePort answers on flannel.1, from: client, to: "10.244.1.0:30080", expect: {server: web-2}}
  - {name: "NodePort does not answer on eth0 (outside nodePortAddresses)", from: client, to: "svc/far:nodeport@node-2", expect: {result: refused}}
  - {name: "nor on 127.0.0.1", from: node-1, to: "127.0.0.1:30080", expect: {result: refused}}
`},
		{"primary", `{mode: iptables, version: "1.31", nodePortAddresses: [primary]}`, `
  - {name: NodePort answers on eth0, from: client, to: "svc/far:nodeport@node-2", expect: {server: web-2}}
  - {name: "NodePort does not answer on cni0", from: client, to: "10.244.1.1:30080", expect: {result: refused}}
`},
		{"localhostNodePorts", `{mode: iptables, version: "1.31", localhostNodePorts: false}`, `
  - {name: "NodePort does not answer on 127.0.0.1", from: node-1, to: "127.0.0.1:30080", expect: {result: refused}}
  - {name: NodePort still answers on eth0, from: node-1, to: "svc/far:nodeport@node-2", expect: {server: web-2}}
`},
		{"load balancer", `{mode: iptables, version: "1.31"}`, `
  - {name: the first ingress address, from: internet, to: "svc/two:loadbalancer", expect: {server: web-2, clientIPPreserved: false}}
  - {name: "the second ingress address: the SLB forwards it to a node's NodePort too", from: internet, to: "203.0.113.11:80", expect: {server: web-2, clientIPPreserved: false, repeat: 20, slbBackends: [node-1, node-2]}}
  - {name: "a pod reaches the second one on its own node (kube-proxy captures both)", from: client, to: "203.0.113.11:80", expect: {server: web-2, clientIP: 10.244.0.0, hops: ["client:eth0", "node-1:veth", "node-1:cni0", "node-1:flannel.1", "node-1:eth0", vpc, "node-2:eth0", "node-2:flannel.1", "node-2:cni0", "node-2:veth", "web-2:eth0"]}}
  - {name: "no nodePort: the SLB has no backend", from: internet, to: "svc/direct:loadbalancer", expect: {result: refused, decidedBy: "has no nodePort, and the SLB backends are nodes"}}
  - {name: "no nodePort: kube-proxy still captures the LB IP", from: client, to: "203.0.113.20:80", expect: {server: web-2}}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "knobs-" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			runChecks(t, up(t, scenario(t, name+".yaml", []byte(knobsScenario(name, tc.kubeProxy, tc.probes))), "k"))
		})
	}
}

// TestKubeProxyOptionsIPVS runs in the guest (IPVS): a NodePort answers on
// every address of the node (cni0's and flannel.1's, not only eth0's), as
// the real IPVS proxier binds one virtual server per local address; the
// scheduler is the scenario's (sh keeps one client on one server, rr
// spreads it); masqueradeAll hides a pod behind its node.
func TestKubeProxyOptionsIPVS(t *testing.T) {
	testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
	for _, tc := range []struct {
		name, kubeProxy, probes string
	}{
		{"nodeports", `{mode: ipvs, version: "1.31"}`, `
  - {name: NodePort on the node's eth0 address, from: client, to: "svc/far:nodeport@node-1", expect: {server: web-2}}
  - {name: NodePort on the node's own cni0 address, from: client, to: "10.244.0.1:30080", expect: {server: web-2}}
  - {name: NodePort on another node's cni0 address, from: client, to: "10.244.1.1:30080", expect: {server: web-2}}
  - {name: NodePort on another node's flannel.1 address, from: node-1, to: "10.244.1.0:30080", expect: {server: web-2}}
  - {name: rr spreads one client over both endpoints, from: client, to: svc/all, expect: {repeat: 10, servers: 2}}
`},
		{"scheduler sh", `{mode: ipvs, version: "1.31", scheduler: sh}`, `
  - {name: sh keeps one client on one endpoint, from: client, to: svc/all, expect: {repeat: 10, servers: 1}}
`},
		{"nodePortAddresses", `{mode: ipvs, version: "1.31", nodePortAddresses: [10.0.0.0/16]}`, `
  - {name: NodePort on eth0, from: client, to: "svc/far:nodeport@node-2", expect: {server: web-2}}
  - {name: "no NodePort on cni0 (outside nodePortAddresses)", from: client, to: "10.244.1.1:30080", expect: {result: refused}}
`},
		{"masqueradeAll", `{mode: ipvs, version: "1.31", masqueradeAll: true}`, `
  - {name: "other node: masqueraded to flannel.1's address", from: client, to: svc/far, expect: {server: web-2, clientIP: 10.244.0.0}}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "knobs-ipvs-" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			runChecks(t, up(t, scenario(t, name+".yaml", []byte(knobsScenario(name, tc.kubeProxy, tc.probes))), "v"))
		})
	}
}
