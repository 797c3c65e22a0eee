package main

// netlab diff's per-Service summary: for every address a Service port is
// reached at on a node (its ClusterIP, the node's NodePort, its load
// balancer and external IPs) and every kind of client (a pod on the node,
// the node itself, a host outside), what each side's dataplane does with a
// new connection (diff_dataplane.go). Both sides answer the same
// question in the same words, whichever kube-proxy mode wrote them, so an
// iptables node and an IPVS node compare Service by Service.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// frontend is one address a Service port is reached at on a node.
type frontend struct {
	service string // ns/name:port, as kube-proxy names a Service port
	kind    string // frontendClusterIP, ...
	proto   string
	addr    netip.Addr
	port    int
	// ranges are loadBalancerSourceRanges (a load balancer IP only).
	ranges []netip.Prefix
}

// Frontend kinds, as -o json spells them, and as the text calls them.
const (
	frontendClusterIP    = "clusterIP"
	frontendNodePort     = "nodePort"
	frontendLoadBalancer = "loadBalancer"
	frontendExternalIP   = "externalIP"
	// frontendListener is a cloud load balancer listener that is no
	// Service's (seed 002's CLB on 443): kube-proxy modes that bind the
	// LB IP on the node capture it anyway.
	frontendListener = "listener"
)

var frontendWords = map[string]string{
	frontendClusterIP: "cluster IP", frontendNodePort: "node port", frontendLoadBalancer: "load balancer IP", frontendExternalIP: "external IP", frontendListener: "listener",
}

func (f frontend) address() string {
	return hostPort(f.addr, f.port) + "/" + f.proto
}

// servicePortName is kube-proxy's ServicePortName: ns/name, with :port
// when the port has a name.
func servicePortName(s *topology.Service, p *topology.ServicePort) string {
	ns := s.Namespace
	if ns == "" {
		ns = "default"
	}
	if p.Name == "" {
		return ns + "/" + s.Name
	}
	return ns + "/" + s.Name + ":" + p.Name
}

