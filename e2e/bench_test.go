package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/probes"
	"github.com/netlab/netlab/topologies"
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

// BenchmarkProbe is one cross-node probe with its conntrack capture, in
// three forms: without hops (the baseline), with a packet capture opened
// for the probe (netlab probe), and through one tracer shared by a batch
// (netlab test).
func BenchmarkProbe(b *testing.B) {
	testenv.RequireRoot(b)
	sc := builtin(b, "flannel-vxlan")
	name := testenv.Prefix(b) + "-bp"
	l, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand})
	if err != nil {
		b.Fatal(err)
	}
	defer lab.Down(name)
	tr, err := probes.NewTracer(l, false)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	for _, bc := range []struct {
		name string
		o    probes.Options
	}{
		{"no-hops", probes.Options{NoHops: true}},
		{"hops", probes.Options{}},
		{"hops-shared-tracer", probes.Options{Tracer: tr}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				r, err := probes.Run(l, "client-a", "pod/web-2", bc.o)
				if err != nil || r.Result != "connected" {
					b.Fatal(fmt.Sprint(r, err))
				}
			}
		})
	}
}

// BenchmarkTrace is netlab trace on a three-node lab (flannel-cluster-mode,
// kube-proxy iptables 1.28, a ClusterIP with endpoints on two other nodes):
// capture, iptables-save before and after on every node, conntrack and the
// verdict. The target is under a second.
func BenchmarkTrace(b *testing.B) {
	testenv.RequireRoot(b)
	data, _ := topologies.Get("flannel-cluster-mode")
	sc, err := lab.LoadScenario("builtin:flannel-cluster-mode.yaml", data, "iptables@1.28")
	if err != nil {
		b.Fatal(err)
	}
	name := testenv.Prefix(b) + "-bt"
	l, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand})
	if err != nil {
		b.Fatal(err)
	}
	defer lab.Down(name)
	for b.Loop() {
		r, err := probes.Run(l, "centos", "svc/nginx1", probes.Options{Rules: true})
		if err != nil || r.Result != "connected" || len(r.Decisions) == 0 {
			b.Fatal(fmt.Sprint(r, err))
		}
	}
}
