// Package e2e tests netlab end to end in real network namespaces: labs are
// brought up with the engine, real TCP probes cross them, and every test
// takes its lab down again, even on failure. Tests that need kernel
// features this host lacks skip here and run in the qemu guest
// (make vmtest).
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/daemon"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
	"github.com/netlab/netlab/topologies"
)

// daemonEnv makes the test binary act as a lab daemon (the CLI re-executes
// itself the same way).
const daemonEnv = "NETLAB_E2E_DAEMON"

func TestMain(m *testing.M) {
	if spec := os.Getenv(upEnv); spec != "" {
		os.Exit(upChild(spec))
	}
	if name := os.Getenv(daemonEnv); name != "" {
		if err := daemon.Run(name, os.NewFile(3, "ready")); err != nil {
			fmt.Fprintln(os.Stderr, "daemon:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func daemonCommand(name string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), daemonEnv+"="+name)
	return cmd
}

// builtin loads a built-in scenario.
func builtin(t testing.TB, name string) *lab.Scenario {
	t.Helper()
	data, ok := topologies.Get(name)
	if !ok {
		t.Fatalf("no built-in scenario %s", name)
	}
	return scenario(t, "builtin:"+name+".yaml", data)
}

func scenario(t testing.TB, source string, data []byte) *lab.Scenario {
	t.Helper()
	topo, err := topology.Load(source, data)
	if err != nil {
		t.Fatal(err)
	}
	return &lab.Scenario{Source: source, YAML: data, Topology: topo}
}

// up brings a scenario up under a per-test lab name and registers its
// teardown, which also checks that nothing of the lab is left.
func up(t *testing.T, sc *lab.Scenario, suffix string) *lab.Lab {
	t.Helper()
	testenv.RequireRoot(t)
	name := testenv.Prefix(t) + "-" + suffix
	t.Cleanup(func() {
		if err := lab.Down(name); err != nil {
			t.Errorf("down %s: %v", name, err)
		}
		assertGone(t, name)
	})
	l, err := lab.Up(context.Background(), sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Compile: compile.ForHost, Apply: apply.Apply})
	if err != nil {
		t.Fatalf("up %s: %v", name, err)
	}
	return l
}

// appliedPlan is the whole plan a lab was brought up with.
func appliedPlan(t *testing.T, l *lab.Lab) *plan.Plan {
	t.Helper()
	p, err := l.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// assertGone checks that no namespace, state or daemon of a lab remains.
func assertGone(t *testing.T, name string) {
	t.Helper()
	if left := namespacesOf(name); len(left) > 0 {
		t.Errorf("lab %s left namespaces: %v", name, left)
	}
	if _, err := os.Stat(state.LabDir(name)); err == nil {
		t.Errorf("lab %s left %s", name, state.LabDir(name))
	}
	if pids := daemonPIDs(name); len(pids) > 0 {
		t.Errorf("lab %s left daemon processes %v", name, pids)
	}
}

// namespacesOf lists /run/netns entries of a lab.
func namespacesOf(name string) []string {
	ents, _ := os.ReadDir(netns.Dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), name+"-") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func allNamespaces() []string {
	ents, _ := os.ReadDir(netns.Dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func probe(t *testing.T, l *lab.Lab, from, to string) *probes.Result {
	t.Helper()
	r, err := probes.Run(l, from, to, probeOptions())
	if err != nil {
		t.Fatalf("probe %s -> %s: %v", from, to, err)
	}
	return r
}

// nsExec runs a command inside one of the lab's namespaces.
func nsExec(t *testing.T, l *lab.Lab, object string, args ...string) string {
	t.Helper()
	ns, err := l.NS(object)
	if err != nil {
		t.Fatal(err)
	}
	out, err := netns.Output(ns, args...)
	if err != nil {
		t.Fatalf("in %s: %v", ns, err)
	}
	return out
}

func daemonPIDs(name string) []int {
	var pids []int
	matches, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		if strings.Contains(string(data), daemonEnv+"="+name+"\x00") {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(m)), "%d", &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// probeOptions gives probes more time in the qemu guest, where TCG runs
// everything tens of times slower than natively; a probe that should
// connect must not time out because the emulator was busy.
func probeOptions() probes.Options {
	if testenv.InGuest() {
		return probes.Options{Timeout: 3 * time.Second}
	}
	return probes.Options{}
}
