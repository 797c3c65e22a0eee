package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
)

func upCmd() *cobra.Command {
	var (
		name, out, kubeProxy string
		workers              int
	)
	c := &cobra.Command{
		Use:   "up SCENARIO",
		Short: "Build a lab from a built-in scenario or a YAML file",
		Long: `up compiles the scenario, checks that this kernel has what it needs, records the lab in
/run/netlab/LAB, creates its namespaces, links, routes and rules, and starts the lab daemon
that serves every pod's ports. If anything fails, everything made so far is removed.`,
		Example: `  netlab up flannel-vxlan
  netlab up flannel-host-gw --name hg
  netlab up flannel-vxlan --kube-proxy iptables@1.22
  netlab up ./my-cluster.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			sc, err := loadScenario(args[0], kubeProxy)
			if err != nil {
				return err
			}
			if err := requireRoot(); err != nil {
				return err
			}
			start := time.Now()
			l, err := lab.Up(context.Background(), sc, lab.UpOptions{
				Name: name, DaemonCommand: daemonCommand, Workers: workers, Preflight: preflight,
				Progress: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%s: up in %.2fs\n", l.State.Lab, time.Since(start).Seconds())
			if out == "json" {
				return printJSON(describe(l))
			}
			if err := printStatus(describe(l)); err != nil {
				return err
			}
			fmt.Printf("\nnext: netlab test %[1]s | netlab trace %[1]s FROM TO | netlab exec %[1]s NODE -- ip route | netlab down %[1]s\n", l.State.Lab)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the scenario's name)")
	c.Flags().IntVar(&workers, "workers", 0, "namespaces configured in parallel (default 2 x CPUs)")
	addKubeProxy(c, &kubeProxy)
	addOutput(c, &out)
	return c
}
