package dataplane

// The questions and the answers: every address a Service port is reached
// at on a node (its ClusterIP, the node's NodePort, its load balancer and
// external IPs, the SLB listeners that are no Service's), every kind of
// client that tries it (a pod on the node, the node itself, a host
// outside), and what a node's dataplane does with that client's new
// connection, in words that do not depend on the kube-proxy mode that
// wrote the rules.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/topology"
)

// Frontend is one address a Service port is reached at on a node, with
// the clients that try it.
type Frontend struct {
	// Service is the Service port, as kube-proxy names it (ns/name:port),
	// or "SLB (backend NAME)" for a Listener.
	Service string
	Kind    string // ClusterIP, NodePort, ...
	Proto   string // tcp, udp, sctp
	Addr    netip.Addr
	Port    int
	// Clients are who tries the address: a ClusterIP is for the cluster
	// (a pod, the node), the others also for hosts outside.
	Clients []Client
	// ranges are loadBalancerSourceRanges (a load balancer IP only).
	ranges []netip.Prefix
}

// Frontend kinds, as diff -o json spells them.
const (
	ClusterIP    = "clusterIP"
	NodePort     = "nodePort"
	LoadBalancer = "loadBalancer"
	ExternalIP   = "externalIP"
	// Listener is a cloud load balancer listener that is no Service's
	// (seed 002's CLB on 443): kube-proxy modes that bind the LB IP on
	// the node capture it anyway.
	Listener = "listener"
)

// Address is ip:port/proto.
func (f Frontend) Address() string {
	return hostPort(f.Addr, f.Port) + "/" + f.Proto
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

// Frontends lists a node's Service addresses in the scenario's order, each
// with the clients that try it. The load balancer IP is listed whether or
// not a version captures it: one that does not shows it as not captured.
// The list depends on the scenario alone, not on any rules, so it is the
// same question for every kube-proxy mode and version.
func Frontends(t *topology.Topology, n *topology.Node) []Frontend {
	cs := clientsFor(t, n)
	var out []Frontend
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
					out = append(out, Frontend{Service: name, Kind: kind, Proto: proto, Addr: a, Port: port, ranges: ranges})
				}
			}
			add(ClusterIP, s.ClusterAddr, sp.Port, nil)
			if s.Type == topology.TypeNodePort || s.Type == topology.TypeLoadBalancer {
				add(NodePort, n.Addr, sp.NodePort, nil)
			}
			if s.Type == topology.TypeLoadBalancer {
				add(LoadBalancer, s.LBAddr, sp.Port, ranges)
			}
			for _, e := range s.ExternalIPs {
				if a, err := netip.ParseAddr(e); err == nil {
					add(ExternalIP, a, sp.Port, nil)
				}
			}
		}
	}
	for _, l := range t.Cloud.Listeners {
		if l.Addr.IsValid() && l.Port > 0 {
			out = append(out, Frontend{Service: "SLB (backend " + l.Backend + ")", Kind: Listener, Proto: "tcp", Addr: l.Addr, Port: l.Port})
		}
	}
	for i := range out {
		out[i].Clients = cs.who(t, out[i])
	}
	return out
}

// Client kinds, as diff -o json spells them.
const (
	FromPod      = "pod"
	FromNode     = "node"
	FromOutside  = "outside"
	FromInRanges = "outsideInRanges" // outside, inside a load balancer's source ranges
)

// Client is where a connection comes from: a pod on the node, the node
// itself, or a host outside the cluster. Clients come from Frontends,
// which knows which one is the node's own process.
type Client struct {
	Kind string // FromPod, ...
	Addr netip.Addr
	// Host is the scenario's name for the address: the node's, an
	// outside client's; "" for the pod (an address no pod has) and for
	// an outside address the scenario does not name.
	Host string
	// local: the node's own process (the packet starts at output).
	local bool
}

// clientSet is who connects, on one node: a pod of the node (an address of
// its pod range that no pod has, so no endpoint's own hairpin rules
// apply), the node, and outside hosts (the scenario's cloud clients where
// it has them), one outside the load balancers' source ranges and one per
// range set inside them.
type clientSet struct {
	pod, node Client
	outside   Client
	hasPod    bool
	// names say which scenario host an outside address is.
	names map[netip.Addr]string
}

func clientsFor(t *topology.Topology, n *topology.Node) *clientSet {
	cs := &clientSet{node: Client{Kind: FromNode, Addr: n.Addr, Host: n.Name, local: true}, names: map[netip.Addr]string{}}
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
			cs.pod, cs.hasPod = Client{Kind: FromPod, Addr: a}, true
		}
	}
	for _, c := range t.Cloud.Clients {
		if a, err := netip.ParseAddr(c.IP); err == nil {
			cs.names[a] = c.Name
		}
	}
	a := cs.pick(t, nil, false)
	cs.outside = Client{Kind: FromOutside, Addr: a, Host: cs.names[a]}
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
func (cs *clientSet) who(t *topology.Topology, f Frontend) []Client {
	var out []Client
	if cs.hasPod {
		out = append(out, cs.pod)
	}
	out = append(out, cs.node)
	if f.Kind == ClusterIP {
		return out
	}
	if cs.outside.Addr.IsValid() {
		out = append(out, cs.outside)
	}
	if len(f.ranges) > 0 {
		if a := cs.pick(t, f.ranges, true); a.IsValid() {
			out = append(out, Client{Kind: FromInRanges, Addr: a, Host: cs.names[a]})
		}
	}
	return out
}

// Outcome is what a node's dataplane does with one client's new
// connection to one frontend, as diff -o json prints it.
type Outcome struct {
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
	// Text is the outcome in words: what netlab diff prints, and what it
	// compares between two dataplanes.
	Text string `json:"text"`
}

var resultWords = map[string]string{
	resTo: "endpoint", resProxy: "proxied", resPass: "notCaptured", resNode: "node",
	resReject: "rejected", resDrop: "dropped", resNoRoute: "noRoute",
}

// resultOrder is the order Results and the text list them in.
var resultOrder = []string{resTo, resProxy, resPass, resNode, resReject, resDrop, resNoRoute}

// Connect follows a new connection from c to f through the node's rules
// and tells where it can end.
func (d *Dataplane) Connect(c Client, f Frontend) Outcome {
	return summarize(d.connect(c, f.Proto, f.Addr, f.Port))
}

// summarize puts the ways a connection can end into an Outcome.
func summarize(rs []result) Outcome {
	var o Outcome
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
