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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() { os.Exit(run(os.Args[1:])) }

// run executes the CLI with args and returns the exit code. An error is
// "netlab: MESSAGE" on stderr, or, when the command was asked for -o json,
// a JSON object on stdout (see errorView); the exit code is the same.
func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	defer releaseHeld()
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if wantsJSON(cmd, args) {
		if perr := printJSON(newErrorView(err)); perr == nil {
			return 1
		}
	}
	fmt.Fprintln(os.Stderr, "netlab:", err)
	return 1
}

// errorView is what a failed command prints under -o json: the message
// as the table output would print it and, for an invalid scenario, each
// problem with its file, line, field and fix.
type errorView struct {
	Error    string             `json:"error"`
	Problems []topology.Problem `json:"problems,omitempty"`
}

func newErrorView(err error) errorView {
	v := errorView{Error: err.Error()}
	var ps topology.Problems
	if errors.As(err, &ps) {
		v.Problems = ps
	}
	return v
}

// wantsJSON reports whether the failed command was run with -o json: the
// parsed flag when parsing got that far, else the arguments themselves
// (an unknown flag or a bad argument count fails before parsing ends).
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd != nil {
		if f := cmd.Flags().Lookup("output"); f != nil && f.Changed {
			return f.Value.String() == outputJSON
		}
	}
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-o" || a == "--output":
			if i+1 < len(args) && args[i+1] == outputJSON {
				return true
			}
		case a == "-ojson" || a == "-o=json" || a == "--output=json":
			return true
		}
	}
	return false
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "netlab",
		Short: "Rebuild a Kubernetes cluster's dataplane in network namespaces",
		Long: `netlab builds "nodes" and "pods" as named network namespaces joined by veths, bridges and
VXLAN, wires them as a CNI mode would, serves an app in every pod and fires real TCP probes
through them. Scenarios are YAML files; the built-in ones are listed by 'netlab scenarios'.

Tables are fitted to the terminal: $COLUMNS if set, else the terminal's width, else 120
columns; long text is cut with "…", and -o wide (status, scenarios, test) prints it whole.
Commands that print results take -o json (camelCase keys; docs/json.md); under it an error
is {"error": ...} on stdout.`,
		Example: `  netlab up flannel-vxlan
  netlab status flannel-vxlan
  netlab test flannel-vxlan
  netlab probe flannel-vxlan client-a pod/web-2
  netlab exec flannel-vxlan node-1 -- ip route
  netlab down flannel-vxlan`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: checkCommandOutput,
		// completionCmd replaces cobra's: its bash help says how to get
		// the bash-completion package.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	// test prints its table with printChecks (testprint.go), which has a
	// wide form.
	test := testCmd()
	allowOutput(test, outputWide)
	root.AddCommand(upCmd(), downCmd(), statusCmd(), lsCmd(), execCmd(), probeCmd(), traceCmd(), conntrackCmd(),
		test, planCmd(), graphCmd(), doctorCmd(), scenariosCmd(), rulesCmd(), diffCmd(), daemonCmd(),
		completionCmd(), versionCmd())
	addCompletions(root)
	return root
}

// Output formats (-o). Every command has table and json; wide, where a
// command has it, prints every cell whole instead of fitting the table to
// the terminal.
const (
	outputTable = "table"
	outputWide  = "wide"
	outputJSON  = "json"
)

// formatsAnnotation lists, on a command's -o flag, the formats it takes.
const formatsAnnotation = "netlab-formats"

// addOutput adds -o/--output to a command: table and json, and wide
// when it is in extra.
func addOutput(c *cobra.Command, out *string, extra ...string) {
	c.Flags().StringVarP(out, "output", "o", outputTable, "")
	allowOutput(c, extra...)
}

// allowOutput sets the formats a command's -o takes (table, json and
// extra) and says so in its help.
func allowOutput(c *cobra.Command, extra ...string) {
	f := c.Flags().Lookup("output")
	formats := append([]string{outputTable}, extra...)
	formats = append(formats, outputJSON)
	f.Annotations = map[string][]string{formatsAnnotation: formats}
	f.Usage = "output format: " + orList(formats)
}

// outputFormats are the formats a command's -o takes (nil: it has no -o).
func outputFormats(c *cobra.Command) []string {
	if f := c.Flags().Lookup("output"); f != nil {
		return f.Annotations[formatsAnnotation]
	}
	return nil
}

// checkCommandOutput refuses an -o value the command does not have
// before it runs (root's PersistentPreRunE).
func checkCommandOutput(c *cobra.Command, _ []string) error {
	formats := outputFormats(c)
	if formats == nil {
		return nil
	}
	out := c.Flags().Lookup("output").Value.String()
	if !slices.Contains(formats, out) {
		return fmt.Errorf("unknown output format %q (use %s)", out, orList(formats))
	}
	return nil
}

// orList is "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// checkOutput is the commands' own check of -o; root has already refused
// a format the command lacks (checkCommandOutput).
func checkOutput(out string) error {
	if out != outputTable && out != outputWide && out != outputJSON {
		return fmt.Errorf("unknown output format %q (use table, wide or json)", out)
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
	path := strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") || strings.Contains(arg, "/")
	if st, err := os.Stat(arg); err == nil && (path || !st.IsDir()) {
		// It refuses a FIFO, a device, a directory and oversized input.
		data, err = topology.ReadScenarioFile(arg)
		if err != nil {
			return nil, err
		}
		source = arg
	} else if path {
		return nil, fmt.Errorf("scenario file %s: %w", arg, os.ErrNotExist)
	} else if d, ok := topologies.Get(arg); ok {
		data, source = d, "builtin:"+arg+".yaml"
	} else {
		return nil, fmt.Errorf("no scenario %q: not a file, and the built-in ones are %s", arg, strings.Join(topologies.Names(), ", "))
	}
	sc, err := lab.LoadScenario(source, data, strings.Join(kubeProxy, ""))
	if err != nil {
		return nil, err
	}
	for _, n := range sc.Notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	return sc, nil
}

// labOrScenario resolves the argument of the commands that take a running
// lab or a scenario (test, graph): a lab that is up comes first (its name
// is returned), else a built-in scenario or a file (loaded, with the
// --kube-proxy override, which a running lab does not take).
func labOrScenario(arg, kubeProxy string) (labName string, sc *lab.Scenario, err error) {
	if state.CheckName(arg) == nil && state.IsLab(arg) {
		if kubeProxy != "" {
			return "", nil, fmt.Errorf("--kube-proxy applies to a scenario; lab %s is already up (netlab up SCENARIO --kube-proxy %s --name OTHER)", arg, kubeProxy)
		}
		return arg, nil, nil
	}
	sc, err = loadScenario(arg, kubeProxy)
	return "", sc, err
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
