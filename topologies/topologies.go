// Package topologies is the scenario catalog, embedded in the binary so that
// `netlab up flannel-vxlan` works from any directory.
package topologies

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the built-in scenarios.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Get returns a built-in scenario's YAML.
func Get(name string) ([]byte, bool) {
	data, err := files.ReadFile(name + ".yaml")
	return data, err == nil
}

// Synthetic returns a generated flannel vxlan scenario of nodes x pods (each
// pod serving port 80), for benchmarks and load tests. Its pod network is a
// /9 so that even thousands of nodes get a /24 each.
func Synthetic(name string, nodes, pods int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ncni: {plugin: flannel, backend: vxlan}\nnetwork: {pods: 10.128.0.0/9}\nnodes:\n", name)
	for i := 0; i < nodes; i++ {
		fmt.Fprintf(&b, "  - {name: n%d}\n", i)
	}
	b.WriteString("pods:\n")
	for i := 0; i < nodes; i++ {
		for j := 0; j < pods; j++ {
			fmt.Fprintf(&b, "  - {name: p%d-%d, node: n%d, ports: [80]}\n", i, j, i)
		}
	}
	return []byte(b.String())
}

// SyntheticServices returns a generated one-node scenario with n Services
// of 3 endpoints each (every fifth a NodePort), kube-proxy iptables 1.28,
// and a client pod: a large cluster's Service count on the smallest lab,
// for benchmarks of what a big ruleset costs.
func SyntheticServices(name string, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ncni: {plugin: flannel, backend: vxlan}\nkubeProxy: {mode: iptables, version: \"1.28\"}\n", name)
	b.WriteString("network: {nodes: 10.0.0.0/16, pods: 10.244.0.0/16, services: 10.96.0.0/12}\nnodes:\n  - {name: node-1}\npods:\n")
	b.WriteString("  - {name: client, node: node-1, labels: {app: client}}\n")
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "  - {name: web-%d, node: node-1, labels: {app: web}, ports: [80]}\n", i)
	}
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		typ := ""
		if i%5 == 0 {
			typ = ", type: NodePort"
		}
		fmt.Fprintf(&b, "  - {name: svc-%d, selector: {app: web}, ports: [{port: 80}]%s}\n", i, typ)
	}
	return []byte(b.String())
}
