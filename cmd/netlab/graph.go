package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/graph"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
)

func graphCmd() *cobra.Command {
	var out, format, kubeProxy string
	c := &cobra.Command{
		Use:   "graph LAB|SCENARIO",
		Short: "Draw a lab's namespaces, devices and links as Mermaid or Graphviz (no root needed)",
		Long: `graph draws what up creates: one box per network namespace (the VPC router, the SLB, each
node with its pods inside, the outside clients), its devices (eth0, cni0, veth ends,
flannel.1, kube-ipvs0, the vSwitch and router ports), veth pairs, bridge ports, VXLAN tunnels,
the VPC's routes to pod CIDRs, what the SLB forwards to each node, and every Service with its
ClusterIP, NodePort and LB IP pointing at its endpoint pods. Paste the Mermaid text into a
Markdown file or a slide; render the Graphviz text with dot. Given a running lab it draws that
lab, otherwise the scenario (built-in name or file). -o json prints the graph model itself.`,
		Example: `  netlab graph flannel-cluster-mode > cluster.mmd
  netlab graph flannel-vxlan --format dot | dot -Tsvg > vxlan.svg
  netlab graph mylab -o json | jq '.edges[] | select(.kind == "vxlan")'
  netlab graph flannel-services --kube-proxy ipvs@1.28`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if err := graph.CheckFormat(format); err != nil {
				return err
			}
			t, name, err := graphSource(args[0], kubeProxy)
			if err != nil {
				return err
			}
			p, err := lab.CompileWith(t, name, lab.Options{KernelVersion: kernel.Release()})
			if err != nil {
				return err
			}
			g := graph.Build(t, p)
			if out == "json" {
				return printJSON(g)
			}
			return graph.Render(os.Stdout, g, format)
		},
	}
	c.Flags().StringVar(&format, "format", "mermaid", "drawing: "+strings.Join(graph.Formats, " or "))
	addKubeProxy(c, &kubeProxy)
	addOutput(c, &out)
	c.Flags().Lookup("output").Usage = "output: table (the --format drawing) or json (the graph model)"
	return c
}

// graphSource resolves the argument as test does: a running lab first,
// then a scenario. Drawing reads only the lab's recorded scenario and
// creates nothing, so unlike openLab it does not ask for root.
func graphSource(arg, kubeProxy string) (*topology.Topology, string, error) {
	if topology.ValidName(arg) == nil {
		l, err := lab.Open(arg)
		if err == nil {
			if kubeProxy != "" {
				return nil, "", fmt.Errorf("--kube-proxy applies to a scenario; lab %s is up and is drawn as it was brought up", arg)
			}
			return l.Topology, l.State.Lab, nil
		}
		if !errors.Is(err, state.ErrNotFound) {
			return nil, "", err
		}
	}
	sc, err := loadScenario(arg, kubeProxy)
	if err != nil {
		return nil, "", err
	}
	return sc.Topology, sc.Topology.Name, nil
}