// frontends lists a node's Service addresses in the scenario's order. The
// load balancer IP is listed whether or not a version captures it: one
// that does not shows it as not captured.
func frontends(t *topology.Topology, n *topology.Node) []frontend {
	var out []frontend
	for i := range t.Services {
		s := &t.Services[i]
		var ranges []netip.Prefix
		for _, r := range s.LoadBalancerSourceRanges {
			if p := prefixOrAddr(r); p.IsValid() {
				ranges = append(ranges, p)
			}
		}
		for j := range s.Ports {
			sp := &s.Ports[j]
			name, proto := servicePortName(s, sp), strings.ToLower(sp.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			add := func(kind string, a netip.Addr, port int, ranges []netip.Prefix) {
				if a.IsValid() && port > 0 {
					out = append(out, frontend{service: name, kind: kind, proto: proto, addr: a, port: port, ranges: ranges})
				}
			}
			add(frontendClusterIP, s.ClusterAddr, sp.Port, nil)
			if s.Type == topology.TypeNodePort || s.Type == topology.TypeLoadBalancer {
				add(frontendNodePort, n.Addr, sp.NodePort, nil)
			}
			if s.Type == topology.TypeLoadBalancer {
				add(frontendLoadBalancer, s.LBAddr, sp.Port, ranges)
			}
			for _, e := range s.ExternalIPs {
				if a, err := netip.ParseAddr(e); err == nil {
					add(frontendExternalIP, a, sp.Port, nil)
				}
			}
		}
	}
	for _, l := range t.Cloud.Listeners {
		if l.Addr.IsValid() && l.Port > 0 {
			out = append(out, frontend{service: "SLB (backend " + l.Backend + ")", kind: frontendListener, proto: "tcp", addr: l.Addr, port: l.Port})
		}
	}
	return out
}

// Client kinds.
const (
	fromPod      = "pod"
	fromNode     = "node"
	fromOutside  = "outside"
	fromInRanges = "outsideInRanges"
)

var clientWords = map[string]string{fromPod: "pod", fromNode: "node", fromOutside: "outside", fromInRanges: "in ranges"}

// clientSet is who connects, on one node: a pod of the node (an address of
// its pod range that no pod has, so no endpoint's own hairpin rules
// apply), the node, and outside hosts (the scenario's cloud clients where
// it has them), one outside the load balancers' source ranges and one per
// range set inside them.
type clientSet struct {
	pod, node client
	outside   client
	hasPod    bool
	// names say which scenario host an outside address is.
	names map[netip.Addr]string
}

func clientsFor(t *topology.Topology, n *topology.Node) *clientSet {
	cs := &clientSet{node: client{name: fromNode, addr: n.Addr, local: true}, names: map[netip.Addr]string{}}
	used := map[netip.Addr]bool{}
	for i := range t.Pods {
		used[t.Pods[i].Addr] = true
	}
	if n.PodNet.IsValid() {
		// From the top of the node's pod range down: the last address
		// is the broadcast, .1 the bridge.
		a := lastAddr(n.PodNet).Prev()
		for ; a.IsValid() && n.PodNet.Contains(a) && (used[a] || a == n.Gateway); a = a.Prev() {
		}
		if a.IsValid() && n.PodNet.Contains(a) && a != n.PodNet.Addr() {
			cs.pod, cs.hasPod = client{name: fromPod, addr: a}, true
		}
	}
	for _, c := range t.Cloud.Clients {
		if a, err := netip.ParseAddr(c.IP); err == nil {
			cs.names[a] = c.Name
		}
	}
	cs.outside = client{name: fromOutside, addr: cs.pick(t, nil, false)}
	return cs
}

// pick chooses an outside address: a scenario client (inside ranges when
// in is set, outside them otherwise), else a documentation address.
func (cs *clientSet) pick(t *topology.Topology, ranges []netip.Prefix, in bool) netip.Addr {
	inRanges := func(a netip.Addr) bool {
		for _, r := range ranges {
			if r.Contains(a) {
				return true
			}
		}
		return false
	}
	ok := func(a netip.Addr) bool {
		if !a.IsValid() || !a.Is4() || inRanges(a) != in {
			return false
		}
		for _, p := range []netip.Prefix{t.Network.NodesPrefix, t.Network.PodsPrefix, t.Network.ServicesPrefix} {
			if p.IsValid() && p.Contains(a) {
				return false
			}
		}
		return true
	}
	for _, c := range t.Cloud.Clients {
		if a, err := netip.ParseAddr(c.IP); err == nil && ok(a) {
			return a
		}
	}
	if in {
		for _, r := range ranges {
			if a := r.Addr().Next(); ok(a) {
				return a
			}
			if ok(r.Addr()) {
				return r.Addr()
			}
		}
		return netip.Addr{}
	}
	for _, s := range []string{"198.51.100.1", "192.0.2.1", "203.0.113.1", "100.64.0.1"} {
		if a := netip.MustParseAddr(s); ok(a) {
			return a
		}
	}
	return netip.Addr{}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// who lists the clients that try a frontend: a ClusterIP is for the
// cluster (pods, nodes); the others also for outside hosts.
func (cs *clientSet) who(t *topology.Topology, f frontend) []client {
	var out []client
	if cs.hasPod {
		out = append(out, cs.pod)
	}
	out = append(out, cs.node)
	if f.kind == frontendClusterIP {
		return out
	}
	if cs.outside.addr.IsValid() {
		out = append(out, cs.outside)
	}
	if len(f.ranges) > 0 {
		if a := cs.pick(t, f.ranges, true); a.IsValid() {
			out = append(out, client{name: fromInRanges, addr: a})
		}
	}
	return out
}

// outcome is what one side does with one client's connection, as -o json
// prints it.
type outcome struct {
	// Results are the ways the connection can end: endpoint (it reaches
	// one of Endpoints), proxied (kube-proxy's userspace proxy takes it),
	// notCaptured (routed on to the address itself), node (delivered to
	// the node, where no Service answers), rejected, dropped, noRoute.
	Results   []string `json:"results"`
	Endpoints []string `json:"endpoints,omitempty"`
	// SNAT are the endpoints that see another source than the client's
	// (masqueraded on the way, or proxied).
	SNAT            []string `json:"snat,omitempty"`
	AffinitySeconds int      `json:"affinitySeconds,omitempty"`
	// Uncertain are rules on the way that netlab does not understand: the
	// outcome assumed they do not match.
	Uncertain []string `json:"uncertain,omitempty"`
	// Text is the outcome as the summary prints it.
	Text string `json:"text"`
}

var resultWords = map[string]string{
	resTo: "endpoint", resProxy: "proxied", resPass: "notCaptured", resNode: "node",
	resReject: "rejected", resDrop: "dropped", resNoRoute: "noRoute",
}

// resultOrder is the order Results and the text list them in.
var resultOrder = []string{resTo, resProxy, resPass, resNode, resReject, resDrop, resNoRoute}

func summarize(rs []result) outcome {
	var o outcome
	kinds := map[string]bool{}
	eps, snat := map[string]bool{}, map[string]bool{}
	direct, directSNAT := map[string]bool{}, map[string]bool{}
	var pass, proxied []string
	proxyEmpty := false
	unsure := map[string]bool{}
	for _, r := range rs {
		kinds[r.kind] = true
		o.AffinitySeconds = max(o.AffinitySeconds, r.affinity)
		for _, u := range r.unsure {
			unsure[u] = true
		}
		switch r.kind {
		case resTo:
			eps[r.to], direct[r.to] = true, true
			if r.snat {
				snat[r.to], directSNAT[r.to] = true, true
			}
		case resPass:
			if !slices.Contains(pass, r.to) {
				pass = append(pass, r.to)
			}
		case resProxy:
			if len(r.endpoints) == 0 {
				proxyEmpty = true
			}
			for _, e := range r.endpoints {
				eps[e], snat[e] = true, true
				if !slices.Contains(proxied, e) {
					proxied = append(proxied, e)
				}
			}
		}
	}
	o.Endpoints = sortedEndpoints(eps)
	o.SNAT = sortedEndpoints(snat)
	for u := range unsure {
		o.Uncertain = append(o.Uncertain, u)
	}
	slices.Sort(o.Uncertain)
	var words []string
	for _, k := range resultOrder {
		if !kinds[k] {
			continue
		}
		o.Results = append(o.Results, resultWords[k])
		switch k {
		case resTo:
			words = append(words, endpointList(sortedEndpoints(direct), directSNAT))
		case resProxy:
			p := sortedEndpoints(setOf(proxied))
			switch {
			case len(p) == 0:
				words = append(words, "proxied by kube-proxy, no endpoints")
			case proxyEmpty:
				words = append(words, "proxied by kube-proxy to "+strings.Join(p, ", ")+" or no endpoint")
			default:
				words = append(words, "proxied by kube-proxy to "+strings.Join(p, ", "))
			}
		case resPass:
			words = append(words, "not captured (routed on via "+strings.Join(pass, ", ")+")")
		case resNode:
			words = append(words, "delivered to the node itself")
		case resReject:
			words = append(words, "rejected")
		case resDrop:
			words = append(words, "dropped")
		case resNoRoute:
			words = append(words, "no route")
		}
	}
	if len(words) == 0 {
		// No path came out: nothing reached a verdict (not expected;
		// every path ends somewhere).
		o.Results, words = []string{}, []string{"no outcome"}
	}
	o.Text = strings.Join(words, "; ")
	if o.AffinitySeconds > 0 {
		o.Text += fmt.Sprintf("; ClientIP affinity %ds", o.AffinitySeconds)
	}
	if len(o.Uncertain) > 0 {
		o.Text += fmt.Sprintf(" (uncertain: %d rule(s) not understood)", len(o.Uncertain))
	}
	return o
}

func setOf(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// endpointList prints endpoints, "(SNAT)" after the list when every one
// is source-NATed, after each one that is when only some are.
func endpointList(eps []string, snat map[string]bool) string {
	n := 0
	for _, e := range eps {
		if snat[e] {
			n++
		}
	}
	if n == len(eps) && n > 0 {
		return strings.Join(eps, ", ") + " (SNAT)"
	}
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e
		if snat[e] {
			out[i] += " (SNAT)"
		}
	}
	return strings.Join(out, ", ")
}

// sortedEndpoints orders ip:port numerically.
func sortedEndpoints(m map[string]bool) []string {
	var out []string
	for e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b string) int {
		pa, errA := netip.ParseAddrPort(a)
		pb, errB := netip.ParseAddrPort(b)
		if errA != nil || errB != nil {
			return strings.Compare(a, b)
		}
		return pa.Compare(pb)
	})
	return out
}

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
	From   string  `json:"from"`
	Source string  `json:"source"`
	Same   bool    `json:"same"`
	A      outcome `json:"a"`
	B      outcome `json:"b"`
}

