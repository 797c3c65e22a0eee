// Command netlab rebuilds a Kubernetes cluster's dataplane in network
// namespaces on one machine. Each verb is one file; all logic lives in lab/
// and probes/.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/topology"
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

func requireRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("this needs root (network namespaces, netlink and iptables): run it with sudo")
	}
	return nil
}
