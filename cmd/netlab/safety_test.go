package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/topologies"
)

// cliEnv makes the test binary run the CLI (TestMain), for tests that
// signal a real netlab process.
const cliEnv = "NETLAB_CLI_TEST"

// cliProcess starts the CLI as a child process.
func cliProcess(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// labNamespaces lists the namespaces named like the lab's.
func labNamespaces(name string) []string {
	ents, _ := os.ReadDir(netns.Dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), name+"-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func assertNoLab(t *testing.T, name string) {
	t.Helper()
	if ns := labNamespaces(name); len(ns) > 0 {
		t.Errorf("namespaces left: %v", ns)
	}
	for _, p := range []string{state.LabDir(name), state.LockPath(name)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left", p)
		}
	}
}

// TestDownRefusesBadNames: a lab name that is not a DNS label never reaches
// the file system. Before, `down ”`, `.`, `/` and `../netlab` deleted all
// of /run/netlab, `..` removed /run, and `../../some/dir` trusted a
// state.json found there.
func TestDownRefusesBadNames(t *testing.T) {
	root := t.TempDir()
	old := state.Dir
	state.Dir = filepath.Join(root, "run", "netlab")
	t.Cleanup(func() { state.Dir = old })
	other := filepath.Join(state.Dir, "someone-else")
	foreign := filepath.Join(root, "some", "dir")
	for _, d := range []string{other, foreign} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bait := fmt.Sprintf(`{"lab":"x","namespaces":["victim-ns"],"daemon":{"pid":%d,"startTime":1}}`, os.Getpid())
	if err := os.WriteFile(filepath.Join(foreign, "state.json"), []byte(bait), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", ".", "/", "..", "../netlab", "../../some/dir", "a/b", "UPPER", strings.Repeat("a", 41)} {
		for _, cmd := range [][]string{{"down", name}, {"up", "flannel-vxlan", "--name", name}, {"plan", "flannel-vxlan", "--name", name}, {"status", name}, {"test", "flannel-vxlan", "--name", name}} {
			code, out, stderr := cli(t, cmd...)
			if code != 1 || !strings.Contains(stderr, "lab name ") || !strings.Contains(stderr, "(fix: use a name like my-lab)") || strings.Contains(out, "ip netns add") {
				t.Errorf("%q: exit %d, stdout %.80q, stderr %q", cmd, code, out, stderr)
			}
		}
	}
	for _, d := range []string{other, foreign, filepath.Join(foreign, "state.json")} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}

// TestDownLeavesForeignDirectories: down acts only on a directory netlab
// made (it carries netlab's marker), and never deletes files it did not
// write.
func TestDownLeavesForeignDirectories(t *testing.T) {
	testenv.RequireRoot(t)
	old := state.Dir
	state.Dir = t.TempDir()
	t.Cleanup(func() { state.Dir = old })
	foreign := filepath.Join(state.Dir, "notmine")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "state.json"), []byte(`{"lab":"notmine","namespaces":["notmine-x"]}`), 0o644)
	code, _, stderr := cli(t, "down", "notmine")
	if code != 1 || !strings.Contains(stderr, "was not made by netlab") {
		t.Errorf("down of a foreign directory: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(foreign, "state.json")); err != nil {
		t.Error("a foreign directory was emptied")
	}
	if code, out, _ := cli(t, "ls"); code != 0 || strings.Contains(out, "notmine") {
		t.Errorf("ls lists a foreign directory: %s", out)
	}
	// A lab directory with a file netlab did not write keeps it.
	if err := state.Create(&state.State{Lab: "mine", Phase: state.PhaseFailed}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state.LabDir("mine"), "notes.txt"), []byte("mine"), 0o644)
	code, _, stderr = cli(t, "down", "mine")
	if code != 1 || !strings.Contains(stderr, "holds files netlab did not write (notes.txt)") {
		t.Errorf("down with a foreign file: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(state.LabDir("mine"), "notes.txt")); err != nil {
		t.Error("a foreign file was deleted")
	}
}

// TestDownAllAsks: --all removes other people's labs too, so without a
// terminal it needs --yes. It runs on a scratch state directory holding one
// lab of its own, so it can never reach a lab on this machine.
func TestDownAllAsks(t *testing.T) {
	testenv.RequireRoot(t)
	old := state.Dir
	state.Dir = t.TempDir()
	t.Cleanup(func() { state.Dir = old })
	name := testenv.Prefix(t) + "-all"
	if err := state.Create(&state.State{Lab: name, Phase: state.PhaseFailed}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "down", "--all")
	if code != 1 || !strings.Contains(stderr, "--all would remove every lab on this machine ("+name+"), other people's too: add --yes to confirm") {
		t.Errorf("all labs, without --yes: exit %d: %s", code, stderr)
	}
	if !state.IsLab(name) {
		t.Fatal("--all removed a lab without asking")
	}
	if code, _, stderr := cli(t, "down", "--all", "--yes"); code != 0 || state.IsLab(name) {
		t.Errorf("all labs, with --yes: exit %d: %s", code, stderr)
	}
}

