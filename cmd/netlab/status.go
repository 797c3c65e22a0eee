package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/state"
)

// labView is what status prints.
type labView struct {
	Lab       string       `json:"lab"`
	Scenario  string       `json:"scenario"`
	Source    string       `json:"source"`
	CNI       string       `json:"cni"`
	Phase     string       `json:"phase"`
	Daemon    *daemonView  `json:"daemon"`
	Nodes     []objectView `json:"nodes"`
	Pods      []objectView `json:"pods"`
	Clients   []objectView `json:"clients"`
	Namespace string       `json:"vpcNamespace"`
}

type daemonView struct {
	PID   int  `json:"pid"`
	Alive bool `json:"alive"`
}

type objectView struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	IP        string `json:"ip"`
	Node      string `json:"node,omitempty"`
	PodCIDR   string `json:"podCIDR,omitempty"`
	Ports     []int  `json:"ports,omitempty"`
	Present   bool   `json:"present"`
}

func describe(l *lab.Lab) *labView {
	t := l.Topology
	v := &labView{Lab: l.State.Lab, Scenario: l.State.Scenario, Source: l.State.Source,
		CNI: t.CNI.Plugin + "/" + t.CNI.Backend, Phase: l.State.Phase}
	if d := l.State.Daemon; d != nil {
		v.Daemon = &daemonView{PID: d.PID, Alive: d.Alive()}
	}
	v.Namespace, _ = l.NS("vpc")
	for _, n := range t.Nodes {
		ns, _ := l.NS(n.Name)
		v.Nodes = append(v.Nodes, objectView{Name: n.Name, Namespace: ns, IP: n.Addr.String(), PodCIDR: n.PodNet.String(), Present: apply.Exists(ns)})
	}
	for _, p := range t.Pods {
		ns, _ := l.NS(p.Name)
		v.Pods = append(v.Pods, objectView{Name: p.Name, Namespace: ns, IP: p.Addr.String(), Node: p.Node, Ports: p.PortNumbers(), Present: apply.Exists(ns)})
	}
	for _, c := range t.Cloud.Clients {
		ns, _ := l.NS(c.Name)
		v.Clients = append(v.Clients, objectView{Name: c.Name, Namespace: ns, IP: c.Addr.String(), Present: apply.Exists(ns)})
	}
	return v
}

func printStatus(v *labView) error {
	daemon := "none"
	if v.Daemon != nil {
		daemon = fmt.Sprintf("pid %d", v.Daemon.PID)
		if !v.Daemon.Alive {
			daemon += " (not running!)"
		}
	}
	fmt.Printf("lab %s  scenario %s (%s)  cni %s  phase %s  daemon %s\n\n", v.Lab, v.Scenario, v.Source, v.CNI, v.Phase, daemon)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAME\tIP\tNODE / POD CIDR\tPORTS\tNAMESPACE")
	mark := func(o objectView) string {
		if o.Present {
			return o.Namespace
		}
		return o.Namespace + " (missing)"
	}
	for _, n := range v.Nodes {
		fmt.Fprintf(w, "node\t%s\t%s\t%s\t\t%s\n", n.Name, n.IP, n.PodCIDR, mark(n))
	}
	for _, p := range v.Pods {
		ports := make([]string, len(p.Ports))
		for i, x := range p.Ports {
			ports[i] = fmt.Sprint(x)
		}
		fmt.Fprintf(w, "pod\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.IP, p.Node, strings.Join(ports, ","), mark(p))
	}
	for _, c := range v.Clients {
		fmt.Fprintf(w, "client\t%s\t%s\t\t\t%s\n", c.Name, c.IP, mark(c))
	}
	return w.Flush()
}

func statusCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:     "status [LAB]",
		Short:   "Show a lab's nodes, pods, addresses, namespaces and daemon",
		Example: "  netlab status flannel-vxlan\n  netlab status -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			name, err := pickLab(args)
			if err != nil {
				return err
			}
			l, err := lab.Open(name)
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(describe(l))
			}
			return printStatus(describe(l))
		},
	}
	addOutput(c, &out)
	return c
}

// pickLab returns the named lab, or the only lab when none is named.
func pickLab(args []string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	labs, err := state.List()
	if err != nil {
		return "", err
	}
	switch len(labs) {
	case 0:
		return "", fmt.Errorf("no labs are up (netlab up SCENARIO)")
	case 1:
		return labs[0], nil
	}
	return "", fmt.Errorf("several labs are up (%s): name one", strings.Join(labs, ", "))
}
