package compile

import (
	"testing"

	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// BenchmarkCompile100x10 is the pure compile step for 1,000 pods.
func BenchmarkCompile100x10(b *testing.B) {
	t, err := topology.Load("bench.yaml", topologies.Synthetic("bench", 100, 10))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compile(t, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
