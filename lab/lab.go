// Package lab is the engine's lifecycle: it brings a scenario's compiled
// plan up in the kernel, records what it made and the plan it applied,
// opens a recorded lab, and tears it down again. It neither compiles nor
// applies (lab/compile and lab/apply do, given to Up by its caller), so
// nothing that only observes a lab links the renderers or the code that
// configures the kernel.
package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
)

// Lab is a running (or recorded) lab: its state and scenario, and the plan
// it was brought up with (Wiring, Plan): Up's own, or, for a lab Open
// found, read from the lab's state when first asked for, never compiled
// again.
type Lab struct {
	State    *state.State
	Topology *topology.Topology

	mu     sync.Mutex
	plan   *plan.Plan // the whole plan: Up's, or every part once Plan read them
	wiring *plan.Wiring
}

// Wiring is the wiring of the plan the lab was brought up with (what a
// probe needs: namespaces, owners, links, which have rules), read once.
func (l *Lab) Wiring() (*plan.Wiring, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wiring == nil {
		if l.plan != nil {
			l.wiring = l.plan.Wiring()
		} else {
			w, err := state.LoadWiring(l.State.Lab)
			if err != nil {
				return nil, err
			}
			l.wiring = w
		}
	}
	return l.wiring, nil
}

// Plan is the whole plan the lab was brought up with. On a large lab it is
// megabytes of rules: PlanWith reads only the parts a command uses.
func (l *Lab) Plan() (*plan.Plan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.plan == nil {
		p, err := state.LoadPlan(l.State.Lab, state.PlanParts...)
		if err != nil {
			return nil, err
		}
		l.plan = p
	}
	return l.plan, nil
}

// PlanWith is the plan the lab was brought up with, as far as the wiring
// and the parts named: the fields of other parts are empty (unless the
// whole plan is at hand already).
func (l *Lab) PlanWith(parts ...state.PlanPart) (*plan.Plan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.plan != nil {
		return l.plan, nil
	}
	return state.LoadPlan(l.State.Lab, parts...)
}

// Scenario is a loaded scenario and where it came from.
type Scenario struct {
	Source   string // a path, or builtin:<name>
	YAML     []byte
	Topology *topology.Topology
	// KubeProxy is a command-line override of the scenario's kube-proxy
	// ("iptables@1.28"), recorded with the lab.
	KubeProxy string
	// Notes say which of the scenario's kube-proxy options the override
	// dropped (topology.WithKubeProxy).
	Notes []string
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
		var notes []string
		t.KubeProxy, notes = t.WithKubeProxy(kp)
		return &Scenario{Source: source, YAML: data, Topology: t, KubeProxy: kubeProxy, Notes: notes}, nil
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
	// Compile is the compile step, for the machine the lab runs on
	// (compile.ForHost); required.
	Compile func(t *topology.Topology, lab string) (*plan.Plan, error)
	// Apply is the apply step (apply.Apply); required. Given, like
	// Compile, by Up's caller, so that what only opens a lab (probes)
	// does not link the package that configures the kernel.
	Apply func(ctx context.Context, p *plan.Plan, workers int, progress func(phase string, n int)) error
}

