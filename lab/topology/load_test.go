package topology_test

import (
	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
	"slices"
	"strings"
	"testing"
)

const good = `name: t
cni: {plugin: flannel, backend: vxlan}
nodes:
  - {name: node-1}
  - {name: node-2, ip: 10.0.0.50}
pods:
  - {name: a, node: node-1, ports: [80]}
  - {name: b, node: node-2, ip: 10.244.1.9, ports: [80, 8080]}
cloud: {clients: [{name: inet}]}
probes:
  - {from: a, to: pod/b:8080, expect: {server: b, clientIP: a}}
`

func TestLoadDefaults(t *testing.T) {
	topo, err := topology.Load("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := topo.Node("node-1"), topo.Node("node-2")
	if n1.Addr.String() != "10.0.0.10" || n2.Addr.String() != "10.0.0.50" {
		t.Errorf("node IPs %s %s", n1.Addr, n2.Addr)
	}
	if n1.PodNet.String() != "10.244.0.0/24" || n2.PodNet.String() != "10.244.1.0/24" || n1.Gateway.String() != "10.244.0.1" {
		t.Errorf("pod CIDRs %s %s gw %s", n1.PodNet, n2.PodNet, n1.Gateway)
	}
	if a := topo.Pod("a"); a.Addr.String() != "10.244.0.2" || a.Line != 7 {
		t.Errorf("pod a: %s line %d", a.Addr, a.Line)
	}
	if g := topo.Network.Gateway.String(); g != "10.0.255.253" {
		t.Errorf("VPC gateway %s", g)
	}
	if c := topo.Client("inet"); c.Addr.String() != "198.51.100.10" || c.Gateway.String() != "198.51.100.253" {
		t.Errorf("client %s gw %s", c.Addr, c.Gateway)
	}
	pr := topo.Probes[0]
	if pr.Expect.Result != topology.ResultConnected || pr.Expect.Repeat != 1 || pr.Name != "a -> pod/b:8080" {
		t.Errorf("probe defaults: %+v", pr)
	}
	r, err := topo.ResolveTarget("pod/b")
	if err != nil || r.Port != 80 || r.AddrPort().String() != "10.244.1.9:80" {
		t.Errorf("ResolveTarget pod/b = %v, %v", r, err)
	}
}

// TestLoadErrors feeds one kind of bad input per case and checks the whole
// message: file, line, field, what is wrong and the fix.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // each must appear in the error text
		lines      int      // how many problems
	}{
		{"yaml syntax", "name: t\nnodes: [ {name: a\n", []string{"bad.yaml:1: did not find expected ',' or '}'", "check the YAML syntax"}, 1},
		{"empty file", "", []string{"bad.yaml: the file is empty"}, 1},
		{"unknown field with suggestion", "name: t\nnodes: [{name: n1, ipp: 10.0.0.5}]\n", []string{`bad.yaml:2: nodes[0].ipp: unknown field "ipp" (fix: did you mean "ip"?)`}, 1},
		{"unknown top-level field", "name: t\nfoo: 1\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: foo: unknown field "foo" (fix: known fields here:`}, 1},
		{"wrong type", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, ports: [http]}]\n", []string{`bad.yaml:3: pods[0].ports[0]: "http" is not a number (fix: a port is a number from 1 to 65535; a named one is {name: http, port: 80})`}, 1},
		{"wrong type in the third pod", "name: t\nnodes: [{name: n1}]\npods:\n  - {name: a, node: n1}\n  - {name: b, node: n1}\n  - {name: c, node: n1, ports: [abc]}\n", []string{`bad.yaml:6: pods[2].ports[0]: "abc" is not a number (fix: a port is a number from 1 to 65535; a named one is {name: http, port: 80})`}, 1},
		{"fractional port", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, ports: [80.5]}]\n", []string{"bad.yaml:3: pods[0].ports[0]: 80.5 is not a whole number (fix: a port is a number from 1 to 65535; a named one is {name: http, port: 80})"}, 1},
		{"fractional named port", "name: t\nnodes: [{name: n1}]\npods:\n  - name: p\n    node: n1\n    ports:\n      - {name: http, port: 80.5}\n", []string{"bad.yaml:7: pods[0].ports[0].port: 80.5 is not a whole number (fix: a port is a number from 1 to 65535)"}, 1},
		{"fractional repeat", "name: t\nnodes: [{name: n1}]\nprobes:\n  - {from: n1, to: 10.0.0.1:80, expect: {repeat: 2.5}}\n", []string{"bad.yaml:4: probes[0].expect.repeat: 2.5 is not a whole number (fix: a count such as 10)"}, 1},
		{"fractional podCIDRSize", "name: t\nnetwork: {podCIDRSize: 24.5}\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: network.podCIDRSize: 24.5 is not a whole number (fix: a prefix length such as 24)"}, 1},
		{"huge port", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, ports: [99999999999999999999]}]\n", []string{"bad.yaml:3: pods[0].ports[0]: 99999999999999999999 is too large (fix: a port is a number from 1 to 65535; a named one is {name: http, port: 80})"}, 1},
		{"quoted nodePort", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: NodePort, ports: [{port: 80, nodePort: \"30080\"}]}\n", []string{`bad.yaml:4: services[0].ports[0].nodePort: "30080" is not a number (fix: a node port is a number from 30000 to 32767 (without quotes))`}, 1},
		{"not a boolean", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, hostNetwork: maybe}]\n", []string{`bad.yaml:3: pods[0].hostNetwork: "maybe" is not true or false (fix: write true or false)`}, 1},
		{"mapping for a list", "name: t\nnodes: [{name: n1}]\npods: {name: p, node: n1}\n", []string{`bad.yaml:3: pods: expected a list, not a mapping (fix: write a list: [a, b], or one "- " line per entry)`}, 1},
		{"list for a mapping", "name: t\ncni: [flannel]\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: cni: expected a mapping, not a list (fix: write a mapping of its fields: backend, plugin, version)"}, 1},
		{"list for a value", "name: [a, b]\nnodes: [{name: n1}]\n", []string{`bad.yaml:1: name: expected a single value, not a list (fix: write a single value (quote it if it contains ": " or starts with [ or {))`}, 1},
		{"list for labels", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, labels: [app]}]\n", []string{"bad.yaml:3: pods[0].labels: expected a mapping, not a list (fix: write key: value pairs, e.g. {app: web})"}, 1},
		{"null list entry", "name: t\nnodes: [{name: n1}]\npods: [~, {name: p, node: n1}]\n", []string{`bad.yaml:3: pods[0]: the list entry is empty (fix: remove the empty "-" entry, or write it out)`}, 1},
		{"empty list item", "name: t\nnodes:\n  - name: n1\n  -\n  - name: n2\n", []string{`bad.yaml:4: nodes[1]: the list entry is empty (fix: remove the empty "-" entry, or write it out)`}, 1},
		{"empty port entry", "name: t\nnodes: [{name: n1}]\npods:\n  - name: p\n    node: n1\n    ports:\n      - 80\n      -\n", []string{`bad.yaml:8: pods[0].ports[1]: the list entry is empty`}, 1},
		{"key given twice", "name: t\nnodes: [{name: n1}]\npods:\n  - name: p\n    node: n1\n    name: q\n", []string{`bad.yaml:6: pods[0].name: "name" is given twice (first on line 4) (fix: keep one of them)`}, 1},
		{"label given twice", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, labels: {app: a, app: b}}]\n", []string{`bad.yaml:3: pods[0].labels.app: "app" is given twice (first on line 3) (fix: keep one of them)`}, 1},
		{"second document", "name: t\nnodes: [{name: n1}]\n---\nname: u\nnodes: [{name: n2}]\n", []string{`bad.yaml:3: a second YAML document starts here (fix: a scenario is one YAML document: remove this "---" and what follows, or move it to a file of its own)`}, 1},
		{"second document after an end marker", "name: t\nnodes: [{name: n1}]\n...\n--- {name: u}\n", []string{`bad.yaml:4: a second YAML document starts here`}, 1},
		{"syntax error in a second document", "name: t\nnodes: [{name: n1}]\n---\nname: [\n", []string{"bad.yaml:4: did not find expected node content (fix: check the YAML syntax"}, 1},
		{"unknown field in a merged mapping", "name: t\nnodes: [{name: n1}]\ndefaults: &d {node: n1, prots: [80]}\npods:\n  - {<<: *d, name: p}\n", []string{`bad.yaml:3: defaults: unknown field "defaults"`, `bad.yaml:3: pods[0].prots: unknown field "prots" (fix: did you mean "ports"?)`}, 2},
		{"merge of a list", "name: t\nnodes: [{name: n1}]\npods:\n  - {<<: [a], name: p, node: n1}\n", []string{`bad.yaml:4: pods[0].<<: a merge key takes a mapping or a list of mappings, not "a" (fix: merge an anchored mapping: <<: *name, or <<: [*a, *b])`}, 1},
		{"podCIDRSize beyond /32", "name: t\nnetwork: {podCIDRSize: 33}\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: network.podCIDRSize: 33 is not an IPv4 prefix length (fix: use 16 to 30: kube-controller-manager refuses a --node-cidr-mask-size shorter than the cluster CIDR's prefix, and flannel a SubnetLen above 30, as a block holds its network address, the cni0 gateway, a pod and its broadcast address)"}, 1},
		{"podCIDRSize without room for a pod", "name: t\nnetwork: {podCIDRSize: 31}\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: network.podCIDRSize: a /31 block has no address left for a pod (fix: use 16 to 30:"}, 1},
		{"podCIDRSize shorter than the pods CIDR", "name: t\nnetwork: {podCIDRSize: 8}\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: network.podCIDRSize: per-node block /8 is larger than network.pods 10.244.0.0/16 (fix: use 16 to 30:"}, 1},
		{"podCIDRSize with a bad pods CIDR", "name: t\nnetwork: {pods: 10.244.0.1/16, podCIDRSize: 40}\nnodes: [{name: n1}]\n", []string{"network.pods: \"10.244.0.1/16\" has host bits set", "bad.yaml:2: network.podCIDRSize: 40 is not an IPv4 prefix length (fix: use network.pods' prefix length to 30:"}, 2},
		{"node pod CIDR too small", "name: t\nnodes: [{name: n1, podCIDR: 10.244.9.0/31}]\n", []string{"bad.yaml:2: nodes[0].podCIDR: a /31 block has no address left for a pod (fix: use a /30 or larger block: it holds its network address, the cni0 gateway, a pod and its broadcast address)"}, 1},
		{"IPv6 node network", "name: t\nnetwork: {nodes: \"fd00::/64\"}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: network.nodes: "fd00::/64": only IPv4 is supported (fix: use an IPv4 CIDR)`}, 1},
		{"IPv6 pod network", "name: t\nnetwork: {pods: \"fd00::/64\"}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: network.pods: "fd00::/64": only IPv4 is supported (fix: use an IPv4 CIDR)`}, 1},
		{"huge kube-proxy minor", "name: t\nkubeProxy: {mode: ipvs, version: \"1.99999999999999999999\"}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: kubeProxy.version: "1.99999999999999999999" is not a Kubernetes version`}, 1},
		{"huge flannel minor", "name: t\ncni: {backend: host-gw, version: \"0.99999999999999999999\"}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: cni.version: "0.99999999999999999999" is not a version`}, 1},
		{"fractional targetPort", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, ports: [{port: 80, targetPort: 80.5}]}\n", []string{`bad.yaml:4: services[0].ports[0].targetPort: targetPort "80.5" is neither a port number nor a port name (fix: use a port in 1-65535 or a pod port's name (up to 15 lower-case letters, digits and '-', e.g. http))`}, 1},
		{"huge targetPort", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, ports: [{port: 80, targetPort: 99999999999999999999}]}\n", []string{`bad.yaml:4: services[0].ports[0].targetPort: targetPort 99999999999999999999 is out of range`}, 1},
		{"targetPort name too long", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, ports: [{port: 80, targetPort: a-very-long-port-name}]}\n", []string{`targetPort "a-very-long-port-name" is neither a port number nor a port name`}, 1},
		{"healthCheckNodePort out of range", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, loadBalancerIP: 192.168.1.1, externalTrafficPolicy: Local, healthCheckNodePort: 99999999, ports: [{port: 80}]}\n", []string{"bad.yaml:4: services[0].healthCheckNodePort: healthCheckNodePort 99999999 is outside the NodePort range (fix: use 30000-32767)"}, 1},
		{"healthCheckNodePort without eTP Local", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, loadBalancerIP: 192.168.1.1, healthCheckNodePort: 30100, ports: [{port: 80}]}\n", []string{"bad.yaml:4: services[0].healthCheckNodePort: only a LoadBalancer Service with externalTrafficPolicy Local has a healthCheckNodePort (fix: drop it, or make the Service a LoadBalancer with externalTrafficPolicy: Local)"}, 1},
		{"healthCheckNodePort is the nodePort", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, loadBalancerIP: 192.168.1.1, externalTrafficPolicy: Local, healthCheckNodePort: 30100, ports: [{port: 80, nodePort: 30100}]}\n", []string{"bad.yaml:4: services[0].healthCheckNodePort: healthCheckNodePort 30100 is also this Service's nodePort (fix: give it a port of its own)"}, 1},
		{"healthCheckNodePort of another Service", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, loadBalancerIP: 192.168.1.1, externalTrafficPolicy: Local, healthCheckNodePort: 30100, ports: [{port: 80}]}\n  - {name: u, type: NodePort, ports: [{port: 80, nodePort: 30100}]}\n", []string{"bad.yaml:4: services[0].healthCheckNodePort: healthCheckNodePort 30100 is already used by Service u (fix: give it a port no other Service uses)"}, 1},
		{"listener backendPort out of range", "name: t\nnodes: [{name: n1}]\ncloud:\n  clients: [{name: web, ip: 192.168.2.50, ports: [443]}]\n  listeners:\n    - {ip: 192.168.1.200, port: 443, backend: web, backendPort: 70000}\n", []string{"bad.yaml:6: cloud.listeners[0].backendPort: port 70000 is out of range (fix: use a port in 1-65535)"}, 1},
		{"listener next to a Service port out of range", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, loadBalancerIP: 192.168.1.200, ports: [{port: 66979}]}\ncloud:\n  clients: [{name: web, ip: 192.168.2.50, ports: [1443]}]\n  listeners:\n    - {ip: 192.168.1.200, port: 1443, backend: web}\n", []string{"bad.yaml:4: services[0].ports[0].port: port 66979 is out of range"}, 1},

		{"security group on a flannel node", "name: t\nnodes: [{name: n1, securityGroups: [sg-a]}]\ncloud:\n  securityGroups: [{name: sg-a}]\n", []string{"bad.yaml:2: nodes[0].securityGroups: the flannel plugin gives the node no ENI that a security group applies to (fix: use cni plugin terway, whose ENIs are in security groups, or drop the field)"}, 1},
		{"unknown security group", "name: t\ncni: {plugin: terway}\nnodes: [{name: n1, securityGroups: [sg-b]}]\ncloud:\n  securityGroups: [{name: sg-a}]\n", []string{`bad.yaml:3: nodes[0].securityGroups: no security group is named "sg-b" (fix: define it under cloud.securityGroups)`}, 1},
		{"pod security group on eniip", "name: t\ncni: {plugin: terway}\nnodes: [{name: n1}]\ncloud:\n  securityGroups: [{name: sg-a}]\npods:\n  - {name: p, node: n1, securityGroups: [sg-a]}\n", []string{"bad.yaml:7: pods[0].securityGroups: terway eniip gives a pod no ENI of its own (fix: use backend eni or trunking, or drop the field)"}, 1},
		{"trunk pod in a missing group", "name: t\ncni: {plugin: terway, backend: trunking}\nnodes: [{name: n1}]\ncloud:\n  securityGroups: [{name: sg-a}]\npods:\n  - {name: p, node: n1, securityGroups: [sg-b]}\n", []string{`bad.yaml:7: pods[0].securityGroups: no security group is named "sg-b" (fix: define it under cloud.securityGroups)`}, 1},
		{"hostNetwork trunk pod", "name: t\ncni: {plugin: terway, backend: trunking}\nnodes: [{name: n1}]\ncloud:\n  securityGroups: [{name: sg-a}]\npods:\n  - {name: p, node: n1, hostNetwork: true, securityGroups: [sg-a]}\n", []string{"bad.yaml:7: pods[0].securityGroups: a hostNetwork pod has no ENI of its own (fix: drop the field, or hostNetwork)"}, 1},
		{"member ENI VLAN out of range", "name: t\ncni: {plugin: terway, backend: trunking}\nnodes: [{name: n1}]\ncloud:\n  securityGroups: [{name: sg-a}]\npods:\n  - {name: p, node: n1, securityGroups: [sg-a], vlan: 4095}\n", []string{"bad.yaml:7: pods[0].vlan: VLAN id 4095 is out of range (fix: use a VLAN id from 1 to 4094)"}, 1},
		{"member ENI VLAN taken", "name: t\ncni: {plugin: terway, backend: trunking}\nnodes: [{name: n1}]\ncloud:\n  securityGroups: [{name: sg-a}]\npods:\n  - {name: p, node: n1, securityGroups: [sg-a], vlan: 1027}\n  - {name: q, node: n1, securityGroups: [sg-a], vlan: 1027}\n", []string{"bad.yaml:8: pods[1].vlan: VLAN 1027 is taken by another member ENI on node n1 (fix: give each member ENI of a node its own VLAN)"}, 1},
		{"VLAN of a pod without member ENI", "name: t\ncni: {plugin: terway, backend: trunking}\nnodes: [{name: n1}]\ncloud:\n  securityGroups: [{name: sg-a}]\npods:\n  - {name: p, node: n1, vlan: 1027}\n", []string{"bad.yaml:7: pods[0].vlan: the pod has no member ENI: it has no securityGroups of its own (fix: give the pod securityGroups (its PodNetworking's), or drop the field)"}, 1},
		{"VLAN on eni", "name: t\ncni: {plugin: terway, backend: eni}\nnodes: [{name: n1}]\npods:\n  - {name: p, node: n1, vlan: 7}\n", []string{"bad.yaml:5: pods[0].vlan: terway eni gives a pod no member ENI on a VLAN (fix: drop the field, or use a backend with member ENIs (terway trunking))"}, 1},
		{"terway eBPF datapath", "name: t\ncni: {plugin: terway, backend: ipvlan-ebpf}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: cni.backend: terway backend "ipvlan-ebpf" is not built: Terway's IPvlan + eBPF runs Cilium's eBPF Service load balancing inside each pod, which netlab does not run; use ipvlan for the IPvlan L2 datapath with the tc ServiceCIDR redirect (fix: terway backends: eniip, eni, trunking, ipvlan)`}, 1},
		{"terway DataPath V2", "name: t\ncni: {plugin: terway, backend: datapathv2}\nnodes: [{name: n1}]\n", []string{`cni.backend: terway backend "datapathv2" is not built: Terway's DataPath V2 is veth + policy routing with chained Cilium eBPF`}, 1},
		{"security group twice", "name: t\nnodes: [{name: n1}]\ncloud:\n  securityGroups: [{name: sg-a}, {name: sg-a}]\n", []string{`bad.yaml:4: cloud.securityGroups[1].name: security group "sg-a" is defined twice (fix: give each group its own name)`}, 1},
		{"security group rule", "name: t\nnodes: [{name: n1}]\ncloud:\n  securityGroups:\n    - name: sg-a\n      ingress:\n        - {priority: 101, action: deny, protocol: icmp, ports: \"80\", cidr: 10.0.0.0/33}\n        - {protocol: tcp, ports: \"90/80\"}\n", []string{
			"bad.yaml:7: cloud.securityGroups[0].ingress[0].priority: priority 101 is out of range (fix: use 1 (first) to 100)",
			`bad.yaml:7: cloud.securityGroups[0].ingress[0].action: unknown action "deny" (fix: use accept or drop)`,
			"bad.yaml:7: cloud.securityGroups[0].ingress[0].ports: protocol icmp has no ports (fix: drop ports, or use protocol tcp or udp)",
			`bad.yaml:7: cloud.securityGroups[0].ingress[0].cidr: "10.0.0.0/33" is not an IPv4 CIDR`,
			`bad.yaml:8: cloud.securityGroups[0].ingress[1].ports: "90/80" is not a port or port range`}, 5},
		{"unknown cni plugin", "name: t\ncni: {plugin: weave}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: cni.plugin: unknown CNI plugin "weave" (fix: supported plugins: flannel, terway)`}, 1},
		{"unknown backend", "name: t\ncni: {backend: udp}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: cni.backend: unknown flannel backend "udp" (fix: flannel backends: vxlan, host-gw, vpc-route)`}, 1},
		{"bad cidr", "name: t\nnetwork: {pods: 10.244.0.0/33}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: network.pods: "10.244.0.0/33" is not a CIDR`}, 1},
		{"host bits", "name: t\nnetwork: {pods: 10.244.0.1/16}\nnodes: [{name: n1}]\n", []string{`network.pods: "10.244.0.1/16" has host bits set (fix: write 10.244.0.0/16)`}, 1},
		{"overlapping cidrs", "name: t\nnetwork: {nodes: 10.0.0.0/8, pods: 10.244.0.0/16, services: 192.168.0.0/16}\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: network.pods: 10.244.0.0/16 overlaps network.nodes 10.0.0.0/8 (fix: give nodes, pods and services disjoint CIDRs)"}, 1},
		{"pod on a missing node", "name: t\nnodes: [{name: n1}]\npods:\n  - {name: p, node: n9}\n", []string{`bad.yaml:4: pods[0].node: node "n9" does not exist (fix: add the node under nodes, or use one of: n1)`}, 1},
		{"duplicate names", "name: t\nnodes: [{name: n1}]\npods:\n  - {name: n1, node: n1}\n", []string{`bad.yaml:4: pods[0].name: "n1" is already the name of a node`}, 1},
		{"bad name", "name: t\nnodes: [{name: Node_1}]\n", []string{`bad.yaml:2: nodes[0].name: node name "Node_1" is not a DNS label`}, 1},
		{"reserved name", "name: t\nnodes: [{name: vpc}]\n", []string{`"vpc" is reserved`}, 1},
		{"node ip outside", "name: t\nnodes: [{name: n1, ip: 192.168.1.1}]\n", []string{"bad.yaml:2: nodes[0].ip: 192.168.1.1 is outside network.nodes 10.0.0.0/16"}, 1},
		{"node ip is the gateway", "name: t\nnodes: [{name: n1, ip: 10.0.255.253}]\n", []string{"is the VPC gateway"}, 1},
		{"duplicate node ip", "name: t\nnodes: [{name: n1, ip: 10.0.0.5}, {name: n2, ip: 10.0.0.5}]\n", []string{"10.0.0.5 is already node n1's address"}, 1},
		{"pod ip outside its node's block", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, ip: 10.244.7.2}]\n", []string{"bad.yaml:3: pods[0].ip: 10.244.7.2 is outside node n1's pod CIDR 10.244.0.0/24 (fix: pick an address in 10.244.0.0/24)"}, 1},
		{"pod ip is the gateway", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, ip: 10.244.0.1}]\n", []string{"network, gateway or broadcast"}, 1},
		{"port out of range", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, ports: [70000]}]\n", []string{"pods[0].ports: port 70000 is out of range"}, 1},
		{"overlapping pod cidrs", "name: t\nnodes: [{name: n1, podCIDR: 10.244.0.0/23}, {name: n2}]\n", []string{"nodes[1].podCIDR: 10.244.1.0/24 overlaps node n1's pod CIDR 10.244.0.0/23"}, 1},
		{"probe from unknown", "name: t\nnodes: [{name: n1}]\nprobes:\n  - {from: ghost, to: 10.0.0.1:80}\n", []string{`bad.yaml:4: probes[0].from: "ghost": no pod, node or client is named "ghost"`}, 1},
		{"probe target without port", "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1}]\nprobes:\n  - {from: n1, to: pod/p}\n", []string{"pod p declares no ports; name one"}, 1},
		{"bad expectation", "name: t\nnodes: [{name: n1}]\nprobes:\n  - from: n1\n    to: 10.0.0.1:80\n    expect: {result: ok}\n", []string{`bad.yaml:6: probes[0].expect.result: unknown result "ok" (fix: use connected, refused, timeout or unreachable)`}, 1},
		{"no nodes", "name: t\n", []string{"bad.yaml:1: nodes: the scenario has no nodes"}, 1},
		{"unknown service type", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: Ingress, ports: [{port: 80}]}\n", []string{`bad.yaml:4: services[0].type: unknown service type "Ingress" (fix: use ClusterIP, NodePort or LoadBalancer)`}, 1},
		{"nodePort out of range", "name: t\nnodes: [{name: n1}]\nservices:\n  - name: s\n    type: NodePort\n    ports:\n      - {port: 80, nodePort: 80}\n", []string{"bad.yaml:7: services[0].ports[0].nodePort: nodePort 80 is outside the NodePort range (fix: use 30000-32767)"}, 1},
		{"load balancer without an IP", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, ports: [{port: 80}]}\n", []string{"services[0].loadBalancerIP: LoadBalancer Service s has no loadBalancerIP"}, 1},
		{"eTP on a ClusterIP service", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, externalTrafficPolicy: Local, ports: [{port: 80}]}\n", []string{"services[0].externalTrafficPolicy: a ClusterIP Service has no external traffic policy"}, 1},
		{"clusterIP outside the service CIDR", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, clusterIP: 10.244.0.9, ports: [{port: 80}]}\n", []string{"services[0].clusterIP: 10.244.0.9 is outside network.services 10.96.0.0/12"}, 1},
		{"probe to a missing service", "name: t\nnodes: [{name: n1}]\nprobes:\n  - {from: n1, to: svc/web}\n", []string{`bad.yaml:4: probes[0].to: "svc/web": no Service is named "web"`}, 1},
		{"bad when pattern", "name: t\nnodes: [{name: n1}]\nprobes:\n  - from: n1\n    to: 10.0.0.1:80\n    when:\n      - {kubeProxy: ipvs@new, expect: {result: refused}}\n", []string{`bad.yaml:7: probes[0].when[0].kubeProxy: bad kube-proxy pattern "ipvs@new"`}, 1},
		{"bad kube-proxy mode", "name: t\nkubeProxy: {mode: ebpf}\nnodes: [{name: n1}]\n", []string{`bad.yaml:2: kubeProxy.mode: unknown kube-proxy mode "ebpf"`}, 1},
		{"client on the node network", "name: t\nnodes: [{name: n1, ip: 10.0.0.5}]\ncloud: {clients: [{name: vm, ip: 10.0.0.5}]}\n", []string{"cloud.clients[0].ip: 10.0.0.5 is inside network.nodes 10.0.0.0/16 (fix: a client is a host behind the VPC router"}, 1},
		{"client inside the pod network", "name: t\nnodes: [{name: n1}]\ncloud: {clients: [{name: vm, ip: 10.244.9.9}]}\n", []string{"cloud.clients[0].ip: 10.244.9.9 is inside network.pods"}, 1},
		{"bad ipMode", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, loadBalancerIP: 1.2.3.4, loadBalancerIPMode: proxy, ports: [{port: 80}]}\n", []string{`bad.yaml:4: services[0].loadBalancerIPMode: unknown load balancer ipMode "proxy" (fix: use VIP or Proxy)`}, 1},
		{"hostname on a ClusterIP service", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, loadBalancerHostname: a.example, ports: [{port: 80}]}\n", []string{"services[0].loadBalancerHostname: only a LoadBalancer Service has a load balancer hostname"}, 1},
		{"listener without a backend host", "name: t\nnodes: [{name: n1}]\ncloud:\n  listeners:\n    - {ip: 192.168.1.200, port: 443, backend: web}\n", []string{`bad.yaml:5: cloud.listeners[0].backend: no outside host is named "web" (fix: add the host under cloud.clients with ports: [443])`}, 1},
		{"listener backend port not served", "name: t\nnodes: [{name: n1}]\ncloud:\n  clients: [{name: web, ip: 192.168.2.50, ports: [8443]}]\n  listeners:\n    - {ip: 192.168.1.200, port: 443, backend: web}\n", []string{"bad.yaml:6: cloud.listeners[0].backendPort: web does not serve port 443 (fix: add 443 to web's ports)"}, 1},
		{"listener on a Service's port", "name: t\nnodes: [{name: n1}]\nservices:\n  - {name: s, type: LoadBalancer, loadBalancerIP: 192.168.1.200, ports: [{port: 443}]}\ncloud:\n  clients: [{name: web, ip: 192.168.2.50, ports: [443]}]\n  listeners:\n    - {ip: 192.168.1.200, port: 443, backend: web}\n", []string{"bad.yaml:8: cloud.listeners[0]: 192.168.1.200:443 is already Service s's listener"}, 1},
		{"unknown listener field", "name: t\nnodes: [{name: n1}]\ncloud:\n  listeners:\n    - {ip: 192.168.1.200, port: 443, backnd: web}\n", []string{"bad.yaml:5"}, 1},
		{"bad probe protocol", "name: t\nnodes: [{name: n1}]\nprobes:\n  - {from: n1, to: 10.0.0.1:53, protocol: sctp}\n", []string{`bad.yaml:4: probes[0].protocol: unknown protocol "sctp" (fix: use TCP or UDP)`}, 1},
		{"decidedBy on a connected probe", "name: t\nnodes: [{name: n1}]\nprobes:\n  - from: n1\n    to: 10.0.0.1:80\n    expect: {decidedBy: KUBE-SERVICES}\n", []string{"probes[0].expect.decidedBy: a connected probe has no deciding rule"}, 1},
		{"pod block inside a carved-out node network", "name: t\nnetwork: {nodes: 172.17.0.0/16, pods: 172.16.0.0/12}\nnodes: [{name: n1, ip: 172.17.42.31, podCIDR: 172.17.1.0/24}]\n", []string{"bad.yaml:3: nodes[0].podCIDR: 172.17.1.0/24 overlaps network.nodes 172.17.0.0/16"}, 1},
		{"old flannel with host-gw", "name: t\ncni: {plugin: flannel, backend: host-gw, version: \"0.7\"}\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: cni.version: only the vxlan backend is modelled for flannel 0.7"}, 1},
		{"userspace after its removal", "name: t\nkubeProxy: {mode: userspace, version: \"1.26\"}\nnodes: [{name: n1}]\n", []string{"bad.yaml:2: kubeProxy.version: kube-proxy 1.26 has no userspace mode: it was removed in 1.26 (#112133); use 1.25 or older"}, 1},
		{"when with an unknown backend", "name: t\nnodes: [{name: n1}]\nprobes:\n  - from: n1\n    to: 10.0.0.1:80\n    when:\n      - {cni: ipip, expect: {result: refused}}\n", []string{`bad.yaml:7: probes[0].when[0].cni: unknown flannel backend "ipip" (fix: flannel backends: vxlan, host-gw, vpc-route)`}, 1},
		{"several problems at once", "name: t\nnodes: [{name: n1}]\npods:\n  - {name: p, node: n9}\n  - {name: q, node: n1, ports: [0]}\n", []string{"bad.yaml:4:", "bad.yaml:5:"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := topology.Load("bad.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", msg, w)
				}
			}
			if n := len(err.(topology.Problems)); n != tc.lines {
				t.Errorf("%d problems, want %d:\n%s", n, tc.lines, msg)
			}
		})
	}
}

