package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/topology"
)

// preflight refuses a scenario this kernel cannot build, naming what is
// missing and how to get it; netlab never falls back silently.
func preflight(t *topology.Topology) error {
	missing := kernel.Missing(compile.Requirements(t)...)
	if len(missing) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "this machine cannot run scenario %s; missing:", t.Name)
	for _, m := range missing {
		fmt.Fprintf(&b, "\n  - %s: %s", m.Feature, m.Detail)
		if m.Fix != "" {
			fmt.Fprintf(&b, "\n    fix: %s", m.Fix)
		}
	}
	// Suggest the default mode only where it leaves nothing missing (not
	// where the CNI mode itself needs what is missing: Terway trunking).
	if kp, def := t.KubeProxy, topology.DefaultKubeProxyMode(); kp != nil && kp.Mode != def {
		alt, altKP := *t, *kp
		altKP.Mode, alt.KubeProxy = def, &altKP
		if len(kernel.Missing(compile.Requirements(&alt)...)) == 0 {
			fmt.Fprintf(&b, "\nor run the scenario with kube-proxy in %[1]s mode here: --kube-proxy %[1]s@%[2]s", def, kp.Version)
		}
	}
	return fmt.Errorf("%s", b.String())
}

// doctorReport is what doctor -o json prints.
type doctorReport struct {
	Scenario string        `json:"scenario"`
	Checks   []doctorCheck `json:"checks"`
	Missing  []string      `json:"missing"`
}

type doctorCheck struct {
	kernel.Check
	Needed bool `json:"neededByScenario,omitempty"`
}

func doctorCmd() *cobra.Command {
	var out, kubeProxy string
	c := &cobra.Command{
		Use:   "doctor [SCENARIO]",
		Short: "Check this kernel and its tools; say what a scenario needs and lacks",
		Long: `doctor probes this machine for every kernel feature and tool netlab uses (it creates
test devices in a scratch namespace, never in the host's). Given a scenario, it also lists
what that scenario needs and exits 1 if anything is missing.`,
		Example: `  netlab doctor
  netlab doctor flannel-vxlan -o json
  netlab doctor flannel-cluster-mode --kube-proxy iptables@1.28`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if err := requireRoot(); err != nil {
				return err
			}
			checks := kernel.Probe(kernel.All()...)
			var needs []kernel.Feature
			scenario := ""
			if len(args) == 1 {
				sc, err := loadScenario(args[0], kubeProxy)
				if err != nil {
					return err
				}
				needs, scenario = compile.Requirements(sc.Topology), sc.Topology.Name
			}
			needed := map[kernel.Feature]bool{}
			for _, f := range needs {
				needed[f] = true
			}
			var lacking []string
			for _, c := range checks {
				if needed[c.Feature] && !c.OK {
					lacking = append(lacking, string(c.Feature))
				}
			}
			if out == "json" {
				rows := make([]doctorCheck, len(checks))
				for i, c := range checks {
					rows[i] = doctorCheck{c, needed[c.Feature]}
				}
				if err := printJSON(doctorReport{Scenario: scenario, Checks: rows, Missing: append([]string{}, lacking...)}); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "FEATURE\tOK\tNEEDED\tDETAIL")
				for _, c := range checks {
					ok := map[bool]string{true: "yes", false: "NO"}[c.OK]
					need := ""
					if needed[c.Feature] {
						need = "needed"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Feature, ok, need, c.Detail)
				}
				w.Flush()
				for _, c := range checks {
					if !c.OK && c.Fix != "" && (scenario == "" || needed[c.Feature]) {
						fmt.Printf("%s: %s\n", c.Feature, c.Fix)
					}
				}
				if scenario != "" {
					if len(lacking) == 0 {
						fmt.Printf("\n%s: this machine has everything it needs\n", scenario)
					} else {
						fmt.Printf("\n%s: cannot run here; missing %s\n", scenario, strings.Join(lacking, ", "))
					}
				}
			}
			if len(lacking) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	addKubeProxy(c, &kubeProxy)
	addOutput(c, &out)
	return c
}
