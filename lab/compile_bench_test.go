package lab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/topology"
)

// bigTopology is N nodes x M pods of flannel vxlan.
func bigTopology(b *testing.B, nodes, pods int) *topology.Topology {
	var s strings.Builder
	s.WriteString("name: bench\ncni: {plugin: flannel, backend: vxlan}\nnetwork: {pods: 10.128.0.0/9}\nnodes:\n")
	for i := 0; i < nodes; i++ {
		fmt.Fprintf(&s, "  - {name: n%d}\n", i)
	}
	s.WriteString("pods:\n")
	for i := 0; i < nodes; i++ {
		for j := 0; j < pods; j++ {
			fmt.Fprintf(&s, "  - {name: p%d-%d, node: n%d, ports: [80]}\n", i, j, i)
		}
	}
	t, err := topology.Load("bench.yaml", []byte(s.String()))
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkCompile100x10 is the pure compile step for 1,000 pods.
func BenchmarkCompile100x10(b *testing.B) {
	t := bigTopology(b, 100, 10)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compile(t, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
