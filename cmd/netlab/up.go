package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
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
that serves every pod's ports. If anything fails, or up is interrupted (Ctrl-C, SIGTERM,
SIGHUP), everything made so far is removed and up says so (exit status 130 when
interrupted). While up runs, a down or another up of the same lab waits for it.`,
		Example: `  netlab up flannel-vxlan
  netlab up flannel-host-gw --name hg
  netlab up flannel-vxlan --kube-proxy iptables@1.22
  netlab up ./my-cluster.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			name, err := labName(c, name)
			if err != nil {
				return err
			}
			if c.Flags().Changed("workers") {
				if err := positive("workers", workers); err != nil {
					return err
				}
			}
			sc, err := loadScenario(args[0], kubeProxy)
			if err != nil {
				return err
			}
			warnKubeProxy(os.Stderr, sc.Topology)
			if err := requireRoot(); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			start := time.Now()
			l, err := lab.Up(ctx, sc, lab.UpOptions{
				Name: name, DaemonCommand: daemonCommand, Workers: workers, Preflight: preflight, Compile: compile.ForHost, Apply: apply.Apply,
				Progress: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
			})
			if err != nil {
				return upFailed(ctx, err)
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

// upFailed words an up that did not finish. Up removed what it made either
// way; an interruption says so and exits as a shell expects.
func upFailed(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if errors.Is(err, context.Canceled) && !errors.Is(err, lab.ErrCleanup) {
		fmt.Fprintln(os.Stderr, "netlab: up interrupted: everything it had made is removed")
	} else {
		fmt.Fprintln(os.Stderr, "netlab: up interrupted:", err)
	}
	return interrupted
}

// kubeProxyWarning is what the scenario's kube-proxy logs when it starts
// (kubeproxy.Mode's Warning, under the scenario's feature gates), "" for
// nothing.
func kubeProxyWarning(kp *topology.KubeProxy) string {
	if kp == nil {
		return ""
	}
	return kubeproxy.StartWarning(kp.Mode, kp.Version, kp.FeatureGates)
}

// warnKubeProxy prints kubeProxyWarning as "warning: kube-proxy 1.35
// (ipvs): MESSAGE" (up, and test when it brings a scenario up), before
// the lab is built: the node renders as usual, this is the notice the
// real kube-proxy would log (and -o json carries it as
// kubeProxy.warning).
func warnKubeProxy(w io.Writer, t *topology.Topology) {
	if t == nil {
		return
	}
	msg := kubeProxyWarning(t.KubeProxy)
	if msg == "" {
		return
	}
	ver := t.KubeProxy.Version
	if v, err := kubeproxy.ParseVersion(ver); err == nil {
		ver = v.String()
	}
	fmt.Fprintf(w, "warning: kube-proxy %s (%s): %s\n", ver, t.KubeProxy.Mode, msg)
}
