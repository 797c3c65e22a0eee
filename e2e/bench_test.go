package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/probes"
)

// BenchmarkUpDown10x10 brings a 10-node x 10-pod flannel vxlan lab up and
// down (scripts/bench compares larger sizes with an ip -batch baseline).
func BenchmarkUpDown10x10(b *testing.B) {
	testenv.RequireRoot(b)
	data, err := os.ReadFile(bigScenario(b, 10, 10))
	if err != nil {
		b.Fatal(err)
	}
	sc := scenario(b, "big.yaml", data)
	name := testenv.Prefix(b) + "-bud"
	for b.Loop() {
		if _, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand}); err != nil {
			b.Fatal(err)
		}
		if err := lab.Down(name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbe is one cross-node probe with its conntrack capture.
func BenchmarkProbe(b *testing.B) {
	testenv.RequireRoot(b)
	sc := builtin(b, "flannel-vxlan")
	name := testenv.Prefix(b) + "-bp"
	l, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand})
	if err != nil {
		b.Fatal(err)
	}
	defer lab.Down(name)
	for b.Loop() {
		r, err := probes.Run(l, "client-a", "pod/web-2", probes.Options{})
		if err != nil || r.Result != "connected" {
			b.Fatal(fmt.Sprint(r, err))
		}
	}
}
