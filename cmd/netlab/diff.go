package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/internal/textdiff"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// nodeDiff is one node in diff -o json.
type nodeDiff struct {
	Node string `json:"node"`
	// Services is every Service address of the node and what each side
	// does with each client's connection to it.
	Services []serviceDiff `json:"services"`
	// Parts are the node's dataplane texts, compared one by one.
	Parts []partDiff `json:"parts"`
	// Diff is the parts' unified diffs one after the other, as the text
	// output prints them ("" when no part differs).
	Diff string `json:"diff"`
}

// partDiff is one part of a node's dataplane: its line count on either
// side (0: the side has none) and the unified diff between them.
type partDiff struct {
	Part     string `json:"part"`
	LinesA   int    `json:"linesA"`
	LinesB   int    `json:"linesB"`
	Same     bool   `json:"same"`
	Deleted  int    `json:"deleted"`
	Inserted int    `json:"inserted"`
	Diff     string `json:"diff"`
}

// Dataplane parts, in the order diff shows them.
const (
	partIPTables = "iptables" // iptables-restore input
	partNFTables = "nftables" // nft -f input
	partIPVS     = "ipvs"     // ipvsadm -S -n
	partIPSets   = "ipsets"   // ipset save
)

var partOrder = []string{partIPTables, partNFTables, partIPVS, partIPSets}

// parts renders a node namespace's dataplane, part by part, as the
// commands that restore it print it.
func parts(ns *plan.Namespace) map[string]string {
	out := map[string]string{}
	if ns == nil {
		return out
	}
	out[partIPTables] = ns.IPTables.Restore()
	if ns.NFTables != "" {
		out[partNFTables] = strings.TrimSuffix(ns.NFTables, "\n") + "\n"
	}
	if lines := plan.IPVSAdm(ns.IPVS); len(lines) > 0 {
		out[partIPVS] = strings.Join(lines, "\n") + "\n"
	}
	out[partIPSets] = plan.IPSetRestore(ns.IPSets)
	return out
}

// compareParts diffs every part; a part neither side has is left out.
func compareParts(a, b map[string]string, nameA, nameB, node string) []partDiff {
	var out []partDiff
	for _, part := range partOrder {
		x, y := a[part], b[part]
		pd := partDiff{Part: part, LinesA: len(textdiff.Lines(x)), LinesB: len(textdiff.Lines(y)), Same: x == y}
		if !pd.Same {
			pd.Diff = textdiff.Unified(x, y, nameA+" "+node+" "+part, nameB+" "+node+" "+part)
			pd.Deleted, pd.Inserted = textdiff.Stats(x, y)
		}
		out = append(out, pd)
	}
	return out
}

// partsLine says, in one line, which parts differ and which do not.
func partsLine(ps []partDiff, nameA, nameB string) string {
	var words []string
	var same, neither []string
	for _, p := range ps {
		switch {
		case p.LinesA == 0 && p.LinesB == 0:
			neither = append(neither, p.Part)
		case p.Same:
			same = append(same, p.Part)
		case p.LinesA == 0:
			words = append(words, fmt.Sprintf("%s only in %s (%d lines)", p.Part, nameB, p.LinesB))
		case p.LinesB == 0:
			words = append(words, fmt.Sprintf("%s only in %s (%d lines)", p.Part, nameA, p.LinesA))
		default:
			words = append(words, fmt.Sprintf("%s differs (-%d +%d lines)", p.Part, p.Deleted, p.Inserted))
		}
	}
	if len(same) > 0 {
		words = append(words, strings.Join(same, ", ")+" identical")
	}
	if len(neither) > 0 {
		words = append(words, strings.Join(neither, ", ")+" in neither")
	}
	return strings.Join(words, "; ")
}

