package dataplane

// A node's netfilter hooks, routing decision, IPVS and userspace proxies
// as the reading follows a connection's first packet through them; the
// rule languages are in iptables.go and nftables.go.

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

// packet is the first packet of a connection as the rules see it.
type packet struct {
	src, dst     netip.Addr
	proto        string // tcp, udp, sctp
	sport, dport int
	iif, oif     string
	// physIn: it came in through a bridge port (br_netfilter hands bridged
	// and bridge-routed IP packets to the IP hooks with the port known).
	physIn bool
	mark   uint32
	// dnat: its conntrack entry has a destination NAT (ctstate DNAT,
	// ct status dnat). natted is the hook whose NAT chains set up a
	// binding: the kernel runs no further NAT chain of that hook.
	dnat   bool
	natted string
	snat   bool
	// vs is the IPVS virtual server that scheduled it.
	vs *plan.IPVSService
	// affinity is the ClientIP affinity (seconds) a rule on its path
	// consulted: the path is taken by a client seen before.
	affinity int
	// unsure lists rules on its path that were not understood.
	unsure []string
}

func (p *packet) addUnsure(what string) {
	if !slices.Contains(p.unsure, what) {
		p.unsure = append(slices.Clip(p.unsure), what)
	}
}

// verdict ends (or not) a chain's evaluation.
type verdict int

const (
	vContinue verdict = iota // fell off the chain or RETURN: the caller goes on
	vAccept
	vDrop
	vReject
)

// flow is one way a chain can treat a packet.
type flow struct {
	p packet
	v verdict
}

// Outcome kinds of a connection attempt.
const (
	resTo      = "to"      // reaches an address: the endpoint after DNAT or IPVS
	resPass    = "pass"    // nothing captured it: routed on unchanged
	resDrop    = "drop"    // dropped
	resReject  = "reject"  // rejected (ICMP error or RST)
	resNode    = "node"    // delivered to the node itself, where no Service answers
	resProxy   = "proxy"   // accepted by kube-proxy's userspace proxy
	resNoRoute = "noroute" // no route to the destination
)

// result is one way a connection attempt ends.
type result struct {
	kind string
	// to is the endpoint ip:port (resTo), the device (resPass), or the
	// proxy's port (resProxy).
	to        string
	endpoints []string // resProxy: the proxy's endpoints
	snat      bool
	affinity  int
	unsure    []string
}

// Dataplane is one node namespace's packet-handling state, parsed once
// from its plan; Connect asks it about one client and one frontend.
type Dataplane struct {
	ipt     map[string]*iptTable // by table name
	nft     []*nftTable
	sets    map[string]*ipset
	ipvs    map[string]*plan.IPVSService // by ipvsKey
	proxies []plan.Proxy
	local   []netip.Prefix // addresses on the node (as /32) and 127.0.0.0/8
	routes  []route
	bridges map[string]bool
	// primary is each device's first address (REDIRECT's target).
	primary map[string]netip.Addr
	// hooks are the chains registered at each netfilter hook, by
	// priority.
	hooks map[string][]hookFn
	// notes are parts of the plan the reading could not take in (an
	// nftables line it could not parse).
	notes []string
}

type route struct {
	dst netip.Prefix
	dev string
}

// hookFn is a chain (an iptables table's built-in chain, an nftables base
// chain) registered at a hook.
type hookFn struct {
	prio int
	nat  bool
	run  func(p packet, hook string) []flow
}

func ipvsKey(proto string, addr netip.Addr, port int) string {
	return proto + " " + addr.String() + " " + strconv.Itoa(port)
}