func TestMatchKubeProxy(t *testing.T) {
	kp := &topology.KubeProxy{Mode: "ipvs", Version: "1.22"}
	for pattern, want := range map[string]bool{
		"ipvs": true, "iptables": false, "ipvs@1.22": true, "ipvs@<1.24": true, "ipvs@>=1.24": false,
		"ipvs@<=1.22": true, "ipvs@>1.21": true, "ipvs@v1.22": true,
	} {
		if got, err := topology.MatchKubeProxy(pattern, kp); err != nil || got != want {
			t.Errorf("MatchKubeProxy(%q) = %v, %v; want %v", pattern, got, err, want)
		}
	}
}

// TestExpectedByBackend: a when entry may name a topology.CNI backend, alone or with
// a kube-proxy pattern; the first match wins.
func TestExpectedByBackend(t *testing.T) {
	p := topology.Probe{Expect: topology.Expect{Result: "connected"}, When: []topology.When{
		{CNI: "host-gw", KubeProxy: "ipvs", Expect: topology.Expect{Result: "timeout"}},
		{CNI: "host-gw", Expect: topology.Expect{Result: "refused"}},
		{KubeProxy: "ipvs", Expect: topology.Expect{Result: "unreachable"}},
	}}
	// when names the entry that won, for the test table.
	for _, tc := range []struct{ backend, mode, want, when string }{
		{"host-gw", "ipvs", "timeout", "ipvs on host-gw"},
		{"host-gw", "iptables", "refused", "host-gw"},
		{"vxlan", "ipvs", "unreachable", "ipvs"},
		{"vxlan", "iptables", "connected", ""},
	} {
		topo := &topology.Topology{CNI: topology.CNI{Plugin: "flannel", Backend: tc.backend}, KubeProxy: &topology.KubeProxy{Mode: tc.mode, Version: "1.28"}}
		if got := p.Expected(topo); got.Result != tc.want || got.When != tc.when {
			t.Errorf("%s/%s: %s (when %q), want %s (when %q)", tc.backend, tc.mode, got.Result, got.When, tc.want, tc.when)
		}
	}
}

