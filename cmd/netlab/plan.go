package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
)

func planCmd() *cobra.Command {
	var (
		out, name, only, kubeProxy, kernelVersion string
	)
	c := &cobra.Command{
		Use:   "plan SCENARIO",
		Short: "Print what up would create, as ip / bridge / iptables-restore commands (no root needed)",
		Long: `plan compiles a scenario and prints the plan: every namespace, sysctl, link, address,
route, neighbour, FDB entry and iptables ruleset that up would create, as the equivalent
shell commands. What is printed is what is applied. -o json prints the plan itself
({"lab", "namespaces": [...]}); with --node the same, holding that one namespace.`,
		Example: `  netlab plan flannel-vxlan
  netlab plan flannel-vxlan --node node-1 --kube-proxy iptables@1.22
  netlab plan ./my-cluster.yaml -o json
  netlab plan flannel-cluster-mode --kernel 5.4.0-150-generic --node node-180`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			name, err := labName(c, name)
			if err != nil {
				return err
			}
			sc, err := loadScenario(args[0], kubeProxy)
			if err != nil {
				return err
			}
			if name == "" {
				name = sc.Topology.Name
			}
			p, err := compile.CompileWith(sc.Topology, name, compile.Options{KernelVersion: kernelVersion})
			if err != nil {
				return err
			}
			if only != "" {
				nsName, err := lab.Namespace(sc.Topology, name, only)
				if err != nil {
					return err
				}
				ns := p.Namespace(nsName)
				if ns == nil {
					return fmt.Errorf("the plan of %s has no namespace %s (an SLB exists only for LoadBalancer Services and listeners)", sc.Topology.Name, nsName)
				}
				if out == outputJSON {
					// The same shape as the whole plan, one namespace in it.
					return printJSON(&plan.Plan{Lab: p.Lab, Namespaces: []*plan.Namespace{ns}})
				}
				return p.RenderNamespace(os.Stdout, ns)
			}
			if out == outputJSON {
				return printJSON(p)
			}
			if err := p.Render(os.Stdout); err != nil {
				return err
			}
			_, err = fmt.Fprintln(os.Stdout)
			return err
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name used in namespace names (default: the scenario's name)")
	c.Flags().StringVar(&only, "node", "", "print only this node's (or pod's, client's, vpc's) namespace")
	c.Flags().StringVar(&kernelVersion, "kernel", kernel.Release(), "kernel release to plan for (kube-proxy IPVS mode writes conn_reuse_mode only on some)")
	addKubeProxy(c, &kubeProxy)
	addOutput(c, &out)
	return c
}
