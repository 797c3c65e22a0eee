package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/apply"
)

// rulesView is what rules -o json prints: each iptables table's lines
// and, on an IPVS node, ipvsadm -Ln and ipset save as they print.
type rulesView struct {
	Lab       string              `json:"lab"`
	Namespace string              `json:"namespace"`
	Object    string              `json:"object"`
	Tables    map[string][]string `json:"tables"`
	IPVS      string              `json:"ipvs,omitempty"`
	IPSets    string              `json:"ipsets,omitempty"`
}

func rulesCmd() *cobra.Command {
	var out, table string
	c := &cobra.Command{
		Use:   "rules LAB NODE",
		Short: "Show the rules a node (or pod, client, vpc, slb) really has: iptables, and IPVS + ipsets",
		Long: `rules prints iptables-save from inside a lab namespace (and, on a node of a kube-proxy IPVS
lab, ipvsadm -Ln and ipset save first): what the kernel holds, not what the plan says
(netlab plan shows that).`,
		Example: `  netlab rules flannel-vxlan node-1
  netlab rules flannel-vxlan node-1 --table nat
  netlab rules mylab slb -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			l, err := openLabFor(out, args[0])
			if err != nil {
				return err
			}
			ns, err := l.NS(args[1])
			if err != nil {
				return err
			}
			cmdArgs := []string{"iptables-save"}
			if table != "" {
				cmdArgs = append(cmdArgs, "-t", table)
			}
			text, err := apply.Output(ns, cmdArgs...)
			if err != nil {
				return err
			}
			// An IPVS node's virtual servers and ipsets are part of its rules.
			var ipvsText, ipsetText string
			if kp := l.Topology.KubeProxy; kp != nil && kp.Mode == "ipvs" && l.Topology.Node(args[1]) != nil {
				if ipvsText, err = apply.Output(ns, "ipvsadm", "-Ln"); err != nil {
					return err
				}
				if ipsetText, err = apply.Output(ns, "ipset", "save"); err != nil {
					return err
				}
			}
			if out == "json" {
				return printJSON(rulesView{Lab: l.State.Lab, Namespace: ns, Object: args[1], Tables: splitTables(text), IPVS: ipvsText, IPSets: ipsetText})
			}
			if ipvsText != "" {
				fmt.Printf("# ipvsadm -Ln\n%s\n# ipset save\n%s\n# iptables-save\n", ipvsText, ipsetText)
			}
			_, err = os.Stdout.WriteString(text)
			return err
		},
	}
	c.Flags().StringVar(&table, "table", "", "only this table (nat, filter, mangle, raw)")
	addOutput(c, &out)
	return c
}

// splitTables turns iptables-save text into table -> lines (comments and
// counters dropped).
func splitTables(text string) map[string][]string {
	out := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			cur = line[1:]
			out[cur] = []string{}
		case line == "" || strings.HasPrefix(line, "#") || line == "COMMIT":
		default:
			out[cur] = append(out[cur], line)
		}
	}
	return out
}
