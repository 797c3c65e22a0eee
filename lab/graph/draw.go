package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

// A drawing stays legible at any size by drawing a few of each kind one by
// one and summarising the rest; -o json always has everything.
const (
	// PodsPerNode is how many pod boxes a node box holds: a node with
	// more shows PodsPerNode-1 of them (those on a --path first) and one
	// box naming the others.
	PodsPerNode = 4
	// Crowd is how many of the same thing are drawn one by one. With
	// more VTEPs the tunnel mesh is summarised on each flannel.1 (only
	// the tunnels a --path used are drawn). With more nodes their boxes go
	// into a grid, the vSwitch's ports and its routes to pod CIDRs become
	// the labels of its cables and what the SLB forwards is written on
	// the SLB. A Service with more endpoint edges gets one edge per node
	// box for its endpoints there, or, spread over more nodes than that,
	// a count in each node box's title.
	Crowd = 4
)

// KindPods is the box standing for the pods a node box does not draw.
const KindPods = "pods"

// maxPodNames is how many pods a summary box names before "+N more".
const maxPodNames = 12

// maxPodBoxes is how many pod boxes (summaries included) a drawing has
// at most: past 30 nodes a node box holds fewer than PodsPerNode, down
// to the summary alone, so that 100 nodes stay within Mermaid's 500 links
// and a page.
const maxPodBoxes = 120

// podBoxes is how many pod boxes each node box holds.
func podBoxes(nodes int) int {
	if nodes == 0 {
		return PodsPerNode
	}
	return max(1, min(PodsPerNode, maxPodBoxes/nodes))
}

// drawing is g as drawn: g's own vertices and edges while it is small; a
// summarised copy past the limits above. g is not changed.
func (g *Graph) drawing() *Graph {
	d := g.clone()
	if g.Selection != nil {
		d.notes = append(d.notes, g.Selection.note())
	}
	if g.Path != nil {
		d.notes = append(d.notes, g.Path.note())
	}
	d.collapsePods(podBoxes(d.nodeCount()))
	d.foldMesh()
	if d.nodeCount() > Crowd {
		d.foldRoutes()
		d.foldPorts()
		d.foldSLB()
	}
	d.groupEndpoints()
	return d
}

func (g *Graph) clone() *Graph {
	d := *g
	d.Clusters, d.Vertices, d.Edges = nil, nil, nil
	d.notes = slices.Clone(g.notes)
	for _, c := range g.Clusters {
		cc := *c
		d.Clusters = append(d.Clusters, &cc)
	}
	for _, v := range g.Vertices {
		vc := *v
		d.Vertices = append(d.Vertices, &vc)
	}
	for _, e := range g.Edges {
		ec := *e
		d.Edges = append(d.Edges, &ec)
	}
	return &d
}

func (g *Graph) nodeCount() int {
	n := 0
	for _, c := range g.Clusters {
		if c.Role == plan.RoleNode {
			n++
		}
	}
	return n
}

// freeID is an ID no cluster or vertex of g has.
func (g *Graph) freeID(want string) string {
	taken := map[string]bool{}
	for _, c := range g.Clusters {
		taken[c.ID] = true
	}
	for _, v := range g.Vertices {
		taken[v.ID] = true
	}
	id := want
	for i := 2; taken[id]; i++ {
		id = fmt.Sprintf("%s_%d", want, i)
	}
	return id
}

// collapsePods replaces, in each node box with more than boxes pods, all
// but boxes-1 of them (and their veth ends on the node) by one box naming
// them; the edges to them end at that box, one per kind and far end,
// labelled with how many they stand for.
func (g *Graph) collapsePods(boxes int) {
	x := g.index()
	pods := map[string][]*Cluster{}
	for _, c := range g.Clusters {
		if c.Role == plan.RolePod && x.cluster[c.Parent] != nil {
			pods[c.Parent] = append(pods[c.Parent], c)
		}
	}
	onPath := map[string]bool{}
	for _, v := range g.Vertices {
		if v.Path != "" {
			onPath[v.Cluster] = true
		}
	}
	into := map[string]string{} // vertex ID -> the summary box's
	gone := map[string]bool{}   // cluster IDs
	for _, node := range g.Clusters {
		list := pods[node.ID]
		if len(list) <= boxes {
			continue
		}
		// Pods on the path first, then in order.
		shown := 0
		var hide []*Cluster
		for _, first := range []bool{true, false} {
			for _, c := range list {
				if onPath[c.ID] != first {
					continue
				}
				if shown < boxes-1 {
					shown++
				} else {
					hide = append(hide, c)
				}
			}
		}
		box := g.podsBox(node, hide)
		for _, c := range hide {
			gone[c.ID] = true
		}
		for _, v := range g.Vertices {
			if gone[v.Cluster] && x.cluster[v.Cluster].Parent == node.ID {
				into[v.ID] = box.ID
			}
		}
		// The node's veth ends of the hidden pods go too.
		for _, e := range g.Edges {
			if e.Kind != EdgeVeth {
				continue
			}
			if into[e.To] == box.ID && x.vertex[e.From].Cluster == node.ID {
				into[e.From] = box.ID
			}
			if into[e.From] == box.ID && x.vertex[e.To].Cluster == node.ID {
				into[e.To] = box.ID
			}
		}
	}
	if len(into) == 0 {
		return
	}
	g.Clusters = slices.DeleteFunc(g.Clusters, func(c *Cluster) bool { return gone[c.ID] })
	g.Vertices = slices.DeleteFunc(g.Vertices, func(v *Vertex) bool { return into[v.ID] != "" })
	g.remap(into)
}

