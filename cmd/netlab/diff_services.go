package main

// netlab diff's per-Service summary: for every address a Service port is
// reached at on a node and every kind of client that tries it, what each
// side's dataplane does with a new connection (lab/dataplane answers), and
// whether the two sides agree.

import (
	"fmt"
	"strings"

	"github.com/netlab/netlab/lab/dataplane"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// How the text calls the frontend and client kinds.
var (
	frontendWords = map[string]string{
		dataplane.ClusterIP: "cluster IP", dataplane.NodePort: "node port", dataplane.LoadBalancer: "load balancer IP", dataplane.ExternalIP: "external IP", dataplane.Listener: "listener",
	}
	clientWords = map[string]string{dataplane.FromPod: "pod", dataplane.FromNode: "node", dataplane.FromOutside: "outside", dataplane.FromInRanges: "in ranges"}
)

// serviceDiff is one frontend of one node in diff -o json.
type serviceDiff struct {
	Service  string `json:"service"`
	Frontend string `json:"frontend"`
	Address  string `json:"address"`
	// Same: every client's outcome is the same on both sides.
	Same    bool         `json:"same"`
	Clients []clientDiff `json:"clients"`
}

// clientDiff is one client's outcome on side a (the first MODE@VERSION)
// and side b.
type clientDiff struct {
	From   string            `json:"from"`
	Source string            `json:"source"`
	Same   bool              `json:"same"`
	A      dataplane.Outcome `json:"a"`
	B      dataplane.Outcome `json:"b"`
	// host names the source in the text's legend (dataplane.Client.Host).
	host string
}

// compareServices asks both sides' node namespaces about every frontend.
func compareServices(t *topology.Topology, n *topology.Node, a, b *plan.Namespace) []serviceDiff {
	da, db := dataplane.Read(a), dataplane.Read(b)
	out := []serviceDiff{}
	for _, f := range dataplane.Frontends(t, n) {
		sd := serviceDiff{Service: f.Service, Frontend: f.Kind, Address: f.Address(), Same: true}
		for _, c := range f.Clients {
			oa, ob := da.Connect(c, f), db.Connect(c, f)
			same := oa.Text == ob.Text
			sd.Same = sd.Same && same
			sd.Clients = append(sd.Clients, clientDiff{From: c.Kind, Source: c.Addr.String(), Same: same, A: oa, B: ob, host: c.Host})
		}
		out = append(out, sd)
	}
	return out
}

// clientLegend says which address each client kind used.
func clientLegend(services []serviceDiff) string {
	seen := map[string]string{}
	var order []string
	for _, s := range services {
		for _, c := range s.Clients {
			key := c.From + " " + c.Source
			if _, ok := seen[key]; ok {
				continue
			}
			word := clientWords[c.From] + " " + c.Source
			if c.host != "" {
				word += " (" + c.host + ")"
			}
			seen[key] = word
			order = append(order, key)
		}
	}
	words := make([]string, len(order))
	for i, k := range order {
		words[i] = seen[k]
	}
	return strings.Join(words, ", ")
}

// writeServices prints a node's summary: the frontends whose outcome
// differs, each client that sees a difference with side a's outcome (-)
// and side b's (+); with all, also the ones that are the same (=).
func writeServices(b *strings.Builder, node, nameA, nameB string, services []serviceDiff, all bool) {
	differ := 0
	for _, s := range services {
		if !s.Same {
			differ++
		}
	}
	switch {
	case differ == 0 && !all:
		fmt.Fprintf(b, "# %s: services: all %d addresses behave the same\n", node, len(services))
		return
	case differ == 0:
		fmt.Fprintf(b, "# %s: services: all %d addresses behave the same (= both)\n", node, len(services))
	default:
		fmt.Fprintf(b, "# %s: services: %d of %d addresses behave differently (- %s, + %s)\n", node, differ, len(services), nameA, nameB)
	}
	fmt.Fprintf(b, "#   clients: %s\n", clientLegend(services))
	width := 0
	for _, s := range services {
		for _, c := range s.Clients {
			width = max(width, len(clientWords[c.From]))
		}
	}
	for _, s := range services {
		if s.Same && !all {
			continue
		}
		fmt.Fprintf(b, "#   %s %s %s\n", s.Service, frontendWords[s.Frontend], s.Address)
		for _, c := range s.Clients {
			if c.Same {
				if all {
					fmt.Fprintf(b, "#     %-*s = %s\n", width, clientWords[c.From], c.A.Text)
				}
				continue
			}
			fmt.Fprintf(b, "#     %-*s - %s\n", width, clientWords[c.From], c.A.Text)
			fmt.Fprintf(b, "#     %-*s + %s\n", width, "", c.B.Text)
		}
	}
}
