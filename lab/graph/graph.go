// Package graph draws a lab for people: its namespaces as nested boxes (the
// VPC router, the SLB, each node holding its pods, the outside clients), the
// devices in them as vertices, and what joins them as edges (veth pairs,
// bridge ports, VXLAN tunnels, routes into another namespace, the SLB's
// forwarding, Services and their endpoints).
//
// Build derives a neutral model from the compiled plan rather than from the
// scenario, so the picture shows what up creates; Render draws that model
// as Mermaid or Graphviz, summarising what would crowd a large cluster's
// picture (draw.go). Select narrows it to some nodes or Services, AddPath
// marks a probe's hops on it. Everything is ordered as in the plan, so the
// same scenario always gives the same text (a slide's diagram does not
// churn).
package graph

import (
	"fmt"
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
	// Path is the probe drawn on the graph (graph --path); the vertices
	// and edges it crossed say so in their own Path field.
	Path *Path `json:"path,omitempty"`
	// Selection is what Select kept (graph --node, --service).
	Selection *Selection `json:"selection,omitempty"`

	// notes are lines a drawing adds under its title: what it summarised.
	notes []string
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
	// Path is request, reply or both where the probe of Graph.Path
	// crossed this device.
	Path string `json:"path,omitempty"`

	// outside marks a Service reachable from outside the cluster
	// (NodePort, LoadBalancer, external IPs): Select keeps the clients.
	outside bool
}

// Edge joins two vertices. From is the end nearer the outside (client,
// VPC, node, pod in that order) so that left-to-right layouts read from
// the internet inwards.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Kind  string `json:"kind"`
	Label string `json:"label,omitempty"`
	// Path is request, reply or both where the probe of Graph.Path went
	// along this edge.
	Path string `json:"path,omitempty"`

	// parts tag the label's lines with the Service each is about, for
	// Select to keep only the selected Services' lines ("" is about none).
	parts []labelPart
	// toCluster is the box a drawing points the edge at (dot lhead):
	// a Service's endpoints on one node, summarised.
	toCluster string
}

type labelPart struct{ service, text string }

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
	// A route to an LB IP or external IP is about that Service (Select).
	svcOf := map[string]string{}
	for i := range b.t.Services {
		s := &b.t.Services[i]
		if s.LBAddr.IsValid() {
			svcOf[s.LBAddr.String()] = s.Name
		}
		for _, a := range s.ExternalIPs {
			svcOf[a] = s.Name
		}
	}
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
			part := labelPart{svcOf[strings.TrimSuffix(r.Dst, "/32")], r.Dst}
			key := [2]string{from.ID, to.ID}
			if e := index[key]; e != nil {
				e.parts = append(e.parts, part)
				e.Label = partsLabel(e.parts)
				continue
			}
			b.partsEdge(from, to, EdgeRoute, []labelPart{part})
			index[key] = b.g.Edges[len(b.g.Edges)-1]
		}
	}
}

// slb draws what the SLB forwards to each backend: per node, every
// LBIP:port it DNATs to that node's NodePort (Topology.LBBackends decides, as
// for the SLB's rules), then its own listeners per outside host.
func (b *builder) slb() {
	from := b.addrs[cloud.SLBIP]
	if from == nil || b.role[from.Namespace] != plan.RoleSLB {
		return
	}
	// One pass over the Services (LBBackends walks the endpoints), then one
	// edge per node in node order.
	perNode := make([][]labelPart, len(b.t.Nodes))
	for i := range b.t.Services {
		s := &b.t.Services[i]
		if s.Type != topology.TypeLoadBalancer || !s.LBAddr.IsValid() {
			continue
		}
		for _, n := range b.t.LBBackends(s) {
			for _, sp := range s.Ports {
				perNode[n.Index] = append(perNode[n.Index], labelPart{s.Name,
					fmt.Sprintf("%s:%d%s → :%d", s.LBAddr, sp.Port, protoSuffix(sp.Protocol), sp.NodePort)})
			}
		}
	}
	for i, parts := range perNode {
		b.partsEdge(from, b.addrs[b.t.Nodes[i].Addr.String()], EdgeSLB, parts)
	}
	for i := range b.t.Cloud.Clients {
		c := &b.t.Cloud.Clients[i]
		var parts []labelPart
		for _, l := range b.t.Cloud.Listeners {
			if l.Backend == c.Name {
				parts = append(parts, labelPart{"", fmt.Sprintf("%s:%d → :%d", l.Addr, l.Port, l.BackendPort)})
			}
		}
		b.partsEdge(from, b.addrs[c.Addr.String()], EdgeSLB, parts)
	}
}

// partsEdge adds an edge labelled with parts, one line each; none, no edge.
func (b *builder) partsEdge(from, to *Vertex, kind string, parts []labelPart) {
	if len(parts) == 0 || from == nil || to == nil {
		return
	}
	b.g.Edges = append(b.g.Edges, &Edge{From: from.ID, To: to.ID, Kind: kind, Label: partsLabel(parts), parts: parts})
}

func partsLabel(parts []labelPart) string {
	lines := make([]string, len(parts))
	for i, p := range parts {
		lines[i] = p.text
	}
	return strings.Join(lines, "\n")
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
		v := &Vertex{ID: b.id("svc_" + s.Name), Cluster: c.ID, Kind: KindService, Name: s.Name, Addrs: serviceAddrs(s),
			outside: s.Type != topology.TypeClusterIP || len(s.ExternalIPs) > 0}
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
