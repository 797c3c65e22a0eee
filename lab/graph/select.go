package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

// Selection narrows a graph to some nodes and Services (graph --node,
// --service); the two add up.
type Selection struct {
	// Nodes are drawn with all their pods, the Services with endpoints
	// on them and the cloud devices they are wired or routed to.
	Nodes []string `json:"nodes,omitempty"`
	// Services are drawn with their endpoint pods, those pods' nodes
	// (without the other pods) and what leads there: the tunnels and
	// routes between those nodes, the SLB for a LoadBalancer and the
	// outside clients for one reachable from outside.
	Services []string `json:"services,omitempty"`
}

// Empty reports whether s selects nothing, i.e. everything is drawn.
func (s Selection) Empty() bool { return len(s.Nodes) == 0 && len(s.Services) == 0 }

// cloudRoles are the namespaces outside the cluster a selection pulls in
// only as far as they connect to what it selected.
var cloudRoles = map[string]bool{plan.RoleVPC: true, plan.RoleSLB: true, plan.RoleClient: true}

// Select returns the part of g that s selects, plus every device g's path
// (AddPath) crossed, so a highlighted path stays whole. An unknown name is
// an error that lists the valid ones.
func (g *Graph) Select(s Selection) (*Graph, error) {
	if s.Empty() {
		return g, nil
	}
	x := g.index()
	if err := g.checkSelection(x, s); err != nil {
		return nil, err
	}
	sel := &selector{g: g, x: x, keep: map[string]bool{}, nodes: map[string]bool{}}
	for _, n := range s.Nodes {
		sel.node(n)
	}
	for _, name := range s.Services {
		sel.service(x.service[name])
	}
	for _, v := range g.Vertices {
		if v.Path != "" {
			sel.keep[v.ID] = true
		}
	}
	edges := sel.edges()
	sel.cloud(edges)
	return sel.result(s, edges), nil
}

