package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/internal/textdiff"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// nodeDiff is one node in diff -o json.
type nodeDiff struct {
	Node string `json:"node"`
	Diff string `json:"diff"`
}

func diffCmd() *cobra.Command {
	var (
		out, node string
	)
	c := &cobra.Command{
		Use:   "diff SCENARIO MODE@VERSION MODE@VERSION",
		Short: "Show how the rules a node gets change between two kube-proxy versions (no root needed)",
		Long: `diff compiles the scenario twice, once per kube-proxy mode and version, and prints a unified
diff of each node's iptables-restore text. Chain names are kube-proxy's own hashes, so a
chain that keeps its name across versions lines up.`,
		Example: `  netlab diff flannel-vxlan iptables@1.23 iptables@1.25
  netlab diff ./my-cluster.yaml iptables@1.22 iptables@1.24 --node node-1 -o json`,
		Args: cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			var texts [2]map[string]string
			for i, spec := range args[1:] {
				kp, err := topology.ParseKubeProxy(spec)
				if err != nil {
					return err
				}
				t := *sc.Topology
				t.KubeProxy = kp
				p, err := compile.ForHost(&t, t.Name)
				if err != nil {
					return fmt.Errorf("%s: %w", spec, err)
				}
				texts[i] = map[string]string{}
				for _, ns := range p.Namespaces {
					if ns.Role == plan.RoleNode && (node == "" || ns.Owner == node) {
						texts[i][ns.Owner] = ns.IPTables.Restore()
					}
				}
			}
			var diffs []nodeDiff
			for _, n := range sc.Topology.Nodes {
				if node != "" && n.Name != node {
					continue
				}
				d := textdiff.Unified(texts[0][n.Name], texts[1][n.Name], args[1]+" "+n.Name, args[2]+" "+n.Name)
				diffs = append(diffs, nodeDiff{n.Name, d})
			}
			if node != "" && len(diffs) == 0 {
				return fmt.Errorf("no node %q in %s", node, sc.Topology.Name)
			}
			if out == "json" {
				return printJSON(diffs)
			}
			for _, d := range diffs {
				if d.Diff == "" {
					fmt.Printf("# %s: no difference\n", d.Node)
					continue
				}
				fmt.Print(d.Diff)
			}
			return nil
		},
	}
	c.Flags().StringVar(&node, "node", "", "only this node")
	addOutput(c, &out)
	return c
}
