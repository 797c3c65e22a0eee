// Command netlab rebuilds a Kubernetes cluster's dataplane in network
// namespaces on one machine. Each verb is one file; all logic lives in lab/
// and probes/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/topologies"
)

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() { os.Exit(run(os.Args[1:])) }

// run executes the CLI with args and returns the exit code.
func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	defer releaseHeld()
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintln(os.Stderr, "netlab:", err)
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "netlab",
		Short: "Rebuild a Kubernetes cluster's dataplane in network namespaces",
		Long: `netlab builds "nodes" and "pods" as named network namespaces joined by veths, bridges and
VXLAN, wires them as a CNI mode would, serves an app in every pod and fires real TCP probes
through them. Scenarios are YAML files; the built-in ones are listed by 'netlab scenarios'.`,
		Example: `  netlab up flannel-vxlan
  netlab test flannel-vxlan
  netlab probe flannel-vxlan client-a pod/web-2
  netlab exec flannel-vxlan node-1 -- ip route
  netlab down flannel-vxlan`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCmd(), downCmd(), statusCmd(), lsCmd(), execCmd(), probeCmd(), traceCmd(), conntrackCmd(),
		testCmd(), planCmd(), graphCmd(), doctorCmd(), scenariosCmd(), rulesCmd(), diffCmd(), daemonCmd())
	return root
}

// addOutput adds -o/--output to a command.
func addOutput(c *cobra.Command, out *string) {
	c.Flags().StringVarP(out, "output", "o", "table", "output format: table or json")
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func checkOutput(out string) error {
	if out != "table" && out != "json" {
		return fmt.Errorf("unknown output format %q (use table or json)", out)
	}
	return nil
}

// loadScenario resolves a scenario argument: a path to a YAML file, or the
// name of a built-in scenario. kubeProxy optionally overrides its
// kube-proxy ("iptables@1.28").
func loadScenario(arg string, kubeProxy ...string) (*lab.Scenario, error) {
	var (
		data   []byte
		source string
	)
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		data, err = os.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		source = arg
	} else if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") || strings.Contains(arg, "/") {
		return nil, fmt.Errorf("scenario file %s: %w", arg, os.ErrNotExist)
	} else if d, ok := topologies.Get(arg); ok {
		data, source = d, "builtin:"+arg+".yaml"
	} else {
		return nil, fmt.Errorf("no scenario %q: not a file, and the built-in ones are %s", arg, strings.Join(topologies.Names(), ", "))
	}
	return lab.LoadScenario(source, data, strings.Join(kubeProxy, ""))
}

// addKubeProxy adds --kube-proxy to a command.
func addKubeProxy(c *cobra.Command, v *string) {
	c.Flags().StringVar(v, "kube-proxy", "", "override the scenario's kube-proxy: MODE@VERSION, e.g. iptables@1.28")
}

// daemonCommand re-executes this binary as the lab daemon.
func daemonCommand(labName string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, "daemon", labName)
}

// openLab opens a running lab for a command that works inside it (root).
func openLab(name string) (*lab.Lab, error) {
	if err := requireRoot(); err != nil {
		return nil, err
	}
	return lab.Open(name)
}

// openLabFor is the preamble of the commands that read a running lab:
// check -o, then open the lab.
func openLabFor(out, name string) (*lab.Lab, error) {
	if err := checkOutput(out); err != nil {
		return nil, err
	}
	return openLab(name)
}

// heldLocks keeps the shared locks of useLab referenced until the process
// exits (a collected *os.File would close its descriptor and drop the lock).
var heldLocks []*state.Lock

// useLab is the preamble of the commands that fire probes into a running
// lab: check -o, hold the lab's shared lock until the command exits (a
// down then waits for it instead of pulling namespaces from under its
// probes), open the lab, and refuse a broken one with what is wrong, so
// that a dead daemon never reads as a refusing dataplane.
func useLab(out, name string) (*lab.Lab, error) {
	if err := checkOutput(out); err != nil {
		return nil, err
	}
	if err := requireRoot(); err != nil {
		return nil, err
	}
	lk, err := state.Shared(context.Background(), name, waitingFor(name))
	if err != nil {
		return nil, err
	}
	heldLocks = append(heldLocks, lk)
	l, err := lab.Open(name)
	if err != nil {
		return nil, err
	}
	return l, l.CheckHealthy()
}

// releaseHeld drops the shared locks useLab took.
func releaseHeld() {
	for _, l := range heldLocks {
		l.Unlock()
	}
	heldLocks = nil
}

// waitingFor tells the user why a command on a lab does not start yet.
func waitingFor(name string) func(by string) {
	return func(by string) {
		if by == "" {
			by = "another netlab command"
		}
		fmt.Fprintf(os.Stderr, "lab %s is busy: waiting for %s (Ctrl-C to give up)\n", name, by)
	}
}

// signalContext is cancelled by SIGINT, SIGTERM or SIGHUP, so that up and
// test can remove what they made instead of dying half-way. The signals stay
// caught until stop is called: a second Ctrl-C does not cut the cleanup.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
}

// interrupted is the exit status of a command stopped by a signal, as a
// shell reports one (128 + SIGINT).
var interrupted = exitError{130}

// labName returns --name's value, refusing an empty one given explicitly
// (an empty --name used to mean the scenario's name without saying so).
func labName(c *cobra.Command, name string) (string, error) {
	if c.Flags().Changed("name") {
		if err := state.CheckName(name); err != nil {
			return "", fmt.Errorf("--name: %w", err)
		}
	}
	return name, nil
}

// positive refuses a flag value that is zero or negative (they used to be
// replaced by a default without a word).
func positive[T int | time.Duration](flag string, v T) error {
	if v <= 0 {
		return fmt.Errorf("--%s must be greater than zero, not %v", flag, v)
	}
	return nil
}

func requireRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("this needs root (network namespaces, netlink and iptables): run it with sudo")
	}
	return nil
}
