package graph

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// filterGoldens are drawn into testdata/<name>.<format>.golden.
var filterGoldens = map[string]Selection{
	"flannel-services-node-1":  {Nodes: []string{"node-1"}},
	"flannel-services-web-lb":  {Services: []string{"web-lb"}},
	"flannel-services-dns-n-3": {Nodes: []string{"node-3"}, Services: []string{"dns"}},
}

func TestGoldenFilters(t *testing.T) {
	topo, p := compile(t, "flannel-services")
	for name, sel := range filterGoldens {
		g, err := Build(topo, p).Select(sel)
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range Formats {
			t.Run(name+"/"+format, func(t *testing.T) { checkGolden(t, name+"."+format, render(t, g, format)) })
		}
	}
}

// owners lists the owners of the namespaces g draws, and its Services.
func owners(g *Graph) []string {
	seen := map[string]bool{}
	for _, c := range g.Clusters {
		if c.Owner != "" {
			seen[c.Owner] = true
		}
	}
	for _, v := range g.Vertices {
		if v.Kind == KindService {
			seen["svc/"+v.Name] = true
		}
	}
	var out []string
	for o := range seen {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

func ids(g *Graph) []string {
	var out []string
	for _, v := range g.Vertices {
		out = append(out, v.ID)
	}
	return out
}

// TestSelectNode: a node with all its pods, the Services with endpoints
// there, its own vSwitch port (not the others'), the SLB that forwards to
// it; not the other nodes, nor the clients.
func TestSelectNode(t *testing.T) {
	topo, p := compile(t, "flannel-services")
	g, err := Build(topo, p).Select(Selection{Nodes: []string{"node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"client", "node-1", "slb", "svc/dns", "svc/ranged", "svc/web", "svc/web-lb", "svc/web-sticky", "vpc", "web-1"}
	if got := owners(g); !slices.Equal(got, want) {
		t.Errorf("drawn %v, want %v", got, want)
	}
	got := ids(g)
	for _, id := range []string{"vpc_port0", "vpc_vswitch", "vpc_slb", "slb_eth0"} {
		if !slices.Contains(got, id) {
			t.Errorf("%s not drawn", id)
		}
	}
	for _, id := range []string{"vpc_port1", "vpc_port2", "vpc_client0", "node_2_eth0"} {
		if slices.Contains(got, id) {
			t.Errorf("%s drawn", id)
		}
	}
	for _, e := range g.Edges {
		if g.Vertex(e.From) == nil || g.Vertex(e.To) == nil {
			t.Errorf("edge %s -> %s leaves the selection", e.From, e.To)
		}
	}
}

// TestSelectService: its endpoint pods and their nodes without the other
// pods, the tunnel between those nodes, the SLB's lines about it only, and
// the clients (it has an LB IP).
func TestSelectService(t *testing.T) {
	topo, p := compile(t, "flannel-services")
	g, err := Build(topo, p).Select(Selection{Services: []string{"web-lb"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"internet", "node-1", "node-2", "office", "slb", "svc/web-lb", "vpc", "web-1", "web-2"}
	if got := owners(g); !slices.Equal(got, want) {
		t.Errorf("drawn %v, want %v", got, want)
	}
	for _, v := range g.Vertices {
		if v.Kind == "veth" && v.Namespace == "flannel-services-node-2" && len(neighbours(g, EdgeVeth, v)) == 0 {
			t.Errorf("%s: a veth end of a pod not drawn", v.ID)
		}
	}
	if n := countKind(g, EdgeVXLAN); n != 1 {
		t.Errorf("%d tunnels, want node-1 to node-2", n)
	}
	for _, e := range g.Edges {
		if e.Kind == EdgeSLB && e.Label != "203.0.113.10:80 → :30080" {
			t.Errorf("SLB edge to %s: %q, want web-lb's line only", e.To, e.Label)
		}
		if e.Kind == EdgeRoute && e.Label != "203.0.113.10" {
			t.Errorf("route to %s: %q, want web-lb's LB IP only", e.To, e.Label)
		}
	}
	// A ClusterIP Service has no use for the outside.
	g, _ = Build(topo, p).Select(Selection{Services: []string{"web"}})
	if got := owners(g); slices.Contains(got, "internet") || slices.Contains(got, "slb") {
		t.Errorf("ClusterIP web draws %v", got)
	}
}

// TestSelectKeepsThePath: whatever a path crossed stays drawn.
func TestSelectKeepsThePath(t *testing.T) {
	topo, p := compile(t, "flannel-vxlan")
	g := Build(topo, p)
	g.AddPath(vxlanPath(t, g))
	s, err := g.Select(Selection{Nodes: []string{"node-3"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Vertices {
		if v.Path != "" && s.Vertex(v.ID) == nil {
			t.Errorf("%s is on the path but not drawn", v.ID)
		}
	}
	if s.Path == nil || s.Selection == nil || s.Vertex("web_1_eth0") != nil {
		t.Errorf("path %v, selection %v, web-1 drawn: %v", s.Path, s.Selection, s.Vertex("web_1_eth0") != nil)
	}
}

func TestSelectUnknownNames(t *testing.T) {
	topo, p := compile(t, "flannel-services")
	_, err := Build(topo, p).Select(Selection{Nodes: []string{"node-1", "node-9", "n"}, Services: []string{"nope"}})
	want := `--node: no node "node-9", "n" in flannel-services (use one of: node-1, node-2, node-3); ` +
		`--service: no Service "nope" in flannel-services (use one of: web, web-sticky, web-lb, local-web, ranged, empty, loop, host-agent, dns, dns-empty)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	topo, p = compile(t, "flannel-vxlan")
	_, err = Build(topo, p).Select(Selection{Services: []string{"web"}})
	if err == nil || !strings.Contains(err.Error(), `no Service "web" in flannel-vxlan (it has no Services)`) {
		t.Errorf("err = %v", err)
	}
}
