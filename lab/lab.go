package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
)

// Lab is a running (or recorded) lab: its state and scenario, and the plan
// when it was just brought up (Open does not recompile it).
type Lab struct {
	State    *state.State
	Topology *topology.Topology
	Plan     *plan.Plan
}

// Scenario is a loaded scenario and where it came from.
type Scenario struct {
	Source   string // a path, or builtin:<name>
	YAML     []byte
	Topology *topology.Topology
	// KubeProxy is a command-line override of the scenario's kube-proxy
	// ("iptables@1.28"), recorded with the lab.
	KubeProxy string
}

// LoadScenario parses a scenario's YAML and applies the overrides.
func LoadScenario(source string, data []byte, kubeProxy string) (*Scenario, error) {
	t, err := topology.Load(source, data)
	if err != nil {
		return nil, err
	}
	if kubeProxy != "" {
		kp, err := topology.ParseKubeProxy(kubeProxy)
		if err != nil {
			return nil, err
		}
		t.KubeProxy = kp
	}
	return &Scenario{Source: source, YAML: data, Topology: t, KubeProxy: kubeProxy}, nil
}

// UpOptions configure Up.
type UpOptions struct {
	// Name of the lab; defaults to the scenario's name.
	Name string
	// DaemonCommand returns the command that runs the lab daemon for a lab
	// (the CLI re-executes itself; tests re-execute the test binary). The
	// daemon must write "ready\n" to fd 3 once it serves. Nil: no daemon.
	DaemonCommand func(lab string) *exec.Cmd
	// Progress receives human-readable progress lines.
	Progress func(format string, args ...any)
	// Workers for apply (0: default).
	Workers int
	// Preflight checks the kernel for what the scenario needs (nil: none).
	Preflight func(*topology.Topology) error
}

// Up brings a scenario up as a lab: compile, preflight, record, apply, start
// the daemon. On failure it removes whatever it made.
func Up(ctx context.Context, sc *Scenario, o UpOptions) (l *Lab, err error) {
	name := o.Name
	if name == "" {
		name = sc.Topology.Name
	}
	if err := topology.ValidName(name); err != nil {
		return nil, fmt.Errorf("lab name %v", err)
	}
	say := o.Progress
	if say == nil {
		say = func(string, ...any) {}
	}
	if o.Preflight != nil {
		if err := o.Preflight(sc.Topology); err != nil {
			return nil, err
		}
	}
	p, err := CompileWith(sc.Topology, name, Options{KernelVersion: kernel.Release()})
	if err != nil {
		return nil, err
	}
	for _, ns := range p.Names() {
		if apply.Exists(ns) {
			return nil, fmt.Errorf("network namespace %s already exists; is lab %s up? (netlab down %s)", ns, name, name)
		}
	}
	st := &state.State{
		Lab: name, Scenario: sc.Topology.Name, Source: sc.Source, Topology: string(sc.YAML), KubeProxy: sc.KubeProxy,
		Namespaces: p.Names(), Phase: state.PhaseCreating, Created: time.Now().UTC(),
	}
	// Recorded before anything exists: down can always find what up made.
	if err := state.Create(st); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Phase = state.PhaseFailed
			_ = state.Save(st)
			if derr := Down(name); derr != nil {
				err = errors.Join(err, fmt.Errorf("cleanup: %w", derr))
			}
		}
	}()
	start := time.Now()
	err = apply.Apply(ctx, p, apply.Options{Workers: o.Workers, Progress: func(phase string, n int) {
		say("%s: %s (%d namespaces)", name, phase, n)
	}})
	if err != nil {
		return nil, err
	}
	say("%s: wired in %.2fs", name, time.Since(start).Seconds())
	if o.DaemonCommand != nil && hasServers(sc.Topology) {
		proc, derr := startDaemon(name, o.DaemonCommand(name))
		if derr != nil {
			return nil, derr
		}
		st.Daemon = proc
	}
	st.Phase = state.PhaseReady
	if err := state.Save(st); err != nil {
		return nil, err
	}
	return &Lab{State: st, Topology: sc.Topology, Plan: p}, nil
}

// hasServers: app servers to run, or kube-proxy userspace proxies.
func hasServers(t *topology.Topology) bool {
	return len(Servers(t)) > 0 || t.KubeProxy != nil && t.KubeProxy.Mode == "userspace" && len(t.Services) > 0
}