// Up brings a scenario up as a lab: preflight, compile, lock, record (the
// state and the plan), apply, start the daemon. On failure, and when ctx
// is cancelled (the CLI cancels it on SIGINT / SIGTERM), it removes
// whatever it made.
func Up(ctx context.Context, sc *Scenario, o UpOptions) (l *Lab, err error) {
	name := o.Name
	if name == "" {
		name = sc.Topology.Name
	}
	if err := state.CheckName(name); err != nil {
		return nil, err
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
	if o.Compile == nil {
		return nil, errors.New("lab.Up: UpOptions.Compile is nil")
	}
	if o.Apply == nil {
		return nil, errors.New("lab.Up: UpOptions.Apply is nil")
	}
	p, err := o.Compile(sc.Topology, name)
	if err != nil {
		return nil, err
	}
	// Held until up returns: a down or a second up of this lab waits, and a
	// probe does not start on a half-built lab.
	lk, err := state.Exclusive(ctx, name, "netlab up", func(by string) { say("%s: waiting for %s", name, holder(by)) })
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	if state.IsLab(name) {
		return nil, state.AlreadyExists(name)
	}
	for _, ns := range p.Names() {
		if netns.Exists(ns) {
			return nil, fmt.Errorf("network namespace %s already exists but lab %s is not recorded here: another tool's, or a lab whose state was lost (netlab down --force %s removes it if netlab made it)", ns, name, name)
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
			if ctx.Err() != nil {
				say("%s: interrupted: removing what up made", name)
			}
			st.Phase = state.PhaseFailed
			_ = state.Save(st)
			if _, derr := down(name, false); derr != nil {
				err = errors.Join(err, fmt.Errorf("%w: %w (netlab down --force %s)", ErrCleanup, derr, name))
			}
		}
	}()
	// The plan applied is what every later command observes.
	if err := state.SavePlan(name, p); err != nil {
		return nil, err
	}
	start := time.Now()
	err = o.Apply(ctx, p, o.Workers, func(phase string, n int) {
		say("%s: %s (%d namespaces)", name, phase, n)
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	say("%s: wired in %.2fs", name, time.Since(start).Seconds())
	if o.DaemonCommand != nil && hasServers(sc.Topology, p.Wiring()) {
		proc, derr := startDaemon(ctx, name, o.DaemonCommand(name))
		st.Daemon = proc // recorded even on failure, so down stops it
		if derr != nil {
			return nil, derr
		}
	}
	st.Phase = state.PhaseReady
	if err := state.Save(st); err != nil {
		return nil, err
	}
	return &Lab{State: st, Topology: sc.Topology, plan: p}, nil
}

// ErrCleanup marks an up whose failure also left something behind.
var ErrCleanup = errors.New("cleanup")

// holder words a lock holder for a waiting message.
func holder(by string) string {
	if by == "" {
		return "another netlab command (probe, trace or test) using the lab"
	}
	return by
}

// hasServers: app servers to run, or kube-proxy userspace proxies.
func hasServers(t *topology.Topology, w *plan.Wiring) bool {
	return len(Servers(t)) > 0 || w.UserspaceProxies() > 0
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
func startDaemon(ctx context.Context, lab string, cmd *exec.Cmd) (*state.Process, error) {
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
	case <-ctx.Done():
		return proc, ctx.Err()
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
// namespaces by recorded name, removes its state. It is idempotent (a lab
// that is not there is not an error) and works on a half-made lab. It waits
// for any other netlab command holding the lab.
func Down(name string) error {
	_, err := DownWith(context.Background(), name, DownOptions{})
	return err
}

// DownOptions configure DownWith.
type DownOptions struct {
	// Force recovers a lab whose state is corrupt or gone: it removes the
	// namespaces named "<lab>-*" whose lo carries the lab's marker
	// (plan.Marker) and the daemon recorded in its PID file. Never by
	// process name, never a namespace without the marker.
	Force bool
	// Wait is called once when another command holds the lab.
	Wait func(by string)
}

// DownReport says what DownWith found and removed.
type DownReport struct {
	// Found: the lab was recorded (or, with Force, had marked namespaces).
	Found bool `json:"found"`
	// Namespaces deleted; LeftAlone are namespaces with the lab's prefix
	// that Force did not delete because they lack its marker.
	Namespaces int      `json:"namespaces"`
	Stopped    []int    `json:"stoppedPids,omitempty"`
	LeftAlone  []string `json:"leftAlone,omitempty"`
}

// DownWith is Down with options and a report.
func DownWith(ctx context.Context, name string, o DownOptions) (*DownReport, error) {
	if err := state.CheckName(name); err != nil {
		return nil, err
	}
	lk, err := state.Exclusive(ctx, name, "netlab down", func(by string) {
		if o.Wait != nil {
			o.Wait(holder(by))
		}
	})
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	return down(name, o.Force)
}

// down does the work of DownWith; the caller holds the lab's lock.
func down(name string, force bool) (*DownReport, error) {
	rep := &DownReport{}
	st, err := state.Load(name)
	var procs []*state.Process
	var namespaces []string
	switch {
	case err == nil:
		rep.Found = true
		procs, namespaces = daemonCandidates(st), st.Namespaces
	case errors.Is(err, state.ErrNotFound) && !force:
		if state.IsLab(name) { // a crash right after up made the directory
			rep.Found = true
			return rep, state.Remove(name)
		}
		return rep, nil
	case !force:
		return nil, err
	default: // force: the state is corrupt or gone; trust only the PID file
		if p, perr := state.ReadProcess(state.DaemonPIDFile(name)); perr == nil {
			procs = append(procs, p)
		}
	}
	if force {
		marked, others, lerr := netns.LabNamespaces(name)
		if lerr != nil {
			return nil, lerr
		}
		namespaces = union(namespaces, marked)
		rep.Found = rep.Found || len(marked) > 0 || state.IsLab(name)
		for _, ns := range others {
			if !slices.Contains(namespaces, ns) {
				rep.LeftAlone = append(rep.LeftAlone, ns)
			}
		}
	}
	var errs []error
	for _, p := range procs {
		if !p.Alive() {
			continue
		}
		if err := stopProcess(p); err != nil {
			errs = append(errs, err)
		} else {
			rep.Stopped = append(rep.Stopped, p.PID)
		}
	}
	for _, ns := range namespaces {
		// A recorded name outside the lab's prefix is not the lab's to
		// delete, whatever the state file says.
		if !strings.HasPrefix(ns, name+"-") {
			errs = append(errs, fmt.Errorf("state lists namespace %s, which is not lab %s's (no %s- prefix): left alone", ns, name, name))
			continue
		}
		existed := netns.Exists(ns)
		if err := netns.Delete(ns); err != nil {
			errs = append(errs, err)
		} else if existed {
			rep.Namespaces++
		}
	}
	if len(errs) == 0 {
		errs = append(errs, state.Remove(name))
	}
	return rep, errors.Join(errs...)
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
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

// Open loads a recorded lab and its scenario from the stored text. Its plan
// is the one up stored, read when first asked for (Wiring, Plan): nothing
// that observes a lab compiles it again.
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

// Problems lists what is wrong with a recorded lab, for the commands that
// use it to say so before they probe: an up that did not finish, a daemon
// that died (its pods would read as refusing), namespaces removed by hand.
// Empty for a healthy lab.
func (l *Lab) Problems() []string {
	var out []string
	st := l.State
	if st.Phase != state.PhaseReady {
		out = append(out, fmt.Sprintf("its up did not finish (phase %s)", st.Phase))
	}
	w, err := l.Wiring()
	if errors.Is(err, state.ErrNoPlan) {
		out = append(out, "it was brought up by an older netlab, which did not record the plan it applied")
	} else if err != nil {
		out = append(out, err.Error())
	}
	if w != nil && hasServers(l.Topology, w) && !st.Daemon.Alive() {
		pid := "none recorded"
		if st.Daemon != nil {
			pid = fmt.Sprintf("pid %d", st.Daemon.PID)
		}
		out = append(out, fmt.Sprintf("its daemon (%s) is not running, so no pod answers (log: %s)", pid, state.DaemonLog(st.Lab)))
	}
	var missing []string
	for _, ns := range st.Namespaces {
		if !netns.Exists(ns) {
			missing = append(missing, ns)
		}
	}
	if n := len(missing); n > 0 {
		if n > 3 {
			missing = append(missing[:3], fmt.Sprintf("and %d more", n-3))
		}
		out = append(out, fmt.Sprintf("%d of its namespaces are gone (%s)", n, strings.Join(missing, ", ")))
	}
	return out
}

// CheckHealthy returns an error naming every problem of a broken lab, and
// the fix, or nil.
func (l *Lab) CheckHealthy() error {
	ps := l.Problems()
	if len(ps) == 0 {
		return nil
	}
	return fmt.Errorf("lab %s is broken: %s (fix: netlab down %s, then netlab up again)", l.State.Lab, strings.Join(ps, "; "), l.State.Lab)
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
