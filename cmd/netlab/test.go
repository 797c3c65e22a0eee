package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
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
				if err := printJSON(map[string]any{"lab": l.State.Lab, "passed": len(checks) - failed, "failed": failed, "checks": checks}); err != nil {
					return err
				}
			} else {
				printChecks(checks)
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

func printChecks(checks []*probes.Check) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "PASS\tPROBE\tFROM -> TO\tEXPECTED\tOBSERVED")
	for _, c := range checks {
		mark := "ok"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s\t%s\t%s -> %s\t%s\t%s\n", mark, c.Name, c.From, c.To, expected(c), observed(c))
	}
	w.Flush()
	for _, c := range checks {
		for _, f := range c.Failures {
			fmt.Printf("FAIL %s: %s\n", c.Name, f)
		}
		// What the last run saw: its path and, with --explain, why.
		if !c.Pass && len(c.Results) > 0 {
			r := c.Results[len(c.Results)-1]
			if len(r.Path) > 0 {
				fmt.Printf("     path: %s\n", strings.Join(r.Path, " -> "))
			}
			if r.Verdict != nil {
				fmt.Printf("     verdict: %s\n", r.Verdict.Summary)
			}
		}
	}
}

func expected(c *probes.Check) string {
	e := c.Expect
	parts := []string{e.Result}
	if e.Server != "" {
		parts = append(parts, "by "+e.Server)
	}
	if e.ClientIP != "" {
		parts = append(parts, "sees "+e.ClientIP)
	}
	if e.ClientIPPreserved != nil {
		parts = append(parts, fmt.Sprintf("client IP kept=%v", *e.ClientIPPreserved))
	}
	if e.Repeat > 1 {
		parts = append(parts, fmt.Sprintf("x%d", e.Repeat))
	}
	if e.Servers > 0 {
		parts = append(parts, fmt.Sprintf("%d distinct servers", e.Servers))
	}
	return strings.Join(parts, ", ")
}

func observed(c *probes.Check) string {
	if len(c.Results) == 0 {
		return "-"
	}
	r := c.Results[len(c.Results)-1]
	parts := []string{r.Result}
	if r.Server != nil {
		parts = append(parts, "by "+r.Server.Pod)
	}
	if r.ClientAddrSeen != "" {
		parts = append(parts, "saw "+r.ClientAddrSeen)
	}
	if len(c.Results) > 1 {
		var servers []string
		for s, n := range c.Servers {
			servers = append(servers, fmt.Sprintf("%s:%d", s, n))
		}
		parts = append(parts, fmt.Sprintf("x%d (%s)", len(c.Results), strings.Join(servers, " ")))
	}
	return strings.Join(parts, ", ")
}