// Read parses a node namespace's plan: its iptables ruleset, nftables
// text, ipsets, IPVS virtual servers, userspace proxies, addresses and
// main-table routes (whichever kube-proxy mode and CNI wrote them).
func Read(ns *plan.Namespace) *Dataplane {
	d := &Dataplane{
		ipt: map[string]*iptTable{}, sets: map[string]*ipset{}, ipvs: map[string]*plan.IPVSService{},
		proxies: ns.UserspaceProxies, bridges: map[string]bool{}, primary: map[string]netip.Addr{},
		hooks: map[string][]hookFn{},
	}
	d.local = append(d.local, netip.MustParsePrefix("127.0.0.0/8"))
	for _, l := range ns.Links {
		if l.Kind == plan.KindBridge {
			d.bridges[l.Name] = true
		}
	}
	for _, a := range ns.Addrs {
		pfx, err := netip.ParsePrefix(a.CIDR)
		if err != nil {
			continue
		}
		d.local = append(d.local, netip.PrefixFrom(pfx.Addr(), pfx.Addr().BitLen()))
		if _, ok := d.primary[a.Dev]; !ok {
			d.primary[a.Dev] = pfx.Addr()
		}
		if pfx.Bits() < pfx.Addr().BitLen() {
			d.routes = append(d.routes, route{pfx.Masked(), a.Dev})
		}
	}
	for _, r := range ns.Routes {
		if r.Table != 0 {
			continue // policy routing tables: not followed
		}
		dst := r.Dst
		if dst == "default" {
			dst = "0.0.0.0/0"
		}
		pfx, err := netip.ParsePrefix(dst)
		if err != nil {
			if a, err2 := netip.ParseAddr(dst); err2 == nil {
				pfx = netip.PrefixFrom(a, a.BitLen())
			} else {
				continue
			}
		}
		d.routes = append(d.routes, route{pfx.Masked(), r.Dev})
	}
	for i := range ns.IPSets {
		s := newIPSet(&ns.IPSets[i])
		d.sets[s.name] = s
	}
	for i := range ns.IPVS {
		vs := &ns.IPVS[i]
		if a, err := netip.ParseAddr(vs.Addr); err == nil {
			d.ipvs[ipvsKey(vs.Proto, a, vs.Port)] = vs
		}
	}
	if ns.IPTables != nil {
		for _, t := range ns.IPTables.Tables {
			d.ipt[t.Name] = newIPTTable(t)
		}
	}
	if ns.NFTables != "" {
		tables, notes := parseNFT(ns.NFTables)
		d.nft, d.notes = tables, notes
	}
	d.registerHooks()
	return d
}

// Priorities of the iptables tables at each hook (NF_IP_PRI_*).
var iptPrio = map[string]int{"raw": -300, "mangle": -150, "nat": -100, "filter": 0, "security": 50}

var hookChain = map[string]string{
	"prerouting": "PREROUTING", "input": "INPUT", "forward": "FORWARD", "output": "OUTPUT", "postrouting": "POSTROUTING",
}

func (d *Dataplane) registerHooks() {
	for hook, builtin := range hookChain {
		for _, name := range []string{"raw", "mangle", "nat", "filter", "security"} {
			t := d.ipt[name]
			if t == nil || t.chains[builtin] == nil {
				continue
			}
			prio := iptPrio[name]
			if name == "nat" && (hook == "postrouting" || hook == "input") {
				prio = 100 // source NAT
			}
			d.hooks[hook] = append(d.hooks[hook], hookFn{prio: prio, nat: name == "nat", run: func(p packet, hook string) []flow {
				return t.runBuiltin(d, builtin, p, hook)
			}})
		}
		for _, t := range d.nft {
			for _, c := range t.base {
				if c.hook != hook {
					continue
				}
				d.hooks[hook] = append(d.hooks[hook], hookFn{prio: c.prio, nat: c.typ == "nat", run: func(p packet, hook string) []flow {
					return t.runBase(d, c, p, hook)
				}})
			}
		}
		// Equal priorities keep iptables first; the kernel's order between
		// them is registration order, which matters only if both NAT.
		sort.SliceStable(d.hooks[hook], func(i, j int) bool { return d.hooks[hook][i].prio < d.hooks[hook][j].prio })
	}
}

