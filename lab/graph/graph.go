// Package graph draws a lab for people: its namespaces as nested boxes (the
// VPC router, the SLB, each node holding its pods, the outside clients), the
// devices in them as vertices, and what joins them as edges (veth pairs,
// bridge ports, VXLAN tunnels, routes into another namespace, the SLB's
// forwarding, Services and their endpoints).
//
// Build derives a neutral model from the compiled plan rather than from the
// scenario, so the picture shows what up creates; Mermaid and Dot render
// that model. Everything is ordered as in the plan, so the same scenario
// always gives the same text (a slide's diagram does not churn).
package graph

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/cloud"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// RoleServices is the cluster that holds the Service vertices; the other
// cluster roles are the namespace roles of package plan.
const RoleServices = "services"

// KindService is a Service vertex; device vertices have the plan's link
// kinds (veth, bridge, vxlan, dummy).
const KindService = "service"

// Edge kinds.
const (
	EdgeVeth     = "veth"     // the two ends of a veth pair
	EdgeBridge   = "bridge"   // a bridge and one of its ports
	EdgeVXLAN    = "vxlan"    // a tunnel between two VTEPs that know each other
	EdgeRoute    = "route"    // routes through an address in another namespace
	EdgeSLB      = "slb"      // the SLB forwarding listeners to a backend
	EdgeEndpoint = "endpoint" // a Service and one of its endpoints
)

// Graph is the neutral model both renderers draw; -o json prints it.
type Graph struct {
	Lab   string `json:"lab"`
	Title string `json:"title"`
	// Clusters are in drawing order; a pod's cluster has its node's as
	// Parent.
	Clusters []*Cluster `json:"clusters"`
	Vertices []*Vertex  `json:"vertices"`
	Edges    []*Edge    `json:"edges"`
}

// Cluster is a box: one namespace, or the group of Services.
type Cluster struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Role      string `json:"role"`
	Namespace string `json:"namespace,omitempty"`
	Owner     string `json:"owner,omitempty"`
	Parent    string `json:"parent,omitempty"`
}

// Vertex is a device in a namespace, or a Service.
type Vertex struct {
	ID        string   `json:"id"`
	Cluster   string   `json:"cluster"`
	Kind      string   `json:"kind"`
	Name      string   `json:"name"`
	Namespace string   `json:"namespace,omitempty"`
	Addrs     []string `json:"addrs,omitempty"`
	Down      bool     `json:"down,omitempty"`
	// Label is what is drawn; lines are separated by "\n".
	Label string `json:"label"`
}

// Edge joins two vertices. From is the end nearer the outside (client,
// VPC, node, pod in that order) so that left-to-right layouts read from
// the internet inwards.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Kind  string `json:"kind"`
	Label string `json:"label,omitempty"`
}

