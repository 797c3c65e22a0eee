package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// scenarioRow is one built-in scenario in scenarios.
type scenarioRow struct {
	Name string `json:"name"`
	CNI  string `json:"cni"`
	// KubeProxy is MODE@VERSION, "" without kube-proxy (no Services).
	KubeProxy   string `json:"kubeProxy,omitempty"`
	Nodes       int    `json:"nodes"`
	Pods        int    `json:"pods"`
	Probes      int    `json:"probes"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
}

// scenarioYAML is what scenarios show -o json prints.
type scenarioYAML struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	YAML   string `json:"yaml"`
}

func builtinScenarios() ([]scenarioRow, error) {
	var rows []scenarioRow
	for _, n := range topologies.Names() {
		data, _ := topologies.Get(n)
		t, err := topology.Load(builtinSource(n), data)
		if err != nil {
			return nil, err
		}
		r := scenarioRow{Name: n, CNI: t.CNI.Plugin + "/" + t.CNI.Backend, Nodes: len(t.Nodes), Pods: len(t.Pods),
			Probes: len(t.Probes), Summary: firstSentence(t.Description), Description: t.Description}
		if kp := t.KubeProxy; kp != nil {
			r.KubeProxy = kp.Mode + "@" + kp.Version
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// builtinSource is how a built-in scenario's file is named in messages
// and lab state.
func builtinSource(name string) string { return "builtin:" + name + ".yaml" }

func scenariosCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "scenarios",
		Short: "List the built-in scenarios; show one's YAML",
		Long: `scenarios lists the built-in scenarios: CNI, kube-proxy mode and version, size, and the first
sentence of each description (cut to fit the terminal; -o wide prints it whole, -o json has
the whole description too). 'netlab scenarios show NAME' prints a built-in scenario's YAML,
to start one of your own from.`,
		Example: `  netlab scenarios
  netlab scenarios -o wide
  netlab scenarios -o json
  netlab scenarios show flannel-vxlan > my-cluster.yaml`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			rows, err := builtinScenarios()
			if err != nil {
				return err
			}
			if out == outputJSON {
				return printJSON(rows)
			}
			t := newTable(column{Header: "NAME"}, column{Header: "CNI"}, column{Header: "KUBE-PROXY"}, column{Header: "NODES"},
				column{Header: "PODS"}, column{Header: "PROBES"}, column{Header: "SUMMARY", Flex: true, Min: 20})
			for _, r := range rows {
				kp := r.KubeProxy
				if kp == "" {
					kp = "-"
				}
				t.add(r.Name, r.CNI, kp, strconv.Itoa(r.Nodes), strconv.Itoa(r.Pods), strconv.Itoa(r.Probes), r.Summary)
			}
			return t.write(os.Stdout, fitWidth(out))
		},
	}
	addOutput(c, &out, outputWide)
	c.AddCommand(scenarioShowCmd())
	return c
}

func scenarioShowCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a built-in scenario's YAML, to start your own from",
		Example: `  netlab scenarios show flannel-vxlan
  netlab scenarios show flannel-services > my-cluster.yaml   (then edit it, and: netlab up ./my-cluster.yaml)
  netlab scenarios show seed002-clb -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			data, ok := topologies.Get(args[0])
			if !ok {
				return fmt.Errorf("no built-in scenario %q (they are %s)", args[0], strings.Join(topologies.Names(), ", "))
			}
			if out == outputJSON {
				return printJSON(scenarioYAML{Name: args[0], Source: builtinSource(args[0]), YAML: string(data)})
			}
			_, err := os.Stdout.Write(data)
			return err
		},
	}
	addOutput(c, &out)
	c.Flags().Lookup("output").Usage = "output: table (the YAML itself) or json"
	return c
}

// firstSentence is a description's first sentence on one line: up to the
// first period followed by a space or the end ("1.22" and "e.g." do not
// end it), the line breaks of the YAML block joined.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for i := 0; i < len(s); i++ {
		if s[i] != '.' || (i+1 < len(s) && s[i+1] != ' ') || abbreviation(s[:i]) {
			continue
		}
		return s[:i+1]
	}
	return s
}

// abbreviation reports whether text ends in a dotted abbreviation such as
// "e.g" or "i.e" (letters with a dot inside), whose final period does not
// end a sentence.
func abbreviation(text string) bool {
	word := text[strings.LastIndexByte(text, ' ')+1:]
	word = strings.TrimLeft(word, "(")
	if !strings.Contains(word, ".") {
		return false
	}
	for _, r := range word {
		if r != '.' && !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}
