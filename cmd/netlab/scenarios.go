package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

func scenariosCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:     "scenarios",
		Short:   "List the built-in scenarios",
		Example: "  netlab scenarios\n  netlab scenarios -o json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			type row struct {
				Name    string `json:"name"`
				CNI     string `json:"cni"`
				Nodes   int    `json:"nodes"`
				Pods    int    `json:"pods"`
				Probes  int    `json:"probes"`
				Summary string `json:"summary"`
			}
			var rows []row
			for _, n := range topologies.Names() {
				data, _ := topologies.Get(n)
				t, err := topology.Load("builtin:"+n+".yaml", data)
				if err != nil {
					return err
				}
				rows = append(rows, row{n, t.CNI.Plugin + "/" + t.CNI.Backend, len(t.Nodes), len(t.Pods), len(t.Probes), firstLine(t.Description)})
			}
			if out == "json" {
				return printJSON(rows)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tCNI\tNODES\tPODS\tPROBES\tSUMMARY")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", r.Name, r.CNI, r.Nodes, r.Pods, r.Probes, r.Summary)
			}
			return w.Flush()
		},
	}
	addOutput(c, &out)
	return c
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' || r == '.' {
			return s[:i]
		}
	}
	return s
}
