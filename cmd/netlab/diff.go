package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

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
				p, err := compile.Compile(&t, t.Name)
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
				d := unifiedDiff(texts[0][n.Name], texts[1][n.Name], args[1]+" "+n.Name, args[2]+" "+n.Name)
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

// unifiedDiff is a line diff (longest common subsequence) in unified
// format with three lines of context; "" when a == b.
func unifiedDiff(a, b, nameA, nameB string) string {
	if a == b {
		return ""
	}
	x, y := strings.Split(strings.TrimSuffix(a, "\n"), "\n"), strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	// lcs[i][j] = length of the LCS of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int
		bi   int
	}
	var ops []op
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, op{' ', x[i], i, j})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i], i, j})
			i++
		default:
			ops = append(ops, op{'+', y[j], i, j})
			j++
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", nameA, nameB)
	const ctx = 3
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start := max(k-ctx, 0)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", ops[start].ai+1, na, ops[start].bi+1, nb)
		for _, o := range ops[start:end] {
			sb.WriteByte(o.kind)
			sb.WriteString(o.text)
			sb.WriteByte('\n')
		}
		k = end
	}
	return sb.String()
}