func (d *Dataplane) isLocal(a netip.Addr) bool {
	for _, p := range d.local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// routeDev is the device the main table routes dst out of ("lo" for a
// local address, "" for none).
func (d *Dataplane) routeDev(dst netip.Addr) string {
	if d.isLocal(dst) {
		return "lo"
	}
	best, dev := -1, ""
	for _, r := range d.routes {
		if r.dst.Contains(dst) && r.dst.Bits() > best {
			best, dev = r.dst.Bits(), r.dev
		}
	}
	return dev
}

// stage runs a hook's chains over the packets; natOK false skips its NAT
// chains (a connection whose NAT the kernel already set up).
func (d *Dataplane) stage(hook string, in []packet, natOK bool) (pass []packet, ended []result) {
	cur := in
	for _, h := range d.hooks[hook] {
		if h.nat && !natOK {
			continue
		}
		var next []packet
		for _, p := range cur {
			if h.nat && p.natted == hook {
				next = append(next, p)
				continue
			}
			for _, f := range h.run(p, hook) {
				switch f.v {
				case vDrop:
					ended = append(ended, end(f.p, resDrop, ""))
				case vReject:
					ended = append(ended, end(f.p, resReject, ""))
				default:
					next = append(next, f.p)
				}
			}
		}
		cur = next
	}
	return cur, ended
}

func end(p packet, kind, to string) result {
	return result{kind: kind, to: to, snat: p.snat, affinity: p.affinity, unsure: p.unsure}
}

// connect follows a new connection's first packet from c to dst:dport.
func (d *Dataplane) connect(c Client, proto string, dst netip.Addr, dport int) []result {
	p := packet{src: c.Addr, dst: dst, proto: proto, sport: 40000, dport: dport}
	var out []result
	if c.local {
		p.oif = d.routeDev(dst)
		pass, ended := d.stage("output", []packet{p}, true)
		out = append(out, ended...)
		for _, q := range pass {
			out = append(out, d.sent(q)...)
		}
		// The backend of a node's own connection sees one of the node's
		// addresses whether or not it is masqueraded: not worth telling.
		for i := range out {
			out[i].snat = false
		}
		return out
	}
	p.iif = d.routeDev(c.Addr)
	p.physIn = d.bridges[p.iif]
	pass, ended := d.stage("prerouting", []packet{p}, true)
	out = append(out, ended...)
	for _, q := range pass {
		out = append(out, d.routed(q)...)
	}
	return out
}

// routed: after prerouting, the routing decision on the (maybe
// translated) destination.
func (d *Dataplane) routed(p packet) []result {
	if d.isLocal(p.dst) {
		return d.input(p)
	}
	p.oif = d.routeDev(p.dst)
	if p.oif == "" {
		return []result{end(p, resNoRoute, "")}
	}
	pass, ended := d.stage("forward", []packet{p}, true)
	for _, q := range pass {
		ended = append(ended, d.postrouting(q)...)
	}
	return ended
}

// sent: a local process's packet after output.
func (d *Dataplane) sent(p packet) []result {
	if d.isLocal(p.dst) {
		// Looped back through lo: prerouting again (its NAT is done),
		// then input.
		p.iif = "lo"
		pass, ended := d.stage("prerouting", []packet{p}, false)
		for _, q := range pass {
			ended = append(ended, d.input(q)...)
		}
		return ended
	}
	p.oif = d.routeDev(p.dst)
	if p.oif == "" {
		return []result{end(p, resNoRoute, "")}
	}
	return d.postrouting(p)
}

// input: local delivery, where IPVS (at local input, after the filter
// table) takes a virtual server's packets and sends them on to a real
// server through output and postrouting.
func (d *Dataplane) input(p packet) []result {
	pass, ended := d.stage("input", []packet{p}, true)
	for _, q := range pass {
		ended = append(ended, d.deliver(q)...)
	}
	return ended
}

func (d *Dataplane) deliver(p packet) []result {
	if vs := d.ipvs[ipvsKey(p.proto, p.dst, p.dport)]; vs != nil {
		if len(vs.Reals) == 0 {
			// No real server: IPVS answers ICMP port unreachable.
			return []result{end(p, resReject, "")}
		}
		var out []result
		for _, r := range vs.Reals {
			q := p
			a, err := netip.ParseAddr(r.Addr)
			if err != nil {
				continue
			}
			q.dst, q.dport, q.dnat, q.vs = a, r.Port, true, vs
			if vs.Persistent > 0 {
				q.affinity = vs.Persistent
			}
			q.oif = d.routeDev(a)
			if q.oif == "lo" {
				out = append(out, end(q, resTo, hostPort(a, r.Port)))
				continue
			}
			// IPVS sends it through local output: the filter chains
			// there see it, the NAT ones do not (the connection's
			// destination NAT is set up).
			pass, ended := d.stage("output", []packet{q}, false)
			out = append(out, ended...)
			for _, x := range pass {
				out = append(out, d.postrouting(x)...)
			}
		}
		return out
	}
	for _, pr := range d.proxies {
		if pr.Port == p.dport && strings.EqualFold(pr.Protocol, p.proto) {
			r := end(p, resProxy, strconv.Itoa(pr.Port))
			r.endpoints = pr.Endpoints
			r.snat = true // the proxy opens its own connection
			if pr.AffinitySeconds > 0 {
				r.affinity = pr.AffinitySeconds
			}
			return []result{r}
		}
	}
	if p.dnat {
		return []result{end(p, resTo, hostPort(p.dst, p.dport))}
	}
	return []result{end(p, resNode, "")}
}

func (d *Dataplane) postrouting(p packet) []result {
	pass, ended := d.stage("postrouting", []packet{p}, true)
	for _, q := range pass {
		if q.dnat {
			ended = append(ended, end(q, resTo, hostPort(q.dst, q.dport)))
		} else {
			ended = append(ended, end(q, resPass, q.oif))
		}
	}
	return ended
}

func hostPort(a netip.Addr, port int) string { return netip.AddrPortFrom(a, uint16(port)).String() }

// ipset is one set as the set match tests it.
type ipset struct {
	name string
	// dims are the set type's dimensions: ip, net, port (hash:ip,port is
	// ip, port).
	dims   []string
	bitmap bool
	exact  map[string]bool // canonical entries, for sets without a net
	nets   [][]string      // entries split, for sets with one
	bad    bool            // a type or entry not understood
}

func newIPSet(s *plan.IPSet) *ipset {
	out := &ipset{name: s.Name, exact: map[string]bool{}}
	kind, dims, ok := strings.Cut(s.Type, ":")
	if !ok || (kind != "hash" && kind != "bitmap") {
		out.bad = true
		return out
	}
	out.bitmap = kind == "bitmap"
	out.dims = strings.Split(dims, ",")
	hasNet := false
	for _, dim := range out.dims {
		switch dim {
		case "net":
			hasNet = true
		case "ip", "port":
		default:
			out.bad = true
		}
	}
	for _, e := range s.Entries {
		parts := strings.Split(strings.Fields(e)[0], ",")
		if len(parts) != len(out.dims) || strings.Contains(e, "nomatch") {
			out.bad = true
			continue
		}
		for i, dim := range out.dims {
			if dim == "port" && !out.bitmap && !strings.Contains(parts[i], ":") {
				parts[i] = "tcp:" + parts[i] // a hash set's bare port is TCP
			}
			if dim == "ip" {
				if a, err := netip.ParseAddr(parts[i]); err == nil {
					parts[i] = a.String()
				}
			}
		}
		if hasNet {
			out.nets = append(out.nets, parts)
		} else {
			out.exact[strings.Join(parts, ",")] = true
		}
	}
	return out
}

// test is the set match: flags (src,dst,...) say which of the packet's
// addresses and ports make up the element.
func (s *ipset) test(p *packet, flags string) bool {
	fl := strings.Split(flags, ",")
	if len(fl) < len(s.dims) {
		return false // the kernel matches nothing with fewer dimensions
	}
	key := make([]string, len(s.dims))
	addrs := make([]netip.Addr, len(s.dims))
	for i, dim := range s.dims {
		addr, port := p.dst, p.dport
		if fl[i] == "src" {
			addr, port = p.src, p.sport
		}
		addrs[i] = addr
		switch dim {
		case "ip", "net":
			key[i] = addr.String()
		case "port":
			if s.bitmap {
				key[i] = strconv.Itoa(port)
			} else {
				key[i] = p.proto + ":" + strconv.Itoa(port)
			}
		}
	}
	if s.nets == nil {
		return s.exact[strings.Join(key, ",")]
	}
	for _, e := range s.nets {
		ok := true
		for i, dim := range s.dims {
			if dim == "net" {
				if !prefixOrAddr(e[i]).Contains(addrs[i]) {
					ok = false
					break
				}
			} else if e[i] != key[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// prefixOrAddr parses "10.0.0.0/8" or "10.0.0.1" (as a /32); an invalid
// text is a prefix that contains nothing.
func prefixOrAddr(s string) netip.Prefix {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	return netip.Prefix{}
}