// TestDownForceRecoversCorruptState: a truncated state.json made down fail
// and leave the namespaces and the daemon with no way out. down says what
// is wrong and --force recovers by the namespaces' marks and the daemon's
// PID file, leaving alone a namespace that only shares the prefix.
func TestDownForceRecoversCorruptState(t *testing.T) {
	name := upCLI(t, "flannel-vxlan", "-f")
	st, err := state.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	daemon := st.Daemon
	// Someone else's namespace that happens to share the prefix.
	foreign := name + "-foreign"
	if out, err := exec.Command("ip", "netns", "add", foreign).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = netns.Delete(foreign) })
	data, _ := os.ReadFile(filepath.Join(state.LabDir(name), "state.json"))
	if err := os.WriteFile(filepath.Join(state.LabDir(name), "state.json"), data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "down", name)
	if code != 1 || !strings.Contains(stderr, "corrupt state") || !strings.Contains(stderr, "fix: netlab down --force "+name) {
		t.Errorf("down of a corrupt lab: exit %d: %s", code, stderr)
	}
	code, out, stderr := cli(t, "down", name, "--force", "-o", "json")
	var rows []struct {
		Found      bool
		Namespaces int
		Stopped    []int    `json:"stoppedPids"`
		LeftAlone  []string `json:"leftAlone"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
		t.Fatalf("down --force: exit %d: %s %s", code, out, stderr)
	}
	r := rows[0]
	if !r.Found || r.Namespaces != len(st.Namespaces) || len(r.Stopped) != 1 || r.Stopped[0] != daemon.PID || len(r.LeftAlone) != 1 || r.LeftAlone[0] != foreign {
		t.Errorf("down --force report %+v, want %d namespaces, daemon %d stopped, %s left alone", r, len(st.Namespaces), daemon.PID, foreign)
	}
	if daemon.Alive() {
		t.Error("the daemon survived down --force")
	}
	if !netns.Exists(foreign) {
		t.Error("down --force deleted a namespace that was not the lab's")
	}
	if ns := labNamespaces(name); len(ns) != 1 {
		t.Errorf("namespaces left: %v, want only %s", ns, foreign)
	}
	if _, err := os.Lstat(state.LabDir(name)); err == nil {
		t.Error("state left after down --force")
	}
}

// TestBrokenLabIsNamed: a dead daemon read as REFUSED in probe and as
// dataplane failures in test; now every command that probes says the lab is
// broken, and what is broken, before it fires anything.
func TestBrokenLabIsNamed(t *testing.T) {
	name := upCLI(t, "flannel-vxlan", "-b")
	st, _ := state.Load(name)
	if err := syscall.Kill(st.Daemon.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; st.Daemon.Alive() && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	want := fmt.Sprintf("lab %s is broken: its daemon (pid %d) is not running, so no pod answers", name, st.Daemon.PID)
	for _, cmd := range [][]string{{"probe", name, "client-a", "pod/web-2"}, {"trace", name, "client-a", "pod/web-2"}, {"test", name}} {
		if code, out, stderr := cli(t, cmd...); code != 1 || !strings.Contains(stderr, want) || strings.Contains(out, "REFUSED") {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s", cmd, code, out, stderr)
		}
	}
	if err := netns.Delete(name + "-web-1"); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cli(t, "probe", name, "client-a", "pod/web-2"); code != 1 || !strings.Contains(stderr, "1 of its namespaces are gone ("+name+"-web-1)") {
		t.Errorf("probe with a namespace gone: exit %d: %s", code, stderr)
	}
}

// TestFlagValuesAreChecked: values that used to be replaced or ignored
// without a word are refused.
func TestFlagValuesAreChecked(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "x", "a", "b", "--count", "0"}, "--count must be greater than zero, not 0"},
		{[]string{"probe", "x", "a", "b", "--count", "-3"}, "--count must be greater than zero, not -3"},
		{[]string{"probe", "x", "a", "b", "--timeout", "-1s"}, "--timeout must be greater than zero, not -1s"},
		{[]string{"trace", "x", "a", "b", "--timeout", "0s"}, "--timeout must be greater than zero, not 0s"},
		{[]string{"test", "flannel-vxlan", "--timeout", "-2s"}, "--timeout must be greater than zero, not -2s"},
		{[]string{"up", "flannel-vxlan", "--workers", "-1"}, "--workers must be greater than zero, not -1"},
		{[]string{"up", "flannel-vxlan", "--name", ""}, "--name: lab name is empty (fix: use a name like my-lab)"},
		{[]string{"plan", "flannel-vxlan", "--name", ""}, "--name: lab name is empty (fix: use a name like my-lab)"},
	} {
		code, _, stderr := cli(t, c.args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestProbeExitStatus: a probe that does not connect exits 1 (it exited 0
// on a timeout).
func TestProbeExitStatus(t *testing.T) {
	name := upCLI(t, "flannel-vxlan", "-p")
	for _, c := range []struct {
		to     string
		code   int
		result string
	}{
		{"pod/web-2", 0, "CONNECTED"},
		{"pod/web-2:81", 1, "REFUSED"},
		{"192.0.2.1:80", 1, ""}, // nowhere: timeout or unreachable
	} {
		code, out, stderr := cli(t, "probe", name, "client-a", c.to, "--timeout", "300ms")
		if code != c.code || !strings.Contains(out, c.result) {
			t.Errorf("probe %s: exit %d, want %d\n%s%s", c.to, code, c.code, out, stderr)
		}
	}
}

// TestInterruptedUpCleansUp: Ctrl-C during up used to exit silently and
// leave a half-built lab; now up removes what it made and says so.
func TestInterruptedUpCleansUp(t *testing.T) {
	testenv.RequireRoot(t)
	name := testenv.Prefix(t) + "-i"
	t.Cleanup(func() { cli(t, "down", name, "--force", "--ignore-not-found") })
	file := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(file, topologies.Synthetic("big", 40, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := cliProcess(t, "up", file, "--name", name, "--workers", "1")
	deadline := time.Now().Add(30 * time.Second)
	for len(labNamespaces(name)) < 10 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("up made no progress: %s", stderr)
		}
		time.Sleep(time.Millisecond)
	}
	st, err := state.Load(name)
	if err != nil || st.Phase != state.PhaseCreating {
		t.Fatalf("not in the middle of up: %+v %v", st, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("interrupted up: %v, want exit status 130\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "netlab: up interrupted: everything it had made is removed") {
		t.Errorf("up did not say what it did:\n%s", stderr)
	}
	assertNoLab(t, name)
}

// TestInterruptedTestTakesItsLabDown: Ctrl-C during `test FILE` left its
// temporary lab running.
func TestInterruptedTestTakesItsLabDown(t *testing.T) {
	testenv.RequireRoot(t)
	name := testenv.Prefix(t) + "-t"
	t.Cleanup(func() { cli(t, "down", name, "--force", "--ignore-not-found") })
	file := filepath.Join(t.TempDir(), "slow.yaml")
	// Probes that time out keep the test busy long enough to interrupt.
	yaml := "name: slow\nnodes: [{name: node-1}]\npods: [{name: a, node: node-1}]\nprobes:\n" +
		strings.Repeat("  - {from: a, to: \"192.0.2.1:80\", expect: {result: timeout}}\n", 20)
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := cliProcess(t, "test", file, "--name", name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := state.Load(name); err == nil && st.Phase == state.PhaseReady {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the test's lab never came up: %s", stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // probing now
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "netlab: test interrupted: taking down lab "+name) {
		t.Errorf("interrupted test: %v\n%s", err, stderr)
	}
	assertNoLab(t, name)
}

// TestDownWaitsForUp: down during up of the same lab printed success and
// the lab then came up complete. Now down waits for the up and then removes
// the lab.
func TestDownWaitsForUp(t *testing.T) {
	testenv.RequireRoot(t)
	name := testenv.Prefix(t) + "-w"
	t.Cleanup(func() { cli(t, "down", name, "--force", "--ignore-not-found") })
	file := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(file, topologies.Synthetic("big", 20, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	up, upErr := cliProcess(t, "up", file, "--name", name, "--workers", "1")
	deadline := time.Now().Add(30 * time.Second)
	for len(labNamespaces(name)) < 5 {
		if time.Now().After(deadline) {
			up.Process.Kill()
			t.Fatalf("up made no progress: %s", upErr)
		}
		time.Sleep(time.Millisecond)
	}
	down, downErr := cliProcess(t, "down", name)
	if err := down.Wait(); err != nil {
		t.Errorf("down: %v\n%s", err, downErr)
	}
	if err := up.Wait(); err != nil {
		t.Errorf("up: %v\n%s", err, upErr)
	}
	if !strings.Contains(downErr.String(), "lab "+name+" is busy: waiting for netlab up (pid ") {
		t.Errorf("down did not say it waited for up:\n%s", downErr)
	}
	assertNoLab(t, name)
}
