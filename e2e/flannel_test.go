package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/cni"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
	"github.com/netlab/netlab/topologies"
)

// TestFlannelBackends brings up each flannel backend's scenario, runs all of
// its probes against their expectations, and checks the cross-node probe in
// detail: the server is the remote pod and it sees the client pod's IP.
func TestFlannelBackends(t *testing.T) {
	cases := []struct{ scenario, from, to, server string }{
		{"flannel-vxlan", "client-a", "pod/web-2", "web-2"},
		{"flannel-host-gw", "client-a", "pod/web-2", "web-2"},
		{"flannel-vpc-route", "centos", "pod/nginx1-4zsdj", "nginx1-4zsdj"},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			l := up(t, builtin(t, tc.scenario), "b")
			checks, err := probes.RunScenario(l, probeOptions())
			if err != nil {
				t.Fatal(err)
			}
			if len(checks) < 3 {
				t.Fatalf("scenario has only %d probes", len(checks))
			}
			for _, c := range checks {
				if !c.Pass {
					t.Errorf("probe %q: %s", c.Name, strings.Join(c.Failures, "; "))
				}
			}
			r := probe(t, l, tc.from, tc.to)
			client := l.Topology.Pod(tc.from).Addr
			if r.Result != topology.ResultConnected || r.Server == nil || r.Server.Pod != tc.server {
				t.Fatalf("cross-node probe: %+v", r)
			}
			seen := netip.MustParseAddrPort(r.ClientAddrSeen)
			if seen.Addr() != client || r.ClientIPPreserved == nil || !*r.ClientIPPreserved {
				t.Errorf("server saw %s, want the client pod's %s", seen, client)
			}
			// Conntrack on both nodes holds the flow, untranslated.
			for _, node := range []string{l.Topology.Pod(tc.from).Node, l.Topology.Pod(tc.server).Node} {
				flows := r.Conntrack[node]
				if len(flows) == 0 {
					t.Errorf("no conntrack entry for the probe on %s: %v", node, r.Conntrack)
					continue
				}
				if f := flows[0]; f.Orig.Src != r.ClientAddr || f.NAT != "none" {
					t.Errorf("conntrack on %s: %+v, want src %s without NAT", node, f, r.ClientAddr)
				}
			}
		})
	}
}

// TestVXLANPathIsReal proves the cross-node path uses the VXLAN FDB: with
// node-1's FDB entry for node-2's VTEP removed the same probe times out, and
// it connects again once the entry is back.
func TestVXLANPathIsReal(t *testing.T) {
	l := up(t, builtin(t, "flannel-vxlan"), "fdb")
	if r := probe(t, l, "client-a", "pod/web-2"); r.Result != topology.ResultConnected {
		t.Fatalf("before: %s (%s)", r.Result, r.Error)
	}
	p := appliedPlan(t, l)
	ns := p.Namespace(p.Lab + "-node-1")
	var fdb string
	for _, f := range ns.FDB {
		if f.Dst == l.Topology.Node("node-2").Addr.String() {
			fdb = f.MAC
		}
	}
	if fdb == "" {
		t.Fatal("no FDB entry for node-2 in the plan")
	}
	if out := nsExec(t, l, "node-1", "bridge", "fdb", "show", "dev", cni.VXLANDevice); !strings.Contains(out, fdb+" dst 10.0.0.11 self permanent") {
		t.Fatalf("FDB entry missing before the test:\n%s", out)
	}
	nsExec(t, l, "node-1", "bridge", "fdb", "del", fdb, "dev", cni.VXLANDevice, "self")
	if r := probe(t, l, "client-a", "pod/web-2"); r.Result != topology.ResultTimeout {
		t.Errorf("without the FDB entry: %s, want timeout", r.Result)
	}
	// Same-node traffic does not care.
	if r := probe(t, l, "client-a", "pod/web-1"); r.Result != topology.ResultConnected {
		t.Errorf("same node without the FDB entry: %s", r.Result)
	}
	nsExec(t, l, "node-1", "bridge", "fdb", "append", fdb, "dev", cni.VXLANDevice, "dst", "10.0.0.11", "self", "permanent")
	if r := probe(t, l, "client-a", "pod/web-2"); r.Result != topology.ResultConnected {
		t.Errorf("with the FDB entry back: %s", r.Result)
	}
}

