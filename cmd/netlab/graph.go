package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/graph"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
)

func graphCmd() *cobra.Command {
	var (
		out, format, kubeProxy string
		sel                    graph.Selection
		path                   bool
		timeout                time.Duration
		protocol               string
	)
	c := &cobra.Command{
		Use:   "graph LAB|SCENARIO [--path FROM TO]",
		Short: "Draw a lab's namespaces, devices and links as Mermaid or Graphviz, optionally with a probe's path",
		Long: `graph draws what up creates: one box per network namespace (the VPC router, the SLB, each
node with its pods inside, the outside clients), its devices (eth0, cni0, veth ends,
flannel.1, kube-ipvs0, the vSwitch and router ports), veth pairs, bridge ports, VXLAN tunnels,
the VPC's routes to pod CIDRs, what the SLB forwards to each node, and every Service with its
ClusterIP, NodePort and LB IP pointing at its endpoint pods. Paste the Mermaid text into a
Markdown file or a slide; render the Graphviz text with dot. Given a running lab it draws that
lab, otherwise the scenario (built-in name or file); neither needs root.

Large clusters stay legible: a node box holds at most 4 pod boxes (one of them naming the
pods it stands for; fewer past 30 nodes), and with more than 4 nodes the node boxes go into a
grid, the VXLAN mesh and the SLB's per-node forwarding are summarised in labels, and a Service
with endpoints on more than 4 nodes is counted on each node box instead of drawn to it. -o json
always has every pod, tunnel and endpoint.

--node and --service draw a part: the nodes named (with their pods, their Services and the
cloud devices they are wired to), the Services named (with their endpoint pods, those pods'
nodes and the tunnels, routes, SLB and clients that lead there). Both take a comma list or
repeat, and add up.

--path FROM TO fires one probe on the running lab (as netlab probe does; FROM and TO as
there, root needed) and draws the devices its packets crossed: the request in red, the answer
in teal where it came back another way. -o json then has the hops under "path", and every
vertex and edge on it says so in its own "path" field.`,
		Example: `  netlab graph flannel-cluster-mode > cluster.mmd
  netlab graph flannel-vxlan --format dot | dot -Tsvg > vxlan.svg
  netlab graph flannel-services --service web-lb --format dot | dot -Tpng > web-lb.png
  netlab graph flannel-services --node node-1,node-3
  netlab graph flannel-services --kube-proxy ipvs@1.28
  netlab graph flannel-vxlan -o json | jq '.edges[] | select(.kind == "vxlan")'

  netlab up flannel-vxlan
  netlab graph flannel-vxlan --path client-a pod/web-2 --format dot | dot -Tsvg > path.svg
  netlab graph flannel-vxlan --path internet pod/web-1 -o json | jq .path.request
  netlab down flannel-vxlan`,
		Args: func(_ *cobra.Command, args []string) error {
			if path && len(args) != 3 {
				return fmt.Errorf("--path takes FROM and TO after the lab: netlab graph LAB --path FROM TO (got %d arguments)", len(args))
			}
			if !path && len(args) != 1 {
				return fmt.Errorf("graph takes one lab or scenario (got %d arguments; --path FROM TO draws a probe)", len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if err := graph.CheckFormat(format); err != nil {
				return err
			}
			src, err := graphSource(args[0], kubeProxy)
			if err != nil {
				return err
			}
			p, err := src.plan()
			if err != nil {
				return err
			}
			g := graph.Build(src.topo, p)
			if path {
				gp, err := probePath(src, args[0], args[1], args[2], probes.Options{Timeout: timeout, Protocol: protocol})
				if err != nil {
					return err
				}
				g.AddPath(gp)
			}
			if g, err = g.Select(sel); err != nil {
				return err
			}
			if out == "json" {
				return printJSON(g)
			}
			return graph.Render(os.Stdout, g, format)
		},
	}
	c.Flags().StringVar(&format, "format", "mermaid", "drawing: "+strings.Join(graph.Formats, " or "))
	c.Flags().StringSliceVar(&sel.Nodes, "node", nil, "draw only these nodes, with their pods and what they connect to (comma list or repeat)")
	c.Flags().StringSliceVar(&sel.Services, "service", nil, "draw only these Services, their endpoints' pods and nodes and the way there (comma list or repeat)")
	c.Flags().BoolVar(&path, "path", false, "fire one probe FROM TO on the running lab and draw its path (needs root)")
	addProbeFlags(c, &timeout, &protocol)
	addKubeProxy(c, &kubeProxy)
	addOutput(c, &out)
	c.Flags().Lookup("output").Usage = "output: table (the --format drawing) or json (the graph model)"
	return c
}

// source is what graph draws: a running lab, or a scenario (lab nil).
type source struct {
	topo *topology.Topology
	name string
	lab  *lab.Lab
}

// plan is what graph draws from: the plan a running lab was brought up
// with (as stored, without its rulesets, which graph does not draw), or
// the scenario compiled for this machine.
func (s source) plan() (*plan.Plan, error) {
	if s.lab != nil {
		return s.lab.PlanWith(state.PartNetwork)
	}
	return compile.ForHost(s.topo, s.name)
}

// graphSource resolves the argument as test does (labOrScenario). Drawing
// reads only the lab's stored plan and creates nothing, so unlike the
// commands that probe it does not ask for root.
func graphSource(arg, kubeProxy string) (source, error) {
	running, sc, err := labOrScenario(arg, kubeProxy)
	if err != nil {
		return source{}, err
	}
	if running != "" {
		l, err := lab.Open(running)
		if err != nil {
			return source{}, err
		}
		return source{l.Topology, l.State.Lab, l}, nil
	}
	return source{topo: sc.Topology, name: sc.Topology.Name}, nil
}

// probePath fires the probe of --path, as netlab probe does, and hands the
// graph its hops as plain data.
func probePath(src source, arg, from, to string, o probes.Options) (*graph.Path, error) {
	if src.lab == nil {
		return nil, fmt.Errorf("--path fires a probe, which needs a running lab; %s is a scenario, not a lab that is up (netlab up %s, then netlab graph %s --path %s %s)",
			arg, arg, src.name, from, to)
	}
	if err := requireRoot(); err != nil {
		return nil, err
	}
	r, err := probes.Run(src.lab, from, to, o)
	if err != nil {
		return nil, err
	}
	p := &graph.Path{From: r.From, To: r.To, Target: r.Target, Result: r.Result, Request: graphHops(r.Hops), Reply: graphHops(r.ReplyHops)}
	if r.Server != nil {
		p.Server = r.Server.Pod
	}
	if ref, err := src.topo.ResolveTarget(to); err == nil && ref.Kind == topology.KindSvc {
		p.Service = ref.Name
	}
	return p, nil
}

func graphHops(hops []probes.Hop) []graph.Hop {
	var out []graph.Hop
	for _, h := range hops {
		out = append(out, graph.Hop{Namespace: h.Namespace, Owner: h.Owner, Device: h.Device, Dir: h.Dir, Src: h.Src, Dst: h.Dst})
	}
	return out
}