func diffCmd() *cobra.Command {
	var (
		out, node string
		all       bool
	)
	c := &cobra.Command{
		Use:   "diff SCENARIO MODE@VERSION MODE@VERSION",
		Short: "Show how a node's dataplane changes between two kube-proxy modes or versions (no root needed)",
		Long: `diff compiles the scenario twice, once per kube-proxy mode and version, and compares each
node's dataplane in two ways.

First, Service by Service: for every address a Service port is reached at on the node (its
ClusterIP, the node's NodePort, load balancer and external IPs, and SLB listeners that are no
Service's) and every kind of client (a pod
on the node, the node itself, a host outside the cluster, one inside the source ranges), what
happens to a new connection: the endpoints it can reach (SNAT where the endpoint sees another
source), rejected, dropped, not captured. Both sides answer from their compiled rules whatever
mode wrote them (iptables, nftables, IPVS virtual servers, ipsets, routes), so iptables and IPVS
compare Service by Service. The addresses whose outcome differs are listed ("-" the first
side, "+" the second); --all lists every address, "=" where both sides agree.

Then part by part, a unified diff of each part's text: iptables (iptables-restore input),
nftables (nft -f input), ipvs (ipvsadm -S -n) and ipsets (ipset save), each labelled, with a
line saying which parts are identical. Chain names are kube-proxy's own hashes, so a chain that
keeps its name across versions lines up.`,
		Example: `  netlab diff flannel-vxlan iptables@1.23 iptables@1.25
  netlab diff flannel-services iptables@1.31 ipvs@1.31 --node node-1
  netlab diff flannel-services ipvs@1.23 ipvs@1.24
  netlab diff flannel-services iptables@1.31 ipvs@1.31 --node node-3 --all
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
			if node != "" && !hasNode(sc.Topology, node) {
				return fmt.Errorf("no node %q in %s", node, sc.Topology.Name)
			}
			var nss [2]map[string]*plan.Namespace
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
				nss[i] = map[string]*plan.Namespace{}
				for _, ns := range p.Namespaces {
					if ns.Role == plan.RoleNode && (node == "" || ns.Owner == node) {
						nss[i][ns.Owner] = ns
					}
				}
			}
			diffs := []nodeDiff{}
			for i := range sc.Topology.Nodes {
				n := &sc.Topology.Nodes[i]
				if node != "" && n.Name != node {
					continue
				}
				a, b := nss[0][n.Name], nss[1][n.Name]
				d := nodeDiff{Node: n.Name, Services: []serviceDiff{}}
				if a != nil && b != nil {
					d.Services = compareServices(sc.Topology, n, a, b)
				}
				d.Parts = compareParts(parts(a), parts(b), args[1], args[2], n.Name)
				for _, p := range d.Parts {
					d.Diff += p.Diff
				}
				diffs = append(diffs, d)
			}
			if out == "json" {
				return printJSON(diffs)
			}
			fmt.Print(renderDiff(diffs, args[1], args[2], all))
			return nil
		},
	}
	c.Flags().StringVar(&node, "node", "", "only this node")
	c.Flags().BoolVar(&all, "all", false, "list every Service address, also those that behave the same on both sides")
	addOutput(c, &out)
	return c
}

func hasNode(t *topology.Topology, name string) bool {
	for _, n := range t.Nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

// renderDiff is the text output: per node, the Service summary, the
// parts line, then the parts' diffs. A node where nothing differs is one
// line.
func renderDiff(diffs []nodeDiff, nameA, nameB string, all bool) string {
	var b strings.Builder
	for _, d := range diffs {
		same := d.Diff == ""
		for _, s := range d.Services {
			same = same && s.Same
		}
		if same && !all {
			fmt.Fprintf(&b, "# %s: no difference\n", d.Node)
			continue
		}
		writeServices(&b, d.Node, nameA, nameB, d.Services, all)
		fmt.Fprintf(&b, "# %s: parts: %s\n", d.Node, partsLine(d.Parts, nameA, nameB))
		b.WriteString(d.Diff)
	}
	return b.String()
}