// podsBox adds the summary box for hidden pods to a node's box.
func (g *Graph) podsBox(node *Cluster, hide []*Cluster) *Vertex {
	names := make([]string, 0, len(hide))
	for _, c := range hide {
		names = append(names, c.Owner)
	}
	what := "more pods"
	if len(hide) == len(pods(g, node)) {
		what = "pods"
	}
	lines := []string{fmt.Sprintf("%d %s", len(hide), what)}
	shown := names[:min(len(names), maxPodNames)]
	for i := 0; i < len(shown); i += 3 {
		lines = append(lines, strings.Join(shown[i:min(i+3, len(shown))], ", "))
	}
	if more := len(names) - len(shown); more > 0 {
		lines = append(lines, fmt.Sprintf("+%d more (-o json lists all)", more))
	}
	v := &Vertex{ID: g.freeID(node.ID + "_pods"), Cluster: node.ID, Kind: KindPods, Name: "pods", Label: strings.Join(lines, "\n")}
	g.Vertices = append(g.Vertices, v)
	return v
}

func pods(g *Graph, node *Cluster) []*Cluster {
	var out []*Cluster
	for _, c := range g.Clusters {
		if c.Role == plan.RolePod && c.Parent == node.ID {
			out = append(out, c)
		}
	}
	return out
}

// foldPorts draws a bridge's ports that are one end of a veth pair to
// another namespace (the vSwitch's, one per node) as the label of that
// veth, drawn from the bridge itself, once the bridge has more than Crowd
// of them: 100 port boxes in a row would set the drawing's width.
func (g *Graph) foldPorts() {
	x := g.index()
	portsOf := map[string][]string{}
	for _, e := range g.Edges {
		if e.Kind == EdgeBridge {
			portsOf[e.From] = append(portsOf[e.From], e.To)
		}
	}
	into := map[string]string{}
	for bridge, ports := range portsOf {
		cables := map[string]*Edge{}
		for _, port := range ports {
			if e := g.cableOf(x, port); e != nil {
				cables[port] = e
			}
		}
		if len(cables) <= Crowd {
			continue
		}
		for port, e := range cables {
			into[port] = bridge
			p := x.vertex[port]
			e.Label = strings.TrimSuffix(p.Name+"\n"+e.Label, "\n")
			if p.Path != "" {
				mark(&x.vertex[bridge].Path, p.Path)
			}
		}
	}
	if len(into) == 0 {
		return
	}
	g.Vertices = slices.DeleteFunc(g.Vertices, func(v *Vertex) bool { return into[v.ID] != "" })
	g.remap(into)
}

// cableOf is the one veth edge from a port to another namespace, nil when
// the port has any other edge but its bridge's.
func (g *Graph) cableOf(x *index, port string) *Edge {
	var cable *Edge
	for _, e := range g.Edges {
		if e.From != port && e.To != port || e.Kind == EdgeBridge {
			continue
		}
		far := x.vertex[e.To]
		if e.To == port {
			far = x.vertex[e.From]
		}
		if e.Kind != EdgeVeth || cable != nil || far.Namespace == x.vertex[port].Namespace {
			return nil
		}
		cable = e
	}
	return cable
}

// remap points edges at the vertices that replace theirs, drops the ones
// that now join a vertex to itself and merges the ones that now repeat.
func (g *Graph) remap(into map[string]string) {
	for _, e := range g.Edges {
		if to := into[e.To]; to != "" {
			e.To = to
		}
		if from := into[e.From]; from != "" {
			e.From = from
		}
	}
	g.Edges = slices.DeleteFunc(g.Edges, func(e *Edge) bool { return e.From == e.To })
	g.mergeEdges()
}

type edgeKey struct{ from, to, kind, toCluster string }