// TestWithKubeProxy: --kube-proxy changes the mode and version and keeps
// the scenario's options (a Terway cluster's clusterCIDR ""), dropping,
// with a note, those the new version refuses; a version that takes them
// all keeps them all.
func TestWithKubeProxy(t *testing.T) {
	top, err := topology.Load("s.yaml", []byte("name: t\nkubeProxy: {mode: iptables, version: \"1.31\", clusterCIDR: \"\", masqueradeAll: true, nodePortAddresses: [primary], localhostNodePorts: false}\nnodes: [{name: n1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := topology.ParseKubeProxy("ipvs@1.24")
	if err != nil {
		t.Fatal(err)
	}
	got, notes := top.WithKubeProxy(kp)
	if got.Mode != "ipvs" || got.Version != "1.24" || got.ClusterCIDR == nil || *got.ClusterCIDR != "" || !got.MasqueradeAll || got.NodePortAddresses != nil || got.LocalhostNodePorts != nil {
		t.Errorf("merged: %+v", got)
	}
	want := []string{ // "primary" is 1.31's, --iptables-localhost-nodeports 1.26's
		`--kube-proxy ipvs@1.24: the scenario's kubeProxy.nodePortAddresses does not apply to it, dropped`,
		`--kube-proxy ipvs@1.24: the scenario's kubeProxy.localhostNodePorts does not apply to it, dropped`,
	}
	if !slices.Equal(notes, want) {
		t.Errorf("notes %q, want %q", notes, want)
	}
	kp, _ = topology.ParseKubeProxy("nftables@1.33")
	if got, notes := top.WithKubeProxy(kp); len(notes) != 0 || len(got.NodePortAddresses) != 1 || got.LocalhostNodePorts == nil {
		t.Errorf("nftables@1.33: %+v, notes %q", got, notes)
	}
	if top.KubeProxy.Mode != "iptables" || len(top.KubeProxy.NodePortAddresses) != 1 {
		t.Errorf("the scenario's own kubeProxy changed: %+v", top.KubeProxy)
	}
}