// compareServices asks both sides' node namespaces about every frontend.
func compareServices(t *topology.Topology, n *topology.Node, a, b *plan.Namespace) []serviceDiff {
	da, db := newDataplane(a), newDataplane(b)
	cs := clientsFor(t, n)
	out := []serviceDiff{}
	for _, f := range frontends(t, n) {
		sd := serviceDiff{Service: f.service, Frontend: f.kind, Address: f.address(), Same: true}
		for _, c := range cs.who(t, f) {
			oa := summarize(da.connect(c, f.proto, f.addr, f.port))
			ob := summarize(db.connect(c, f.proto, f.addr, f.port))
			same := oa.Text == ob.Text
			sd.Same = sd.Same && same
			sd.Clients = append(sd.Clients, clientDiff{From: c.name, Source: c.addr.String(), Same: same, A: oa, B: ob})
		}
		out = append(out, sd)
	}
	return out
}

// clientLegend says which address each client kind used.
func clientLegend(t *topology.Topology, n *topology.Node, services []serviceDiff) string {
	seen := map[string]string{}
	var order []string
	for _, s := range services {
		for _, c := range s.Clients {
			key := c.From + " " + c.Source
			if _, ok := seen[key]; ok {
				continue
			}
			word := clientWords[c.From] + " " + c.Source
			if a, err := netip.ParseAddr(c.Source); err == nil {
				switch {
				case c.From == fromNode:
					word += " (" + n.Name + ")"
				case c.From == fromPod:
				default:
					if name := clientsFor(t, n).names[a]; name != "" {
						word += " (" + name + ")"
					}
				}
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
func writeServices(b *strings.Builder, t *topology.Topology, node, nameA, nameB string, services []serviceDiff, all bool) {
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
	var n *topology.Node
	for i := range t.Nodes {
		if t.Nodes[i].Name == node {
			n = &t.Nodes[i]
		}
	}
	if n != nil {
		fmt.Fprintf(b, "#   clients: %s\n", clientLegend(t, n, services))
	}
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
