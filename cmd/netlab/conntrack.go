package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/probes"
)

func conntrackCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "conntrack LAB [NODE...]",
		Short: "Dump the conntrack tables of a lab's nodes",
		Example: `  netlab conntrack flannel-vxlan
  netlab conntrack flannel-vxlan node-1 -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			l, err := openLabFor(out, args[0])
			if err != nil {
				return err
			}
			objects := args[1:]
			if len(objects) == 0 {
				for _, n := range l.Topology.Nodes {
					objects = append(objects, n.Name)
				}
			}
			all := map[string][]probes.Flow{}
			for _, o := range objects {
				flows, err := probes.Conntrack(l, o)
				if err != nil {
					return fmt.Errorf("%s: %w", o, err)
				}
				all[o] = append([]probes.Flow{}, flows...)
			}
			if out == "json" {
				return printJSON(all)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tPROTO\tSTATE\tORIG SRC\tORIG DST\tREPLY SRC\tREPLY DST\tNAT")
			for _, o := range objects {
				for _, f := range all[o] {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o, f.Proto, f.State, f.Orig.Src, f.Orig.Dst, f.Reply.Src, f.Reply.Dst, f.NAT)
				}
			}
			return w.Flush()
		},
	}
	addOutput(c, &out)
	return c
}
