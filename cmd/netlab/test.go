package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/probes"
)

func testCmd() *cobra.Command {
	var (
		out, kubeProxy string
		keep, explain  bool
		timeout        time.Duration
	)
	c := &cobra.Command{
		Use:   "test LAB|SCENARIO",
		Short: "Run a scenario's probes against their expectations (exit 1 on any mismatch)",
		Long: `test fires every probe of a scenario and compares what it observed with what the scenario
expects. Given a running lab it tests that lab; given a scenario (built-in name or file)
it brings a lab up, tests it and takes it down again (--keep leaves it up).

Each failure is followed by the path the probe took and, with --explain (which watches rule
counters, as netlab trace does, for every probe), the verdict: the rule that refused or
dropped it.`,
		Example: `  netlab test flannel-vxlan
  netlab test ./my-cluster.yaml --keep
  netlab test mylab -o json
  netlab test flannel-local-mode --kube-proxy ipvs@1.24 --explain`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) (err error) {
			if err := checkOutput(out); err != nil {
				return err
			}
			if err := requireRoot(); err != nil {
				return err
			}
			l, err := lab.Open(args[0])
			if err == nil && kubeProxy != "" {
				return fmt.Errorf("--kube-proxy applies to a scenario; lab %s is already up (netlab up SCENARIO --kube-proxy %s --name OTHER)", args[0], kubeProxy)
			}
			if errors.Is(err, state.ErrNotFound) {
				sc, lerr := loadScenario(args[0], kubeProxy)
				if lerr != nil {
					return lerr
				}
				fmt.Fprintf(os.Stderr, "bringing up %s for the test\n", sc.Topology.Name)
				l, err = lab.Up(context.Background(), sc, lab.UpOptions{DaemonCommand: daemonCommand, Preflight: preflight,
					Progress: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
				if err == nil && !keep {
					defer func() {
						if derr := lab.Down(l.State.Lab); derr != nil && err == nil {
							err = derr
						}
					}()
				}
			}
			if err != nil {
				return err
			}
			checks, err := probes.RunScenario(l, probes.Options{Timeout: timeout, Rules: explain})
			if err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if !c.Pass {
					failed++
				}
			}
			if out == "json" {
				if err := printJSON(newTestReport(l.State.Lab, checks)); err != nil {
					return err
				}
			} else {
				printChecks(l.Topology, checks, fitWidth(out))
				fmt.Printf("\n%d passed, %d failed\n", len(checks)-failed, failed)
			}
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&keep, "keep", false, "leave the lab up after testing a scenario")
	c.Flags().DurationVar(&timeout, "timeout", probes.DefaultTimeout, "per-probe timeout")
	c.Flags().BoolVar(&explain, "explain", false, "watch rule counters for every probe and print each failure's verdict")
	addKubeProxy(c, &kubeProxy)
	addOutput(c, &out)
	return c
}