// mergeEdges joins edges with the same ends and kind into the first one,
// whose label then says how many it stands for.
func (g *Graph) mergeEdges() {
	first := map[edgeKey]*Edge{}
	labels := map[*Edge][]string{}
	var keep []*Edge
	for _, e := range g.Edges {
		k := edgeKey{e.From, e.To, e.Kind, e.toCluster}
		if f := first[k]; f != nil {
			labels[f] = append(labels[f], e.Label)
			if e.Path != "" {
				mark(&f.Path, e.Path)
			}
			continue
		}
		first[k] = e
		labels[e] = []string{e.Label}
		keep = append(keep, e)
	}
	for _, e := range keep {
		if ls := labels[e]; len(ls) > 1 {
			e.Label = countLabel(ls, mergedNoun[e.Kind])
			e.parts = nil
		}
	}
	g.Edges = keep
}

// mergedNoun says what a merged edge of a kind stands for.
var mergedNoun = map[string]string{EdgeBridge: "ports", EdgeVeth: "veth pairs", EdgeEndpoint: "endpoints"}

// countLabel is "7 ports" or "3 endpoints :80", or the distinct labels
// after the count.
func countLabel(labels []string, noun string) string {
	var distinct []string
	for _, l := range labels {
		if !slices.Contains(distinct, l) {
			distinct = append(distinct, l)
		}
	}
	if noun == "" {
		noun = "edges"
	}
	s := fmt.Sprintf("%d %s", len(labels), noun)
	switch {
	case len(distinct) == 1 && distinct[0] == "":
		return s
	case len(distinct) == 1:
		return s + " " + distinct[0]
	case len(distinct) > 3:
		distinct = append(distinct[:3], "…")
	}
	return s + "\n" + strings.Join(distinct, "\n")
}

// foldMesh summarises a VXLAN mesh of more than Crowd VTEPs: each VTEP
// says how many others it has a tunnel to, the title how many tunnels
// there are, and only the tunnels on the path stay drawn. A node left out
// of the mesh still shows: "tunnels to 0 of 29 nodes".
func (g *Graph) foldMesh() {
	byLabel := map[string][]*Edge{}
	var labels []string
	degree := map[string]int{}
	for _, e := range g.Edges {
		if e.Kind == EdgeVXLAN {
			if byLabel[e.Label] == nil {
				labels = append(labels, e.Label)
			}
			byLabel[e.Label] = append(byLabel[e.Label], e)
			degree[e.From]++
			degree[e.To]++
		}
	}
	for _, label := range labels {
		edges := byLabel[label]
		in := map[string]bool{}
		for _, e := range edges {
			in[e.From], in[e.To] = true, true
		}
		var vteps []*Vertex
		for _, v := range g.Vertices {
			// A VTEP without any tunnel is cut off from the one mesh
			// there usually is.
			if v.Kind == plan.KindVXLAN && (in[v.ID] || len(labels) == 1 && degree[v.ID] == 0) {
				vteps = append(vteps, v)
			}
		}
		if len(vteps) <= Crowd {
			continue
		}
		for _, v := range vteps {
			v.Label += fmt.Sprintf("\ntunnels to %d of %d nodes", degree[v.ID], len(vteps)-1)
		}
		full := len(vteps) * (len(vteps) - 1) / 2
		kind := "a full mesh"
		if len(edges) < full {
			kind = fmt.Sprintf("of a full mesh's %d", full)
		}
		g.notes = append(g.notes, fmt.Sprintf("%s: %d tunnels (%s) among %d VTEPs, drawn only where a path used one (-o json has each)", label, len(edges), kind, len(vteps)))
		g.Edges = slices.DeleteFunc(g.Edges, func(e *Edge) bool { return e.Kind == EdgeVXLAN && e.Label == label && e.Path == "" })
	}
}

// foldRoutes moves a route from a bridge to a device that is the veth peer
// of one of the bridge's ports onto that veth's label (the vSwitch's
// routes to each node's pod CIDR): the same wire, drawn once.
func (g *Graph) foldRoutes() {
	ports := map[[2]string]bool{} // bridge, port
	for _, e := range g.Edges {
		if e.Kind == EdgeBridge {
			ports[[2]string{e.From, e.To}] = true
		}
	}
	g.Edges = slices.DeleteFunc(g.Edges, func(r *Edge) bool {
		if r.Kind != EdgeRoute {
			return false
		}
		for _, e := range g.Edges {
			if e.Kind != EdgeVeth || e.To != r.To && e.From != r.To {
				continue
			}
			port := e.From
			if port == r.To {
				port = e.To
			}
			if ports[[2]string{r.From, port}] {
				lines := strings.Split(r.Label, "\n")
				e.Label = strings.TrimPrefix(e.Label+"\nroute "+strings.Join(lines, "\nroute "), "\n")
				if r.Path != "" {
					mark(&e.Path, r.Path)
				}
				return true
			}
		}
		return false
	})
}

