package plan

// Wiring is the part of a plan that observing a running lab needs every
// time: each namespace, who owns it and its links (veth peers, bridge
// ports), with a count of the heavier state it holds, so that an observer
// knows which namespaces to watch without reading their rulesets. A lab
// stores it apart from the rest of its plan (lab/state) because every probe
// reads it: on a lab with 5,000 Services the wiring is a few kilobytes and
// the rulesets megabytes.
type Wiring struct {
	Lab        string           `json:"lab"`
	Namespaces []WiredNamespace `json:"namespaces"`
}

// WiredNamespace is one namespace of a Wiring: the plan's Namespace without
// its sysctls, addresses, routes, neighbours, FDB, rules and proxies.
type WiredNamespace struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Owner string `json:"owner"`
	Node  string `json:"node,omitempty"`
	Links []Link `json:"links,omitempty"`
	// IPTables says the namespace has an iptables ruleset; IPSets, IPVS and
	// UserspaceProxies count its ipsets, IPVS virtual servers and
	// kube-proxy userspace proxy sockets.
	IPTables bool `json:"iptables,omitempty"`
	// NFTables says the namespace has an nftables ruleset of its own
	// (kube-proxy's nftables mode).
	NFTables         bool `json:"nftables,omitempty"`
	IPSets           int  `json:"ipsets,omitempty"`
	IPVS             int  `json:"ipvs,omitempty"`
	UserspaceProxies int  `json:"userspaceProxies,omitempty"`
}

// Wiring returns the plan's wiring.
func (p *Plan) Wiring() *Wiring {
	w := &Wiring{Lab: p.Lab, Namespaces: make([]WiredNamespace, len(p.Namespaces))}
	for i, ns := range p.Namespaces {
		w.Namespaces[i] = WiredNamespace{
			Name: ns.Name, Role: ns.Role, Owner: ns.Owner, Node: ns.Node, Links: ns.Links,
			IPTables: ns.IPTables != nil, NFTables: ns.NFTables != "", IPSets: len(ns.IPSets), IPVS: len(ns.IPVS), UserspaceProxies: len(ns.UserspaceProxies),
		}
	}
	return w
}

// Plan returns the plan of the wiring alone: its namespaces with their
// links, nothing else.
func (w *Wiring) Plan() *Plan {
	p := &Plan{Lab: w.Lab, Namespaces: make([]*Namespace, len(w.Namespaces))}
	for i, ns := range w.Namespaces {
		p.Namespaces[i] = &Namespace{Name: ns.Name, Role: ns.Role, Owner: ns.Owner, Node: ns.Node, Links: ns.Links}
	}
	return p
}

// Names lists the namespaces in creation order.
func (w *Wiring) Names() []string {
	out := make([]string, len(w.Namespaces))
	for i, ns := range w.Namespaces {
		out[i] = ns.Name
	}
	return out
}

// Namespace returns the namespace with that name, or nil.
func (w *Wiring) Namespace(name string) *WiredNamespace {
	for i := range w.Namespaces {
		if w.Namespaces[i].Name == name {
			return &w.Namespaces[i]
		}
	}
	return nil
}

// UserspaceProxies counts the userspace proxy sockets of every namespace.
func (w *Wiring) UserspaceProxies() int {
	n := 0
	for _, ns := range w.Namespaces {
		n += ns.UserspaceProxies
	}
	return n
}
