package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// BenchmarkStoredPlan measures what the split of a stored plan is for (the
// figures in plan.go): compiling each large scenario, and reading back its
// wiring alone, each part with it, and the whole plan, with the size of
// what is read (bytes/read).
func BenchmarkStoredPlan(b *testing.B) {
	for _, sc := range []struct {
		name string
		yaml []byte
	}{
		{"5000-services", topologies.SyntheticServices("svc", 5000)},
		{"100x10", topologies.Synthetic("syn", 100, 10)},
	} {
		topo, err := topology.Load(sc.name+".yaml", sc.yaml)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(sc.name+"/compile", func(b *testing.B) {
			for b.Loop() {
				if _, err := compile.Compile(topo, "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
		p, err := compile.Compile(topo, "x")
		if err != nil {
			b.Fatal(err)
		}
		old := Dir
		Dir = b.TempDir()
		if err := Create(&State{Lab: "x", Phase: PhaseReady, Created: time.Now().UTC()}); err != nil {
			b.Fatal(err)
		}
		if err := SavePlan("x", p); err != nil {
			b.Fatal(err)
		}
		size := func(files ...string) float64 {
			n := int64(0)
			for _, f := range files {
				fi, err := os.Stat(filepath.Join(LabDir("x"), f))
				if err != nil {
					b.Fatal(err)
				}
				n += fi.Size()
			}
			return float64(n)
		}
		b.Run(sc.name+"/wiring", func(b *testing.B) {
			for b.Loop() {
				if _, err := LoadWiring("x"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(size(planFile), "bytes/read")
		})
		for _, pt := range PlanParts {
			b.Run(sc.name+"/wiring+"+string(pt), func(b *testing.B) {
				for b.Loop() {
					if _, err := LoadPlan("x", pt); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(size(planFile, partFile(pt)), "bytes/read")
			})
		}
		b.Run(sc.name+"/whole", func(b *testing.B) {
			for b.Loop() {
				if _, err := LoadPlan("x", PlanParts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(size(append([]string{planFile}, partFiles()...)...), "bytes/read")
		})
		Dir = old
	}
}