// checkSelection reports every unknown name, one line per flag.
func (g *Graph) checkSelection(x *index, s Selection) error {
	var nodes, services []string
	for _, c := range g.Clusters {
		if c.Role == plan.RoleNode {
			nodes = append(nodes, c.Owner)
		}
	}
	for _, v := range g.Vertices {
		if v.Kind == KindService {
			services = append(services, v.Name)
		}
	}
	var msgs []string
	if bad := missing(s.Nodes, nodes); len(bad) > 0 {
		msgs = append(msgs, fmt.Sprintf("--node: no node %s in %s (use one of: %s)", quoteList(bad), g.Lab, strings.Join(nodes, ", ")))
	}
	if bad := missing(s.Services, services); len(bad) > 0 {
		valid := "it has no Services"
		if len(services) > 0 {
			valid = "use one of: " + strings.Join(services, ", ")
		}
		msgs = append(msgs, fmt.Sprintf("--service: no Service %s in %s (%s)", quoteList(bad), g.Lab, valid))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return nil
}

func missing(names, valid []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(valid, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

type selector struct {
	g     *Graph
	x     *index
	keep  map[string]bool // vertex IDs
	nodes map[string]bool // the node clusters --node selected
}

func (s *selector) clusterVertices(id string) {
	for _, v := range s.g.Vertices {
		if v.Cluster == id {
			s.keep[v.ID] = true
		}
	}
}

// node keeps a node's box with every pod in it, and the Services with an
// endpoint there.
func (s *selector) node(name string) {
	for _, c := range s.g.Clusters {
		if c.Role == plan.RoleNode && c.Owner == name {
			s.nodes[c.ID] = true
		}
	}
	for _, c := range s.g.Clusters {
		if s.nodes[c.ID] || s.nodes[c.Parent] {
			s.clusterVertices(c.ID)
		}
	}
	for _, e := range s.g.Edges {
		if e.Kind == EdgeEndpoint && s.keep[e.To] {
			s.keep[e.From] = true
		}
	}
}

// service keeps a Service, its endpoint pods, their nodes without the
// other pods' veth ends, and the outside clients when it has an address
// for them (LB IP, external IP).
func (s *selector) service(svc *Vertex) {
	s.keep[svc.ID] = true
	hosts := map[string]bool{}
	for _, e := range s.g.Edges {
		if e.Kind != EdgeEndpoint || e.From != svc.ID {
			continue
		}
		c := s.x.cluster[s.x.vertex[e.To].Cluster]
		if c.Role == plan.RolePod {
			s.clusterVertices(c.ID)
			c = s.x.cluster[c.Parent]
		}
		hosts[c.ID] = true
	}
	for _, v := range s.g.Vertices {
		if hosts[v.Cluster] && !s.otherPodsVeth(v) {
			s.keep[v.ID] = true
		}
	}
	if svc.outside {
		for _, v := range s.g.Vertices {
			if c := s.x.cluster[v.Cluster]; c != nil && c.Role == plan.RoleClient {
				s.keep[v.ID] = true
			}
		}
	}
}

// otherPodsVeth reports a node's veth end whose pod is not kept.
func (s *selector) otherPodsVeth(v *Vertex) bool {
	if v.Kind != plan.KindVeth {
		return false
	}
	for _, e := range s.g.Edges {
		if e.Kind != EdgeVeth || e.From != v.ID && e.To != v.ID {
			continue
		}
		far := s.x.vertex[e.To]
		if e.To == v.ID {
			far = s.x.vertex[e.From]
		}
		if c := s.x.cluster[far.Cluster]; c.Role == plan.RolePod && !s.keep[far.ID] {
			return true
		}
	}
	return false
}

// edges are g's edges with the label lines about Services not drawn
// dropped, unless the edge touches a selected node (whose lines all
// matter); an edge left with no line is dropped.
func (s *selector) edges() []*Edge {
	drawn := map[string]bool{}
	for _, v := range s.g.Vertices {
		if v.Kind == KindService && s.keep[v.ID] {
			drawn[v.Name] = true
		}
	}
	var out []*Edge
	for _, e := range s.g.Edges {
		if len(e.parts) == 0 || s.touchesNode(e) {
			out = append(out, e)
			continue
		}
		var parts []labelPart
		for _, p := range e.parts {
			if p.service == "" || drawn[p.service] {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			continue
		}
		c := *e
		c.parts, c.Label = parts, partsLabel(parts)
		out = append(out, &c)
	}
	return out
}

func (s *selector) touchesNode(e *Edge) bool {
	for _, id := range []string{e.From, e.To} {
		if c := s.x.cluster[s.x.vertex[id].Cluster]; s.nodes[c.ID] || s.nodes[c.Parent] {
			return true
		}
	}
	return false
}

// cloud adds the cloud devices the kept ones connect to: any edge from a
// kept cluster device reaches into the cloud; inside the cloud only the
// cables (veth pairs, and a port up to its bridge, not the bridge down to
// its other ports) lead on, so one node does not pull in every other
// node's vSwitch port.
func (s *selector) cloud(edges []*Edge) {
	inCloud := func(v *Vertex) bool {
		c := s.x.cluster[v.Cluster]
		return c != nil && cloudRoles[c.Role]
	}
	for grew := true; grew; {
		grew = false
		for _, e := range edges {
			for _, end := range [2][2]string{{e.From, e.To}, {e.To, e.From}} {
				k, o := s.x.vertex[end[0]], s.x.vertex[end[1]]
				if !s.keep[k.ID] || s.keep[o.ID] || !inCloud(o) || k.Kind == KindService {
					continue
				}
				cable := e.Kind == EdgeVeth || e.Kind == EdgeBridge && e.From == o.ID
				if !inCloud(k) || cable {
					s.keep[o.ID] = true
					grew = true
				}
			}
		}
	}
}

// result is the selected graph: the kept vertices, the clusters holding
// them (with their parents), the edges between them.
func (s *selector) result(sel Selection, edges []*Edge) *Graph {
	out := &Graph{Lab: s.g.Lab, Title: s.g.Title, Path: s.g.Path, Selection: &sel}
	clusters := map[string]bool{}
	for _, v := range s.g.Vertices {
		if s.keep[v.ID] {
			out.Vertices = append(out.Vertices, v)
			for c := s.x.cluster[v.Cluster]; c != nil && !clusters[c.ID]; c = s.x.cluster[c.Parent] {
				clusters[c.ID] = true
			}
		}
	}
	for _, c := range s.g.Clusters {
		if clusters[c.ID] {
			out.Clusters = append(out.Clusters, c)
		}
	}
	for _, e := range edges {
		if s.keep[e.From] && s.keep[e.To] {
			out.Edges = append(out.Edges, e)
		}
	}
	return out
}

// note is the drawing's line saying what was left out.
func (s Selection) note() string {
	var parts []string
	if len(s.Nodes) > 0 {
		parts = append(parts, "node "+strings.Join(s.Nodes, ", "))
	}
	if len(s.Services) > 0 {
		parts = append(parts, "Service "+strings.Join(s.Services, ", "))
	}
	return "only " + strings.Join(parts, " and ") + " and what connects to it"
}