// TestDownLeavesNothing checks that down removes namespaces, state and the
// daemon, and that a second down succeeds.
func TestDownLeavesNothing(t *testing.T) {
	before := allNamespaces()
	l := up(t, builtin(t, "flannel-host-gw"), "down")
	name := l.State.Lab
	if n, want := len(namespacesOf(name)), len(appliedPlan(t, l).Namespaces); n != want {
		t.Fatalf("%d namespaces up, plan has %d", n, want)
	}
	if !l.State.Daemon.Alive() {
		t.Fatal("daemon not running after up")
	}
	for i := 0; i < 2; i++ {
		if err := lab.Down(name); err != nil {
			t.Fatalf("down #%d: %v", i+1, err)
		}
		assertGone(t, name)
	}
	if l.State.Daemon.Alive() {
		t.Errorf("daemon %d still running", l.State.Daemon.PID)
	}
	if after := allNamespaces(); !slices.Equal(before, after) {
		t.Errorf("namespaces before %v, after %v", before, after)
	}
}

// TestDownAfterDaemonDied: down works when the daemon is already gone.
func TestDownAfterDaemonDied(t *testing.T) {
	l := up(t, builtin(t, "flannel-vxlan"), "dd")
	if err := syscall.Kill(l.State.Daemon.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for l.State.Daemon.Alive() {
		time.Sleep(5 * time.Millisecond)
	}
	if err := lab.Down(l.State.Lab); err != nil {
		t.Fatal(err)
	}
	assertGone(t, l.State.Lab)
}

// TestTwoLabsSideBySide runs the same scenario twice under two names: both
// work, and taking one down leaves the other intact.
func TestTwoLabsSideBySide(t *testing.T) {
	sc := builtin(t, "flannel-vxlan")
	a := up(t, sc, "a")
	b := up(t, builtin(t, "flannel-vxlan"), "b")
	for _, l := range []*lab.Lab{a, b} {
		if r := probe(t, l, "client-a", "pod/web-2"); r.Result != topology.ResultConnected {
			t.Fatalf("%s: %s", l.State.Lab, r.Result)
		}
	}
	// A third lab with a taken name is refused and harms nothing.
	if _, err := lab.Up(t.Context(), sc, lab.UpOptions{Name: a.State.Lab, Compile: compile.ForHost, Apply: apply.Apply}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("second up of %s: %v, want 'already exists'", a.State.Lab, err)
	}
	if err := lab.Down(a.State.Lab); err != nil {
		t.Fatal(err)
	}
	assertGone(t, a.State.Lab)
	if r := probe(t, b, "client-a", "pod/web-2"); r.Result != topology.ResultConnected || r.Server.Pod != "web-2" {
		t.Fatalf("%s after the other lab went down: %+v", b.State.Lab, r)
	}
}

// upEnv makes the test binary run lab.Up for "lab:file" and exit, so that a
// test can kill -9 it in the middle.
const upEnv = "NETLAB_E2E_UP"

func upChild(spec string) int {
	name, file, _ := strings.Cut(spec, ":")
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	topo, err := topology.Load(file, data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err = lab.Up(context.Background(), &lab.Scenario{Source: file, YAML: data, Topology: topo}, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Workers: 1, Compile: compile.ForHost, Apply: apply.Apply})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// bigScenario writes a scenario large enough that up takes a while.
func bigScenario(t testing.TB, nodes, pods int) string {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, topologies.Synthetic("big", nodes, pods), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKill9DuringUp kills an up in the middle of creating namespaces, then
// checks that down removes everything it had made.
func TestKill9DuringUp(t *testing.T) {
	testenv.RequireRoot(t)
	before := allNamespaces()
	file := bigScenario(t, 40, 10)
	name := testenv.Prefix(t) + "-k9"
	t.Cleanup(func() { _ = lab.Down(name); assertGone(t, name) })
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), upEnv+"="+name+":"+file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until some, but not all, namespaces exist.
	deadline := time.Now().Add(20 * time.Second)
	for len(namespacesOf(name)) < 20 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("up made no progress")
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	st, err := state.Load(name)
	if err != nil {
		t.Fatalf("no state after kill -9: %v", err)
	}
	t.Logf("killed at phase %s with %d of %d namespaces made", st.Phase, len(namespacesOf(name)), len(st.Namespaces))
	if st.Phase != state.PhaseCreating {
		t.Fatalf("up finished before the kill (phase %s); the test did not test a crash", st.Phase)
	}
	if err := lab.Down(name); err != nil {
		t.Fatal(err)
	}
	assertGone(t, name)
	if after := allNamespaces(); !slices.Equal(before, after) {
		t.Errorf("namespaces before %v, after %v", before, after)
	}
}