// Vertex returns the vertex with that ID, or nil.
func (g *Graph) Vertex(id string) *Vertex {
	for _, v := range g.Vertices {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// Cluster returns the cluster with that ID, or nil.
func (g *Graph) Cluster(id string) *Cluster {
	for _, c := range g.Clusters {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// maxAddrs is how many addresses a vertex label lists before "+N more":
// kube-ipvs0 holds every Service IP and would dwarf the drawing.
const maxAddrs = 2

// depth orders namespace roles from the outside in; edges point inwards.
var depth = map[string]int{plan.RoleClient: 0, plan.RoleVPC: 1, plan.RoleSLB: 2, plan.RoleNode: 3, plan.RolePod: 4}

type devKey struct{ ns, dev string }

// builder holds the indexes Build needs while it walks the plan.
type builder struct {
	g *Graph
	t *topology.Topology
	p *plan.Plan
	// ids are every ID handed out: Mermaid has one namespace for
	// subgraphs and nodes, so clusters and vertices must not collide.
	ids     map[string]bool
	devs    map[devKey]*Vertex
	role    map[string]string   // namespace -> role
	addrs   map[string]*Vertex  // IP -> the device holding it
	devAddr map[devKey][]string // addresses per device, in plan order
	links   map[devKey]*plan.Link
	peers   map[string][]*plan.Peer
}

// Build derives the graph of plan p, compiled from topology t. It is pure:
// same input, same graph.
func Build(t *topology.Topology, p *plan.Plan) *Graph {
	b := &builder{
		g: &Graph{Lab: p.Lab, Title: title(t, p.Lab)}, t: t, p: p,
		ids: map[string]bool{}, devs: map[devKey]*Vertex{}, role: map[string]string{},
		addrs: map[string]*Vertex{}, devAddr: map[devKey][]string{}, links: map[devKey]*plan.Link{},
		peers: p.PeersByNamespace(),
	}
	b.index()
	b.clusters()
	b.wires()
	b.tunnels()
	b.routes()
	b.slb()
	b.services()
	return b.g
}

func title(t *topology.Topology, lab string) string {
	s := fmt.Sprintf("%s: %s %s", lab, t.CNI.Plugin, t.CNI.Backend)
	if kp := t.KubeProxy; kp != nil {
		s += fmt.Sprintf(", kube-proxy %s %s", kp.Mode, kp.Version)
	}
	return s
}

func (b *builder) index() {
	for _, ns := range b.p.Namespaces {
		b.role[ns.Name] = ns.Role
		for i := range ns.Links {
			b.links[devKey{ns.Name, ns.Links[i].Name}] = &ns.Links[i]
		}
		for _, a := range ns.Addrs {
			k := devKey{ns.Name, a.Dev}
			b.devAddr[k] = append(b.devAddr[k], a.CIDR)
		}
	}
}

// id hands out a unique identifier valid in Mermaid and dot.
func (b *builder) id(want string) string {
	base := Sanitize(want)
	id := base
	for i := 2; b.ids[id]; i++ {
		id = fmt.Sprintf("%s_%d", base, i)
	}
	b.ids[id] = true
	return id
}

// Sanitize turns a name into an identifier Mermaid and Graphviz both accept
// unquoted: letters, digits and '_', not starting with a digit
// ("flannel.1" -> "flannel_1", "node-1" -> "node_1").
func Sanitize(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	id := sb.String()
	if id == "" || id[0] >= '0' && id[0] <= '9' {
		id = "n" + id
	}
	return id
}

// clusters lays out the namespaces grouped by role, as a reader scans a
// cluster: the VPC router, the SLB, each node with its pods inside, the
// outside clients. A namespace no rule places (a pod on a missing node)
// still gets a top-level box rather than vanishing.
func (b *builder) clusters() {
	placed := map[string]bool{}
	add := func(ns *plan.Namespace, parent string) *Cluster {
		placed[ns.Name] = true
		return b.cluster(ns, parent)
	}
	for _, role := range []string{plan.RoleVPC, plan.RoleSLB, plan.RoleNode, plan.RoleClient} {
		for _, ns := range b.p.Namespaces {
			if ns.Role != role {
				continue
			}
			c := add(ns, "")
			if role != plan.RoleNode {
				continue
			}
			for _, pod := range b.p.Namespaces {
				if pod.Role == plan.RolePod && pod.Node == ns.Owner {
					add(pod, c.ID)
				}
			}
		}
	}
	for _, ns := range b.p.Namespaces {
		if !placed[ns.Name] {
			add(ns, "")
		}
	}
}

// cluster adds a namespace's box and its devices: the links created in it,
// then the veth ends other namespaces put into it.
func (b *builder) cluster(ns *plan.Namespace, parent string) *Cluster {
	c := &Cluster{ID: b.id("ns_" + ns.Owner), Label: b.clusterLabel(ns), Role: ns.Role,
		Namespace: ns.Name, Owner: ns.Owner, Parent: parent}
	b.g.Clusters = append(b.g.Clusters, c)
	for _, l := range ns.Links {
		b.device(c, ns, l.Name, l.Kind, l.Down)
	}
	for _, pe := range b.peers[ns.Name] {
		b.device(c, ns, pe.Name, plan.KindVeth, false)
	}
	return c
}

func (b *builder) clusterLabel(ns *plan.Namespace) string {
	switch ns.Role {
	case plan.RoleVPC:
		return "VPC router, vSwitch " + b.t.Network.Nodes
	case plan.RoleSLB:
		return "SLB"
	case plan.RoleNode:
		if n := b.t.Node(ns.Owner); n != nil {
			return fmt.Sprintf("node %s, pods %s", n.Name, n.PodNet)
		}
	}
	return ns.Role + " " + ns.Owner
}

func (b *builder) device(c *Cluster, ns *plan.Namespace, name, kind string, down bool) {
	k := devKey{ns.Name, name}
	v := &Vertex{ID: b.id(ns.Owner + "_" + name), Cluster: c.ID, Kind: kind, Name: name,
		Namespace: ns.Name, Addrs: b.devAddr[k], Down: down}
	v.Label = deviceLabel(v)
	b.g.Vertices = append(b.g.Vertices, v)
	b.devs[k] = v
	// Dummy devices are skipped: kube-ipvs0 holds the same Service IPs on
	// every node and is never anyone's gateway.
	if kind == plan.KindDummy {
		return
	}
	for _, cidr := range v.Addrs {
		if pfx, err := netip.ParsePrefix(cidr); err == nil {
			if ip := pfx.Addr().String(); b.addrs[ip] == nil {
				b.addrs[ip] = v
			}
		}
	}
}

func deviceLabel(v *Vertex) string {
	lines := []string{v.Name}
	if v.Down {
		lines[0] += " (down)"
	}
	shown := v.Addrs
	if len(shown) > maxAddrs {
		shown = shown[:maxAddrs]
	}
	lines = append(lines, shown...)
	if more := len(v.Addrs) - len(shown); more > 0 {
		lines = append(lines, fmt.Sprintf("+%d more", more))
	}
	return strings.Join(lines, "\n")
}

func (b *builder) edge(from, to *Vertex, kind, label string) {
	if from == nil || to == nil {
		return
	}
	b.g.Edges = append(b.g.Edges, &Edge{From: from.ID, To: to.ID, Kind: kind, Label: label})
}

// wires adds the veth pairs and bridge ports, in plan order.
func (b *builder) wires() {
	for _, ns := range b.p.Namespaces {
		for _, l := range ns.Links {
			here := b.devs[devKey{ns.Name, l.Name}]
			if l.Master != "" {
				b.edge(b.devs[devKey{ns.Name, l.Master}], here, EdgeBridge, "")
			}
			pe := l.Peer
			if pe == nil {
				continue
			}
			there := b.devs[devKey{pe.Namespace, pe.Name}]
			if depth[b.role[pe.Namespace]] < depth[ns.Role] {
				b.edge(there, here, EdgeVeth, "")
			} else {
				b.edge(here, there, EdgeVeth, "")
			}
			if pe.Master != "" {
				b.edge(b.devs[devKey{pe.Namespace, pe.Master}], there, EdgeBridge, "")
			}
		}
	}
}

type vtep struct {
	v *Vertex
	l *plan.Link
	// fdb are the remote VTEP addresses this device sends frames to.
	fdb []string
}

// tunnels joins two VXLAN devices with the same VNI when either has an FDB
// entry for the other's local address: that entry is what makes flanneld's
// overlay reach a node, so a node missing from it gets no edge.
func (b *builder) tunnels() {
	var vteps []vtep
	for _, ns := range b.p.Namespaces {
		for i := range ns.Links {
			l := &ns.Links[i]
			if l.Kind != plan.KindVXLAN || l.VXLAN == nil {
				continue
			}
			x := vtep{v: b.devs[devKey{ns.Name, l.Name}], l: l}
			for _, f := range ns.FDB {
				if f.Dev == l.Name {
					x.fdb = append(x.fdb, f.Dst)
				}
			}
			vteps = append(vteps, x)
		}
	}
	for i, a := range vteps {
		for _, c := range vteps[i+1:] {
			if a.l.VXLAN.VNI != c.l.VXLAN.VNI {
				continue
			}
			if slices.Contains(a.fdb, c.l.VXLAN.Local) || slices.Contains(c.fdb, a.l.VXLAN.Local) {
				b.edge(a.v, c.v, EdgeVXLAN, fmt.Sprintf("VXLAN VNI %d udp/%d", a.l.VXLAN.VNI, a.l.VXLAN.Port))
			}
		}
	}
}

// routes draws the VPC's and the nodes' routes whose gateway is another
// namespace's address (the VPC route table's pod CIDRs, host-gw's routes,
// the LB IPs sent to the SLB), one edge per device pair with every
// destination on it. Routes over a VXLAN device are the tunnel edges
// already; default routes and policy tables would only add noise.
func (b *builder) routes() {
	index := map[[2]string]*Edge{}
	for _, ns := range b.p.Namespaces {
		if ns.Role != plan.RoleVPC && ns.Role != plan.RoleNode {
			continue
		}
		for _, r := range ns.Routes {
			if r.Dst == "default" || r.Gw == "" || r.Table != 0 {
				continue
			}
			from, to := b.devs[devKey{ns.Name, r.Dev}], b.addrs[r.Gw]
			if from == nil || to == nil || from.Kind == plan.KindVXLAN || to.Namespace == ns.Name {
				continue
			}
			key := [2]string{from.ID, to.ID}
			if e := index[key]; e != nil {
				e.Label += "\n" + r.Dst
				continue
			}
			b.edge(from, to, EdgeRoute, r.Dst)
			index[key] = b.g.Edges[len(b.g.Edges)-1]
		}
	}
}

// slb draws what the SLB forwards to each backend: per node, every
// LBIP:port it DNATs to that node's NodePort (cloud.Backends decides, as
// for the SLB's rules), then its own listeners per outside host.
func (b *builder) slb() {
	from := b.addrs[cloud.SLBIP]
	if from == nil || b.role[from.Namespace] != plan.RoleSLB {
		return
	}
	// One pass over the Services (Backends walks the endpoints), then one
	// edge per node in node order.
	perNode := make([][]string, len(b.t.Nodes))
	for i := range b.t.Services {
		s := &b.t.Services[i]
		if s.Type != topology.TypeLoadBalancer || !s.LBAddr.IsValid() {
			continue
		}
		for _, n := range cloud.Backends(b.t, s) {
			for _, sp := range s.Ports {
				perNode[n.Index] = append(perNode[n.Index], fmt.Sprintf("%s:%d%s → :%d", s.LBAddr, sp.Port, protoSuffix(sp.Protocol), sp.NodePort))
			}
		}
	}
	for i, lines := range perNode {
		if len(lines) > 0 {
			b.edge(from, b.addrs[b.t.Nodes[i].Addr.String()], EdgeSLB, strings.Join(lines, "\n"))
		}
	}
	for i := range b.t.Cloud.Clients {
		c := &b.t.Cloud.Clients[i]
		var lines []string
		for _, l := range b.t.Cloud.Listeners {
			if l.Backend == c.Name {
				lines = append(lines, fmt.Sprintf("%s:%d → :%d", l.Addr, l.Port, l.BackendPort))
			}
		}
		if len(lines) > 0 {
			b.edge(from, b.addrs[c.Addr.String()], EdgeSLB, strings.Join(lines, "\n"))
		}
	}
}

// protoSuffix marks the ports that are not TCP, the usual case.
func protoSuffix(proto string) string {
	if proto == "" || strings.EqualFold(proto, "TCP") {
		return ""
	}
	return "/" + strings.ToLower(proto)
}

// services adds one vertex per Service and an edge to each endpoint pod's
// interface (its node's eth0 for a hostNetwork pod). A pod none of whose
// target ports resolve is left out, as kube-proxy leaves it out.
func (b *builder) services() {
	if len(b.t.Services) == 0 {
		return
	}
	label := "Services"
	if kp := b.t.KubeProxy; kp != nil {
		label += fmt.Sprintf(" (kube-proxy %s %s)", kp.Mode, kp.Version)
	}
	c := &Cluster{ID: b.id(RoleServices), Label: label, Role: RoleServices}
	b.g.Clusters = append(b.g.Clusters, c)
	for i := range b.t.Services {
		s := &b.t.Services[i]
		v := &Vertex{ID: b.id("svc_" + s.Name), Cluster: c.ID, Kind: KindService, Name: s.Name, Addrs: serviceAddrs(s)}
		v.Label = serviceLabel(s)
		b.g.Vertices = append(b.g.Vertices, v)
		for _, pod := range b.t.Endpoints(s) {
			if lbl := endpointLabel(s, pod); lbl != "" {
				b.edge(v, b.addrs[pod.Addr.String()], EdgeEndpoint, lbl)
			}
		}
	}
}

func serviceAddrs(s *topology.Service) []string {
	var out []string
	if s.ClusterAddr.IsValid() {
		out = append(out, s.ClusterAddr.String())
	}
	if s.LBAddr.IsValid() {
		out = append(out, s.LBAddr.String())
	}
	return append(out, s.ExternalIPs...)
}

func serviceLabel(s *topology.Service) string {
	lines := []string{fmt.Sprintf("svc/%s (%s)", s.Name, s.Type)}
	var ports, nodePorts []string
	for _, sp := range s.Ports {
		ports = append(ports, fmt.Sprintf("%d%s", sp.Port, protoSuffix(sp.Protocol)))
		if sp.NodePort != 0 {
			nodePorts = append(nodePorts, fmt.Sprint(sp.NodePort))
		}
	}
	portList := strings.Join(ports, ",")
	if s.ClusterAddr.IsValid() {
		lines = append(lines, fmt.Sprintf("ClusterIP %s:%s", s.ClusterAddr, portList))
	}
	if len(nodePorts) > 0 {
		lines = append(lines, "NodePort "+strings.Join(nodePorts, ","))
	}
	if s.LBAddr.IsValid() {
		lines = append(lines, fmt.Sprintf("LB IP %s:%s", s.LBAddr, portList))
	}
	for _, ip := range s.ExternalIPs {
		lines = append(lines, fmt.Sprintf("externalIP %s:%s", ip, portList))
	}
	// The policy decides which nodes the SLB uses and whether the client
	// IP survives: the point of most lessons on Services.
	if s.ExternalTrafficPolicy == topology.PolicyLocal {
		lines = append(lines, "externalTrafficPolicy Local")
	}
	return strings.Join(lines, "\n")
}

// endpointLabel is the target ports on the pod, and why it is special
// (hostNetwork, not ready); "" when no port resolves.
func endpointLabel(s *topology.Service, pod *topology.Pod) string {
	var ports []string
	for _, sp := range s.Ports {
		if p := sp.TargetOn(pod); p != 0 {
			if q := fmt.Sprintf(":%d", p); !slices.Contains(ports, q) {
				ports = append(ports, q)
			}
		}
	}
	if len(ports) == 0 {
		return ""
	}
	label := strings.Join(ports, ",")
	if pod.HostNetwork {
		label += " " + pod.Name + " (hostNetwork)"
	}
	switch {
	case pod.Terminating:
		label += " terminating"
	case !pod.IsReady():
		label += " not ready"
	}
	return label
}

// Formats are the drawings Render knows.
var Formats = []string{"mermaid", "dot"}

// CheckFormat reports a format Render does not know.
func CheckFormat(format string) error {
	if !slices.Contains(Formats, format) {
		return fmt.Errorf("unknown graph format %q (use %s)", format, strings.Join(Formats, " or "))
	}
	return nil
}

// Render writes g in a format of Formats.
func Render(w io.Writer, g *Graph, format string) error {
	switch format {
	case "mermaid":
		return g.Mermaid(w)
	case "dot":
		return g.Dot(w)
	}
	return CheckFormat(format)
}

// layout is the cluster tree a renderer walks: the children and vertices
// of each cluster ("" is the top level), in graph order.
type layout struct {
	clusters map[string][]*Cluster
	vertices map[string][]*Vertex
}

func (g *Graph) layout() layout {
	l := layout{clusters: map[string][]*Cluster{}, vertices: map[string][]*Vertex{}}
	for _, c := range g.Clusters {
		l.clusters[c.Parent] = append(l.clusters[c.Parent], c)
	}
	for _, v := range g.Vertices {
		l.vertices[v.Cluster] = append(l.vertices[v.Cluster], v)
	}
	return l
}

// Mermaid shapes per vertex kind, as opening and closing brackets.
var mermaidShape = map[string][2]string{
	plan.KindVeth:   {"(", ")"},
	plan.KindBridge: {"[", "]"},
	plan.KindVXLAN:  {"{{", "}}"},
	plan.KindDummy:  {"[", "]"},
	KindService:     {"[[", "]]"},
}

// Mermaid links per edge kind: thick for the cables, dotted for what is
// logical (tunnels, Service endpoints), arrows where traffic has a
// direction.
var mermaidLink = map[string]string{
	EdgeVeth:     "===",
	EdgeBridge:   "---",
	EdgeVXLAN:    "-.-",
	EdgeRoute:    "-->",
	EdgeSLB:      "==>",
	EdgeEndpoint: "-.->",
}

// mermaidClasses colour the vertex kinds; veth ends keep the default.
var mermaidClasses = []string{
	"classDef bridge fill:#fde7c8,stroke:#c77d1a",
	"classDef vxlan fill:#dcecff,stroke:#2f6db5",
	"classDef dummy fill:#eeeeee,stroke:#888888,stroke-dasharray:4 2",
	"classDef service fill:#e3f5e1,stroke:#3c8a34",
}

// Mermaid writes g as a Mermaid flowchart, one subgraph per namespace.
func (g *Graph) Mermaid(w io.Writer) error {
	var sb strings.Builder
	// The title goes after the diagram type: some renderers want that first.
	fmt.Fprintf(&sb, "flowchart LR\n  %%%% netlab graph %s\n", g.Title)
	l := g.layout()
	var walk func(parent, indent string)
	walk = func(parent, indent string) {
		for _, v := range l.vertices[parent] {
			sh := mermaidShape[v.Kind]
			if sh[0] == "" {
				sh = [2]string{"[", "]"}
			}
			fmt.Fprintf(&sb, "%s%s%s%s%s", indent, v.ID, sh[0], mermaidText(v.Label), sh[1])
			if v.Kind != plan.KindVeth {
				fmt.Fprintf(&sb, ":::%s", Sanitize(v.Kind))
			}
			sb.WriteString("\n")
		}
		for _, c := range l.clusters[parent] {
			fmt.Fprintf(&sb, "%ssubgraph %s[%s]\n", indent, c.ID, mermaidText(c.Label))
			walk(c.ID, indent+"  ")
			fmt.Fprintf(&sb, "%send\n", indent)
		}
	}
	walk("", "  ")
	for _, e := range g.Edges {
		link := mermaidLink[e.Kind]
		if link == "" {
			link = "---"
		}
		// Spaces around the link: "a ---oB" would be read as a circle end.
		if e.Label == "" {
			fmt.Fprintf(&sb, "  %s %s %s\n", e.From, link, e.To)
		} else {
			fmt.Fprintf(&sb, "  %s %s|%s| %s\n", e.From, link, mermaidText(e.Label), e.To)
		}
	}
	for _, c := range mermaidClasses {
		fmt.Fprintf(&sb, "  %s\n", c)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// mermaidText quotes a label: inside quotes Mermaid takes any character
// but the quote itself (written as an entity); lines break with <br>.
func mermaidText(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return `"` + strings.ReplaceAll(s, "\n", "<br>") + `"`
}

// Graphviz attributes per vertex and edge kind.
var (
	dotVertex = map[string]string{
		plan.KindVeth:   `shape=box, style="rounded"`,
		plan.KindBridge: `shape=box, style="filled", fillcolor="#fde7c8"`,
		plan.KindVXLAN:  `shape=hexagon, style="filled", fillcolor="#dcecff"`,
		plan.KindDummy:  `shape=box, style="dashed"`,
		KindService:     `shape=component, style="filled", fillcolor="#e3f5e1"`,
	}
	dotEdge = map[string]string{
		EdgeVeth:     `dir=none, penwidth=2`,
		EdgeBridge:   `dir=none`,
		EdgeVXLAN:    `dir=both, style=dashed, color="#2f6db5"`,
		EdgeRoute:    `color="#c77d1a"`,
		EdgeSLB:      `penwidth=2, color="#8e44ad"`,
		EdgeEndpoint: `style=dashed, color="#3c8a34"`,
	}
)

// Dot writes g as a Graphviz digraph, one cluster per namespace.
func (g *Graph) Dot(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "digraph %s {\n", dotText(g.Lab))
	fmt.Fprintf(&sb, "  label=%s;\n  labelloc=t;\n  rankdir=LR;\n  fontname=\"Helvetica\";\n", dotText("netlab graph "+g.Title))
	sb.WriteString("  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	l := g.layout()
	var walk func(parent, indent string)
	walk = func(parent, indent string) {
		for _, v := range l.vertices[parent] {
			attrs := dotVertex[v.Kind]
			if attrs == "" {
				attrs = "shape=box"
			}
			fmt.Fprintf(&sb, "%s%s [label=%s, %s];\n", indent, v.ID, dotText(v.Label), attrs)
		}
		for _, c := range l.clusters[parent] {
			fmt.Fprintf(&sb, "%ssubgraph cluster_%s {\n%s  label=%s;\n", indent, c.ID, indent, dotText(c.Label))
			walk(c.ID, indent+"  ")
			fmt.Fprintf(&sb, "%s}\n", indent)
		}
	}
	walk("", "  ")
	for _, e := range g.Edges {
		attrs := dotEdge[e.Kind]
		if e.Label != "" {
			attrs += ", label=" + dotText(e.Label)
		}
		fmt.Fprintf(&sb, "  %s -> %s [%s];\n", e.From, e.To, strings.TrimPrefix(attrs, ", "))
	}
	sb.WriteString("}\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// dotText quotes a Graphviz string; "\n" inside it is a centred line break.
func dotText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}