// foldSLB writes, for an SLB forwarding to more than Crowd nodes, what
// it forwards on the SLB itself, each listener with how many nodes get it,
// instead of one edge per node: those edges would cross the whole grid.
// An edge a --path took stays.
func (g *Graph) foldSLB() {
	x := g.index()
	bySLB := map[string][]*Edge{}
	var slbs []string
	for _, e := range g.Edges {
		if c := x.cluster[x.vertex[e.To].Cluster]; e.Kind == EdgeSLB && c != nil && c.Role == plan.RoleNode {
			if bySLB[e.From] == nil {
				slbs = append(slbs, e.From)
			}
			bySLB[e.From] = append(bySLB[e.From], e)
		}
	}
	nodes := g.nodeCount()
	for _, id := range slbs {
		edges := bySLB[id]
		if len(edges) <= Crowd {
			continue
		}
		var lines []string
		to := map[string][]string{} // line -> nodes
		for _, e := range edges {
			for _, l := range strings.Split(e.Label, "\n") {
				if to[l] == nil {
					lines = append(lines, l)
				}
				to[l] = append(to[l], x.cluster[x.vertex[e.To].Cluster].Owner)
			}
		}
		v := x.vertex[id]
		v.Label += "\nforwards:"
		for _, l := range lines {
			v.Label += "\n" + l + " " + nodesPhrase(to[l], nodes)
		}
		g.Edges = slices.DeleteFunc(g.Edges, func(e *Edge) bool { return e.Path == "" && slices.Contains(edges, e) })
	}
}

// nodesPhrase is "to all 30 nodes" or "to 2 of 30: n3, n7" (a few named).
func nodesPhrase(names []string, of int) string {
	if len(names) == of {
		return fmt.Sprintf("to all %d nodes", of)
	}
	s := fmt.Sprintf("to %d of %d: %s", len(names), of, strings.Join(names[:min(len(names), 4)], ", "))
	if len(names) > 4 {
		s += ", …"
	}
	return s
}

// groupEndpoints keeps the endpoint edges of a Service with up to Crowd of
// them. One with more, on up to Crowd nodes, gets one edge per node box
// ("3 endpoints :80", to the box); on more nodes than that, its edges
// would cross the whole drawing, so each node box's title says how many of
// its endpoints it holds and the Service on how many nodes they are. The
// endpoint a --path reached keeps its own edge.
func (g *Graph) groupEndpoints() {
	x := g.index()
	nodeOf := func(e *Edge) *Cluster {
		c := x.cluster[x.vertex[e.To].Cluster]
		for c != nil && c.Role != plan.RoleNode {
			c = x.cluster[c.Parent]
		}
		return c
	}
	var services []string
	edges := map[string][]*Edge{}
	for _, e := range g.Edges {
		if e.Kind == EdgeEndpoint && e.Path == "" {
			if edges[e.From] == nil {
				services = append(services, e.From)
			}
			edges[e.From] = append(edges[e.From], e)
		}
	}
	drop := map[*Edge]bool{}
	for _, svc := range services {
		if len(edges[svc]) <= Crowd {
			continue
		}
		var nodes []*Cluster
		count := map[*Cluster]int{}
		for _, e := range edges[svc] {
			c := nodeOf(e)
			if c == nil {
				continue
			}
			if count[c] == 0 {
				nodes = append(nodes, c)
			}
			count[c] += endpointCount(e.Label)
		}
		if len(nodes) <= Crowd {
			for _, e := range edges[svc] {
				if c := nodeOf(e); c != nil {
					e.toCluster, e.To = c.ID, g.anchor(c.ID).ID
				}
			}
			continue
		}
		v := x.vertex[svc]
		total := 0
		for _, c := range nodes {
			c.Label += fmt.Sprintf("\nsvc/%s: %d endpoints", v.Name, count[c])
			total += count[c]
		}
		v.Label += fmt.Sprintf("\n%d endpoints on %d nodes (see each node)", total, len(nodes))
		for _, e := range edges[svc] {
			drop[e] = true
		}
	}
	g.Edges = slices.DeleteFunc(g.Edges, func(e *Edge) bool { return drop[e] })
	g.mergeEdges()
}

// endpointCount is how many endpoints an endpoint edge stands for: one, or
// the count a merge wrote ("7 endpoints :80").
func endpointCount(label string) int {
	var n int
	if _, err := fmt.Sscanf(label, "%d endpoints", &n); err == nil {
		return n
	}
	return 1
}

// anchor is the vertex an edge to a box is attached to: the box's first.
func (g *Graph) anchor(cluster string) *Vertex {
	for _, v := range g.Vertices {
		if v.Cluster == cluster {
			return v
		}
	}
	return nil
}
