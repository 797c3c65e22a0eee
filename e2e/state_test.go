package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
)

func planJSON(t *testing.T, p *plan.Plan) string {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestStoredPlan: up stores the plan it applied; a lab opened again (as
// every command opens it) has exactly that plan, its daemon opened the
// userspace proxies of that plan, and the scenario's probes and traces pass
// through it. A lab without a stored plan (an older netlab's) is refused
// with the fix, and down still removes it.
func TestStoredPlan(t *testing.T) {
	l := upWith(t, "seed003-flannel-userspace", "", "sp")
	opened, err := lab.Open(l.State.Lab)
	if err != nil {
		t.Fatal(err)
	}
	if want, got := planJSON(t, appliedPlan(t, l)), planJSON(t, appliedPlan(t, opened)); want != got {
		t.Fatalf("Open's plan differs from the plan up applied:\nwant %.400s\ngot  %.400s", want, got)
	}
	runChecks(t, opened)
	probe := opened.Topology.Probes[0]
	if r := trace(t, opened, probe.From, probe.To); r.Result != topology.ResultConnected || len(r.Decisions) == 0 {
		t.Errorf("trace %s -> %s through the stored plan: %s, %d decisions", probe.From, probe.To, r.Result, len(r.Decisions))
	}

	files, _ := filepath.Glob(filepath.Join(state.LabDir(l.State.Lab), "plan*.json"))
	if len(files) == 0 {
		t.Fatal("no stored plan files")
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	older, err := lab.Open(l.State.Lab)
	if err != nil {
		t.Fatal(err)
	}
	if err := older.CheckHealthy(); err == nil || !strings.Contains(err.Error(), "brought up by an older netlab") {
		t.Errorf("CheckHealthy of a lab without a stored plan: %v", err)
	}
	if _, err := probes.Run(older, probe.From, probe.To, probeOptions()); err == nil || !strings.Contains(err.Error(), "netlab up again") {
		t.Errorf("probe on a lab without a stored plan: %v", err)
	}
}

// TestStoredPlanOtherKernel (IPVS, so in the guest): a lab brought up with
// a plan for kernel 5.4, whose IPVS mode sets conn_reuse_mode, is observed
// with that plan: the node has the sysctl, the reopened lab's plan has it,
// and a trace through the reopened lab sees IPVS decide.
func TestStoredPlanOtherKernel(t *testing.T) {
	testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
	testenv.RequireRoot(t)
	sc := builtin(t, "flannel-cluster-mode")
	name := testenv.Prefix(t) + "-k54"
	t.Cleanup(func() {
		if err := lab.Down(name); err != nil {
			t.Errorf("down %s: %v", name, err)
		}
		assertGone(t, name)
	})
	old := func(t *topology.Topology, lab string) (*plan.Plan, error) {
		return compile.CompileWith(t, lab, compile.Options{KernelVersion: "5.4.0"})
	}
	l, err := lab.Up(t.Context(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Compile: old, Apply: apply.Apply})
	if err != nil {
		t.Fatal(err)
	}
	const reuse = "net.ipv4.vs.conn_reuse_mode"
	opened, err := lab.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	p := appliedPlan(t, opened)
	found := false
	for _, s := range p.Namespace(plan.NSName(name, "node-180")).Sysctls {
		found = found || s.Key == reuse && s.Value == "0"
	}
	if !found {
		t.Errorf("the reopened lab's plan has no %s=0: it is not the 5.4 plan applied", reuse)
	}
	if got := strings.TrimSpace(nsExec(t, l, "node-180", "cat", "/proc/sys/net/ipv4/vs/conn_reuse_mode")); got != "0" {
		t.Errorf("node-180 %s = %s, want the applied 0", reuse, got)
	}
	r := trace(t, opened, "centos", "svc/nginx1")
	ipvs := false
	for _, d := range r.Decisions {
		ipvs = ipvs || d.Kind == probes.DecisionIPVS
	}
	if r.Result != topology.ResultConnected || !ipvs {
		t.Errorf("trace through the reopened lab: %s, decisions %v", r.Result, r.Decisions)
	}
}