// Server is one pod or outside host whose ports the lab daemon serves.
type Server struct {
	Name, Node string
	Ports      []int
}

// Servers lists what the lab daemon serves: every pod with ports (in its
// node's namespace for hostNetwork), then every outside host with ports.
func Servers(t *topology.Topology) []Server {
	var out []Server
	for _, p := range t.Pods {
		if len(p.Ports) > 0 {
			out = append(out, Server{Name: p.Name, Node: p.Node, Ports: p.PortNumbers()})
		}
	}
	for _, c := range t.Cloud.Clients {
		if len(c.Ports) > 0 {
			out = append(out, Server{Name: c.Name, Ports: c.PortNumbers()})
		}
	}
	return out
}

// startDaemon starts the lab daemon in its own session, its output in the
// lab's log, and waits for its "ready" line.
func startDaemon(lab string, cmd *exec.Cmd) (*state.Process, error) {
	logf, err := os.OpenFile(state.DaemonLog(lab), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	w.Close()
	proc, perr := state.Describe(cmd.Process.Pid)
	go cmd.Wait() // reap it if it dies while we wait
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		ready <- strings.TrimSpace(line)
	}()
	select {
	case line := <-ready:
		if line != "ready" {
			return proc, fmt.Errorf("daemon did not start (%s): see %s", firstNonEmpty(line, "no ready line"), state.DaemonLog(lab))
		}
	case <-time.After(30 * time.Second):
		return proc, fmt.Errorf("daemon not ready after 30s: see %s", state.DaemonLog(lab))
	}
	if perr != nil {
		return nil, perr
	}
	return proc, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// Down removes a lab: stops its daemon by recorded PID, deletes its
// namespaces by recorded name, removes its state. It is idempotent and works
// on a half-made lab.
func Down(name string) error {
	st, err := state.Load(name)
	if errors.Is(err, state.ErrNotFound) {
		// Nothing recorded; remove a stray directory (e.g. a crash right
		// after mkdir) and report success: down is idempotent.
		return state.Remove(name)
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range daemonCandidates(st) {
		if err := stopProcess(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range st.Namespaces {
		if err := apply.DeleteNamespace(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, state.Remove(name))
	}
	return errors.Join(errs...)
}

func daemonCandidates(st *state.State) []*state.Process {
	var out []*state.Process
	if st.Daemon != nil {
		out = append(out, st.Daemon)
	}
	if p, err := state.ReadProcess(state.DaemonPIDFile(st.Lab)); err == nil && (st.Daemon == nil || *p != *st.Daemon) {
		out = append(out, p)
	}
	return out
}

// stopProcess sends SIGTERM, then SIGKILL after 2 s, to a recorded process
// that is still the same process.
func stopProcess(p *state.Process) error {
	if !p.Alive() {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	for i := 0; i < 200; i++ {
		if !p.Alive() {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	for i := 0; i < 100; i++ {
		if !p.Alive() {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("daemon pid %d did not exit", p.PID)
}

// Open loads a recorded lab and its scenario from the stored text. It does
// not recompile the plan: probes, status and the daemon need only the
// topology, and a 5,000-Service lab would pay for rendering it again.
func Open(name string) (*Lab, error) {
	st, err := state.Load(name)
	if err != nil {
		return nil, err
	}
	sc, err := LoadScenario(st.Source, []byte(st.Topology), st.KubeProxy)
	if err != nil {
		return nil, fmt.Errorf("lab %s: stored scenario: %w", name, err)
	}
	return &Lab{State: st, Topology: sc.Topology}, nil
}

// NS returns the namespace name of one of this lab's pods, nodes or
// clients, or of its VPC ("vpc").
func (l *Lab) NS(object string) (string, error) {
	return Namespace(l.Topology, l.State.Lab, object)
}

// Namespace returns the namespace name of a topology object in a lab: a
// pod's own namespace (its node's for a hostNetwork pod), a node's, a
// client's, or the VPC's ("vpc").
func Namespace(t *topology.Topology, lab, object string) (string, error) {
	if p := t.Pod(object); p != nil {
		if p.HostNetwork {
			return plan.NSName(lab, p.Node), nil
		}
		return plan.NSName(lab, p.Name), nil
	}
	if t.Node(object) != nil || t.Client(object) != nil || object == "vpc" || object == "slb" {
		return plan.NSName(lab, object), nil
	}
	return "", fmt.Errorf("lab %s has no pod, node or client named %q", lab, object)
}
