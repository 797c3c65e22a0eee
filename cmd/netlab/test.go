package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/probes"
)

func testCmd() *cobra.Command {
	var (
		out, kubeProxy, name string
		keep, explain        bool
		timeout              time.Duration
	)
	c := &cobra.Command{
		Use:   "test LAB|SCENARIO",
		Short: "Run a scenario's probes against their expectations (exit 1 on any mismatch)",
		Long: `test fires every probe of a scenario and compares what it observed with what the scenario
expects. Given a running lab it tests that lab; given a scenario (built-in name or file)
it brings a lab up (named --name, default the scenario's name), tests it and takes it down
again (--keep leaves it up), also when interrupted. A running lab is held for the test: a
down waits for it to finish. A broken lab (dead daemon, namespaces gone) is refused with
what is wrong rather than tested.

Each failure is followed by the path the probe took and, with --explain (which watches rule
counters, as netlab trace does, for every probe), the verdict: the rule that refused or
dropped it.`,
		Example: `  netlab test flannel-vxlan
  netlab test ./my-cluster.yaml --keep
  netlab test flannel-services --name alice-services
  netlab test mylab -o json
  netlab test flannel-local-mode --kube-proxy ipvs@1.24 --explain`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) (err error) {
			if err := checkOutput(out); err != nil {
				return err
			}
			if err := positive("timeout", timeout); err != nil {
				return err
			}
			name, err := labName(c, name)
			if err != nil {
				return err
			}
			if err := requireRoot(); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			l, temp, err := labToTest(ctx, args[0], name, kubeProxy)
			if err != nil {
				return upFailed(ctx, err)
			}
			if temp && !keep {
				defer func() {
					releaseHeld() // our shared lock first: down takes it exclusively
					if derr := lab.Down(l.State.Lab); derr != nil && err == nil {
						err = derr
					}
				}()
			}
			type run struct {
				checks []*probes.Check
				err    error
			}
			done := make(chan run, 1)
			go func() {
				checks, err := probes.RunScenario(l, probes.Options{Timeout: timeout, Rules: explain})
				done <- run{checks, err}
			}()
			var r run
			select {
			case r = <-done:
			case <-ctx.Done():
				if temp && !keep {
					fmt.Fprintf(os.Stderr, "netlab: test interrupted: taking down lab %s\n", l.State.Lab)
				} else {
					fmt.Fprintf(os.Stderr, "netlab: test interrupted; lab %s stays up\n", l.State.Lab)
				}
				return interrupted
			}
			if r.err != nil {
				return r.err
			}
			checks := r.checks
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
	c.Flags().StringVar(&name, "name", "", "with a scenario: the name of the lab brought up for the test (default: the scenario's name)")
	c.Flags().DurationVar(&timeout, "timeout", probes.DefaultTimeout, "per-probe timeout")
	c.Flags().BoolVar(&explain, "explain", false, "watch rule counters for every probe and print each failure's verdict")
	addKubeProxy(c, &kubeProxy)
	addOutput(c, &out)
	return c
}

// labToTest resolves test's argument: a running lab (held shared and
// checked healthy), or a scenario brought up as a lab of its own (temp).
func labToTest(ctx context.Context, arg, name, kubeProxy string) (l *lab.Lab, temp bool, err error) {
	running, sc, err := labOrScenario(arg, kubeProxy)
	if err != nil {
		return nil, false, err
	}
	if running != "" {
		if name != "" {
			return nil, false, fmt.Errorf("--name applies to a scenario; lab %s is already up", arg)
		}
		l, err := useLab("table", running)
		return l, false, err
	}
	if name == "" {
		name = sc.Topology.Name
	}
	warnKubeProxy(os.Stderr, sc.Topology)
	fmt.Fprintf(os.Stderr, "bringing up %s for the test\n", name)
	l, err = lab.Up(ctx, sc, lab.UpOptions{Name: name, DaemonCommand: daemonCommand, Preflight: preflight, Compile: compile.ForHost, Apply: apply.Apply,
		Progress: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		return nil, false, err
	}
	// Hold it like any lab under test; released before our own down.
	lk, err := state.Shared(ctx, name, waitingFor(name))
	if err != nil {
		return nil, true, errors.Join(err, lab.Down(name))
	}
	heldLocks = append(heldLocks, lk)
	return l, true, nil
}
