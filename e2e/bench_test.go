package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/compile"
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
		if _, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Compile: compile.ForHost, Apply: apply.Apply}); err != nil {
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
	l, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Compile: compile.ForHost, Apply: apply.Apply})
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
	l, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Compile: compile.ForHost, Apply: apply.Apply})
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

// BenchmarkProbeLarge is one probe to a Service (a pod to a ClusterIP) on
// a one-node lab with 5,000 Services (15,000 endpoints, a 5 MB iptables
// ruleset) beside the same probe on a three-node lab with a few: what a
// large ruleset adds to observing one flow. Each lab is probed bare
// (conntrack only), with hops (netlab probe: a tracer opened for the
// probe) and as netlab trace does (rule counters before and after).
func BenchmarkProbeLarge(b *testing.B) {
	testenv.RequireRoot(b)
	labs := []struct {
		name     string
		sc       *lab.Scenario
		from, to string
	}{
		{"3-node", builtin(b, "flannel-services"), "client", "svc/web"},
		{"5000-svc", scenario(b, "svc5000.yaml", topologies.SyntheticServices("svc5000", 5000)), "client", "svc/svc-0"},
	}
	for i, lb := range labs {
		name := fmt.Sprintf("%s-pl%d", testenv.Prefix(b), i)
		l, err := lab.Up(context.Background(), lb.sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Compile: compile.ForHost, Apply: apply.Apply})
		if err != nil {
			b.Fatal(err)
		}
		defer lab.Down(name)
		for _, bc := range []struct {
			name string
			o    probes.Options
		}{
			{"bare", probes.Options{NoHops: true}},
			{"hops", probes.Options{}},
			{"trace", probes.Options{Rules: true}},
		} {
			b.Run(lb.name+"/"+bc.name, func(b *testing.B) {
				for b.Loop() {
					// Opened as each netlab command opens it: from the state.
					ol, err := lab.Open(l.State.Lab)
					if err != nil {
						b.Fatal(err)
					}
					r, err := probes.Run(ol, lb.from, lb.to, bc.o)
					if err != nil || r.Result != "connected" {
						b.Fatal(fmt.Sprint(r, err))
					}
				}
			})
		}
	}
}
