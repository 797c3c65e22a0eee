package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
)

// rulesView is what rules -o json prints: each iptables table's lines
// and, on a node whose kube-proxy mode has more state (IPVS: ipvsadm -Ln,
// ipset save), that mode's views as they print, then the CNI mode's
// policy rules and tc filters where it has them.
type rulesView struct {
	Lab       string              `json:"lab"`
	Namespace string              `json:"namespace"`
	Object    string              `json:"object"`
	Tables    map[string][]string `json:"tables"`
	Views     []modeView          `json:"views,omitempty"`
}

// modeView is one of a kube-proxy mode's views of a node.
type modeView struct {
	Name    string `json:"name"`
	Command string `json:"command"`
	Output  string `json:"output"`
}

// modeViews runs the views of the lab's kube-proxy mode on a node.
func modeViews(t *topology.Topology, object, ns string) ([]modeView, error) {
	if t.KubeProxy == nil || t.Node(object) == nil {
		return nil, nil
	}
	m, _ := kubeproxy.Lookup(t.KubeProxy.Mode)
	var out []modeView
	for _, v := range m.Views {
		text, err := netns.Output(ns, v.Command...)
		if err != nil {
			return nil, err
		}
		out = append(out, modeView{Name: v.Name, Command: strings.Join(v.Command, " "), Output: text})
	}
	return out, nil
}

// datapathViews are the views of what a CNI mode installs beside
// iptables, where the namespace's plan has it: its policy rules (Terway
// ENIIP's 512 and 2048) and its tc filters (a Terway trunk ENI's VLAN push
// and pop), each as the kernel lists it.
func datapathViews(l *lab.Lab, ns string) ([]modeView, error) {
	p, err := l.PlanWith(state.PartNetwork)
	if err != nil {
		return nil, err
	}
	pn := p.Namespace(ns)
	if pn == nil {
		return nil, nil
	}
	var cmds [][]string
	if len(pn.Rules) > 0 {
		cmds = append(cmds, []string{"ip", "rule", "show"})
	}
	seen := map[[2]string]bool{}
	for _, f := range pn.TC {
		if k := [2]string{f.Dev, f.Dir}; !seen[k] {
			seen[k] = true
			cmds = append(cmds, []string{"tc", "filter", "show", "dev", f.Dev, f.Dir})
		}
	}
	var out []modeView
	for _, c := range cmds {
		text, err := netns.Output(ns, c...)
		if err != nil {
			return nil, err
		}
		name := "policy rules"
		if c[0] == "tc" {
			name = "tc filters"
		}
		out = append(out, modeView{Name: name, Command: strings.Join(c, " "), Output: text})
	}
	return out, nil
}

func rulesCmd() *cobra.Command {
	var out, table string
	c := &cobra.Command{
		Use:   "rules LAB NODE",
		Short: "Show the rules a node (or pod, client, vpc, slb) really has: iptables, nftables, IPVS + ipsets",
		Long: `rules prints iptables-save from inside a lab namespace (and first, on a node of a kube-proxy
IPVS lab, ipvsadm -Ln and ipset save; of an nftables lab, nft list table ip kube-proxy; where
the CNI mode installs them, ip rule and the tc filters: Terway's policy rules, a trunk ENI's
VLAN filters): what the kernel holds, not what the plan says (netlab plan shows that).`,
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
			text, err := netns.Output(ns, cmdArgs...)
			if err != nil {
				return err
			}
			// A mode's own state (IPVS virtual servers, ipsets) is part of
			// the node's rules.
			views, err := modeViews(l.Topology, args[1], ns)
			if err != nil {
				return err
			}
			dp, err := datapathViews(l, ns)
			if err != nil {
				return err
			}
			views = append(views, dp...)
			if out == "json" {
				return printJSON(rulesView{Lab: l.State.Lab, Namespace: ns, Object: args[1], Tables: splitTables(text), Views: views})
			}
			for _, v := range views {
				fmt.Printf("# %s\n%s\n", v.Command, v.Output)
			}
			if len(views) > 0 {
				fmt.Println("# iptables-save")
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
