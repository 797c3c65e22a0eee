package lab

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/topologies"
)

// record writes a lab's state as Up does before it applies: the state,
// then the plan it applies.
func record(t *testing.T, name, scenario string, o compile.Options) *plan.Plan {
	t.Helper()
	data, _ := topologies.Get(scenario)
	sc, err := LoadScenario("builtin:"+scenario+".yaml", data, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := compile.CompileWith(sc.Topology, name, o)
	if err != nil {
		t.Fatal(err)
	}
	st := &state.State{Lab: name, Scenario: scenario, Source: sc.Source, Topology: string(data),
		Namespaces: p.Names(), Phase: state.PhaseReady, Created: time.Now().UTC()}
	if err := state.Create(st); err != nil {
		t.Fatal(err)
	}
	if err := state.SavePlan(name, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func isolateState(t *testing.T) {
	old := state.Dir
	state.Dir = t.TempDir()
	t.Cleanup(func() { state.Dir = old })
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestOpenReadsAppliedPlan: the plan of an opened lab is the one up
// applied, not the scenario compiled again. The lab is recorded with a
// plan for kernel 5.4, where kube-proxy's IPVS mode sets conn_reuse_mode
// (it does not from 5.9; Compile assumes 6.1): Open's plan has it.
func TestOpenReadsAppliedPlan(t *testing.T) {
	isolateState(t)
	applied := record(t, "old-kernel", "flannel-cluster-mode", compile.Options{KernelVersion: "5.4.0"})
	const reuse = "net.ipv4.vs.conn_reuse_mode"
	hasReuse := func(p *plan.Plan) bool {
		for _, s := range p.Namespace("old-kernel-node-180").Sysctls {
			if s.Key == reuse {
				return true
			}
		}
		return false
	}
	if !hasReuse(applied) {
		t.Fatalf("the 5.4 plan has no %s: the test shows nothing", reuse)
	}
	l, err := Open("old-kernel")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := compile.Compile(l.Topology, "old-kernel"); hasReuse(c) {
		t.Fatalf("a 6.1 compile has %s too: the test shows nothing", reuse)
	}
	got, err := l.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if !hasReuse(got) {
		t.Errorf("Open's plan lacks %s: it is not the plan applied", reuse)
	}
	if want, have := jsonOf(t, applied), jsonOf(t, got); want != have {
		t.Errorf("Open's plan differs from the plan applied:\nwant %.300s\ngot  %.300s", want, have)
	}
	w, err := l.Wiring()
	if err != nil {
		t.Fatal(err)
	}
	if want, have := jsonOf(t, applied.Wiring()), jsonOf(t, w); want != have {
		t.Errorf("Open's wiring differs from the plan applied:\nwant %.300s\ngot  %.300s", want, have)
	}
	if ns := w.Namespace("old-kernel-node-180"); ns == nil || ns.IPVS == 0 || !ns.IPTables {
		t.Errorf("wiring of node-180: %+v", ns)
	}
}

// TestOpenUserspaceProxies: the proxies the daemon opens come with the
// stored plan (its proxies part), as compiled.
func TestOpenUserspaceProxies(t *testing.T) {
	isolateState(t)
	applied := record(t, "us", "seed003-flannel-userspace", compile.Options{})
	l, err := Open("us")
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.PlanWith(state.PartProxies)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ns := range applied.Namespaces {
		n += len(ns.UserspaceProxies)
		if want, have := jsonOf(t, ns.UserspaceProxies), jsonOf(t, p.Namespace(ns.Name).UserspaceProxies); want != have {
			t.Errorf("%s: proxies %s, applied %s", ns.Name, have, want)
		}
		if ns := p.Namespace(ns.Name); ns.IPTables != nil || len(ns.Routes) > 0 {
			t.Errorf("%s: PlanWith(proxies) read other parts too", ns.Name)
		}
	}
	if n == 0 {
		t.Fatal("the userspace scenario compiled no proxies")
	}
	w, _ := l.Wiring()
	if w.UserspaceProxies() != n || !hasServers(l.Topology, w) {
		t.Errorf("wiring counts %d proxies, plan has %d", w.UserspaceProxies(), n)
	}
}

// TestOpenOlderLab: a lab recorded without a plan opens (status, down
// work), but is broken for everything that observes it, and says why.
func TestOpenOlderLab(t *testing.T) {
	isolateState(t)
	data, _ := topologies.Get("flannel-vxlan")
	if err := state.Create(&state.State{Lab: "old", Scenario: "flannel-vxlan", Source: "builtin:flannel-vxlan.yaml", Topology: string(data),
		Phase: state.PhaseReady, Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	l, err := Open("old")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Wiring(); err == nil || !strings.Contains(err.Error(), "older netlab") {
		t.Errorf("Wiring: %v", err)
	}
	err = l.CheckHealthy()
	if err == nil || !strings.Contains(err.Error(), "brought up by an older netlab") || !strings.Contains(err.Error(), "netlab down old, then netlab up again") {
		t.Errorf("CheckHealthy: %v", err)
	}
}
