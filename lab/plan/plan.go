// Package plan is the desired state of a lab as plain data: per network
// namespace, the links, addresses, routes, neighbours, FDB entries, sysctls
// and iptables ruleset to create. The compile step (lab/cni, lab/cloud)
// produces it without touching the kernel; lab/apply executes it; Render
// prints it as the equivalent ip / bridge / iptables-restore commands.
package plan

import (
	"fmt"
	"strings"
)

// Namespace roles.
const (
	RoleVPC    = "vpc"
	RoleNode   = "node"
	RolePod    = "pod"
	RoleClient = "client"
	RoleSLB    = "slb"
)

// Plan is everything one lab creates.
type Plan struct {
	Lab        string       `json:"lab"`
	Namespaces []*Namespace `json:"namespaces"`
}

// Namespace is one named network namespace and its contents, applied in
// field order: sysctls, links, addresses, routes, neighbours, FDB, iptables.
type Namespace struct {
	// Name is the netns name under /run/netns, e.g. "mylab-node-1".
	Name string `json:"name"`
	// Role is vpc, node, pod or client; Owner the topology object's name.
	Role  string `json:"role"`
	Owner string `json:"owner"`
	// Node is the node a pod runs on.
	Node string `json:"node,omitempty"`

	Sysctls []Sysctl `json:"sysctls,omitempty"`
	Links   []Link   `json:"links,omitempty"`
	Addrs   []Addr   `json:"addrs,omitempty"`
	Routes  []Route  `json:"routes,omitempty"`
	Rules   []Rule   `json:"rules,omitempty"`
	Neighs  []Neigh  `json:"neighs,omitempty"`
	FDB     []FDB    `json:"fdb,omitempty"`
	// TC are the namespace's tc filters, added after its routes.
	TC []TCFilter `json:"tc,omitempty"`
	// IPSets are restored (ipset restore) before the iptables rules that
	// match them; IPVS are virtual servers with their real servers.
	IPSets []IPSet       `json:"ipsets,omitempty"`
	IPVS   []IPVSService `json:"ipvs,omitempty"`
	// NFAcct are nfacct counters to create before the rules that use them
	// (kube-proxy 1.30+ counts INVALID drops and localhost NodePorts).
	NFAcct []string `json:"nfacct,omitempty"`
	// IPTables is applied with one iptables-restore call.
	IPTables *Ruleset `json:"iptables,omitempty"`
	// NFTables is nft -f input (one "add ..." command a line, as knftables
	// writes a transaction), applied in one nft transaction after the
	// iptables rules: kube-proxy's nftables mode keeps its own table
	// beside the CNI's iptables-nft rules.
	NFTables string `json:"nftables,omitempty"`
	// UserspaceProxies are the sockets kube-proxy's userspace mode listens
	// on in a node: not kernel state (nothing applies or renders them), but
	// what the lab daemon opens there, recorded with the plan so that it
	// opens exactly what was compiled.
	UserspaceProxies []Proxy `json:"userspaceProxies,omitempty"`
}

// Proxy is one userspace proxy socket: kube-proxy listens on Port (on every
// address) and sends each connection to one of Endpoints.
type Proxy struct {
	// Service is the ServicePortName, "namespace/name:port" (the rules'
	// comment).
	Service  string `json:"service"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	// Endpoints are the ready endpoints, "ip:port", in EndpointSlice order.
	Endpoints []string `json:"endpoints"`
	// AffinitySeconds > 0 is ClientIP session affinity.
	AffinitySeconds int `json:"affinitySeconds,omitempty"`
}

// Sysctl is a /proc/sys key (dotted) set inside the namespace.
type Sysctl struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Link kinds.
const (
	KindBridge = "bridge"
	KindVeth   = "veth"
	KindVXLAN  = "vxlan"
	KindDummy  = "dummy"
	// KindVLAN is an 802.1Q sub-interface of another link of the
	// namespace (Link.VLAN); it is created after every namespace's own
	// links, so its parent may be a peer that another namespace creates.
	KindVLAN = "vlan"
	// KindIPVlan is an ipvlan L2 slave (Link.IPVlan) of a link of this
	// namespace or, for a pod's eth0, of its node's ENI: it is created by
	// the parent's namespace directly into this one, after every
	// namespace's own links, as KindVLAN is.
	KindIPVlan = "ipvlan"
)

// Late reports whether the link is created after every namespace's own
// links (phase 3), because its parent may be a link another namespace's
// veth brings.
func (l Link) Late() bool { return l.Kind == KindVLAN || l.Kind == KindIPVlan }

// Link is a device created in this namespace. A veth's peer end is created
// in Peer.Namespace by the same request, so the pair never exists anywhere
// else (in particular not in the root namespace).
type Link struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	MTU     int    `json:"mtu,omitempty"`
	MAC     string `json:"mac,omitempty"`
	Master  string `json:"master,omitempty"`
	Hairpin bool   `json:"hairpin,omitempty"`
	// Down leaves the link down (kube-proxy never sets kube-ipvs0 up).
	Down  bool   `json:"down,omitempty"`
	Peer  *Peer  `json:"peer,omitempty"`
	VXLAN *VXLAN `json:"vxlan,omitempty"`
	VLAN  *VLAN  `json:"vlan,omitempty"`
	// IPVlan holds an ipvlan slave's parent.
	IPVlan *IPVlan `json:"ipvlan,omitempty"`
	// NoARP turns ARP off on the link (Terway's ipvl_N, whose neighbours
	// are then its own MAC).
	NoARP bool `json:"noARP,omitempty"`
}

// IPVlan is an ipvlan L2 slave's parent link, in ParentNamespace ("" this
// namespace): every slave shares the parent's MAC, and the parent hands
// each received frame to the slave holding its destination address.
type IPVlan struct {
	Parent          string `json:"parent"`
	ParentNamespace string `json:"parentNamespace,omitempty"`
	// CreateAs is the name a slave of another namespace's parent is
	// created under, then renamed: the kernel looks a new link's name up
	// in the namespace that asks for it, which has a link of the final
	// name (the node's eth0). Terway uses the pod's cali name.
	CreateAs string `json:"createAs,omitempty"`
}

// VLAN is an 802.1Q sub-interface's parent link and VLAN id.
type VLAN struct {
	Parent string `json:"parent"`
	ID     int    `json:"id"`
}

// TCFilter is a u32 filter on a link's clsact qdisc (created with the
// first filter) whose action pushes or pops an 802.1Q tag (Terway's trunk
// ENI tags each trunk pod's frames with its member ENI's VLAN on egress
// and strips every tag on ingress), or, with Redirect, hands the packet
// to another device's ingress as the host's (Terway's ipvlan datapath
// sends the ServiceCIDR from its ENI into ipvl_N, and so to kube-proxy).
type TCFilter struct {
	Dev string `json:"dev"`
	// Dir is "ingress" or "egress".
	Dir  string `json:"dir"`
	Prio int    `json:"prio"`
	// Protocol is the frames' protocol: "ip" or "802.1Q".
	Protocol string `json:"protocol"`
	// Src matches the IPv4 source (a CIDR); "" matches every frame.
	Src string `json:"src,omitempty"`
	// Dst matches the IPv4 destination (a CIDR).
	Dst string `json:"dst,omitempty"`
	// PushVLAN is the VLAN id the action pushes; 0 pops the tag (when
	// there is no Redirect).
	PushVLAN int `json:"pushVLAN,omitempty"`
	// Redirect is the device whose ingress gets the packet: tunnel_key
	// unset, skbedit ptype host, mirred ingress redirect.
	Redirect string `json:"redirect,omitempty"`
}

// Peer is the far end of a veth.
type Peer struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	MAC       string `json:"mac,omitempty"`
	MTU       int    `json:"mtu,omitempty"`
	Master    string `json:"master,omitempty"`
}

// VXLAN holds a VXLAN device's parameters.
type VXLAN struct {
	VNI      int    `json:"vni"`
	Dev      string `json:"dev"`
	Local    string `json:"local"`
	Port     int    `json:"port"`
	Learning bool   `json:"learning"`
}

// Addr is an address on a device, as CIDR (10.244.0.1/24).
type Addr struct {
	Dev  string `json:"dev"`
	CIDR string `json:"cidr"`
	// Scope is "host" for an address only this namespace may use as a
	// source or destination (ipvl_N's node IP); "" is global.
	Scope string `json:"scope,omitempty"`
}

// Route is a route in the main table. Dst "default" is 0.0.0.0/0.
type Route struct {
	Dst    string `json:"dst"`
	Gw     string `json:"gw,omitempty"`
	Dev    string `json:"dev"`
	Onlink bool   `json:"onlink,omitempty"`
	// Scope "link" for a gateway-less route to a host on the wire.
	Scope string `json:"scope,omitempty"`
	// Table is the routing table (0: main).
	Table int `json:"table,omitempty"`
}

// Rule is a policy routing rule: packets from From, to To, that came in
// on IIF with this protocol and source port range are looked up in Table
// (254 is main).
type Rule struct {
	Priority int    `json:"priority"`
	From     string `json:"from,omitempty"` // a CIDR
	To       string `json:"to,omitempty"`   // a CIDR
	IIF      string `json:"iif,omitempty"`
	Proto    string `json:"ipproto,omitempty"` // tcp | udp
	SPort    [2]int `json:"sport,omitempty"`
	Table    int    `json:"table"`
}

// Neigh is a permanent ARP entry.
type Neigh struct {
	Dev string `json:"dev"`
	IP  string `json:"ip"`
	MAC string `json:"mac"`
}

// FDB is a permanent forwarding entry on a VXLAN device ("self"): frames
// for MAC are sent to the remote VTEP Dst.
type FDB struct {
	Dev string `json:"dev"`
	MAC string `json:"mac"`
	Dst string `json:"dst"`
}

// Namespace returns the namespace with that name, or nil.
func (p *Plan) Namespace(name string) *Namespace {
	for _, ns := range p.Namespaces {
		if ns.Name == name {
			return ns
		}
	}
	return nil
}

// Names lists the namespaces in creation order.
func (p *Plan) Names() []string {
	out := make([]string, len(p.Namespaces))
	for i, ns := range p.Namespaces {
		out[i] = ns.Name
	}
	return out
}

// PeersByNamespace indexes the veth peer ends by the namespace they land in:
// each is configured (master, up) there once both ends exist.
func (p *Plan) PeersByNamespace() map[string][]*Peer {
	m := map[string][]*Peer{}
	for _, ns := range p.Namespaces {
		for i := range ns.Links {
			if pe := ns.Links[i].Peer; pe != nil {
				m[pe.Namespace] = append(m[pe.Namespace], pe)
			}
		}
	}
	return m
}

// IPSet is one ipset: "create NAME TYPE OPTIONS" and its entries in
// ipset-save syntax ("10.96.0.10,tcp:80").
type IPSet struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Options string   `json:"options,omitempty"`
	Entries []string `json:"entries,omitempty"`
}

// IPVSService is an IPVS virtual server; its real servers use masquerading
// (NAT), as kube-proxy's always do.
type IPVSService struct {
	Proto      string     `json:"proto"` // tcp | udp
	Addr       string     `json:"addr"`
	Port       int        `json:"port"`
	Scheduler  string     `json:"scheduler"`
	Persistent int        `json:"persistent,omitempty"` // seconds; 0 = not persistent
	Flags      []string   `json:"flags,omitempty"`      // scheduler flags, e.g. mh-port
	Reals      []IPVSReal `json:"reals,omitempty"`
}

// IPVSReal is a real server.
type IPVSReal struct {
	Addr   string `json:"addr"`
	Port   int    `json:"port"`
	Weight int    `json:"weight"`
}

// IPSetRestore renders ipset restore input for a namespace's sets.
func IPSetRestore(sets []IPSet) string {
	var b strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&b, "create %s %s", s.Name, s.Type)
		if s.Options != "" {
			b.WriteString(" " + s.Options)
		}
		b.WriteString("\n")
	}
	for _, s := range sets {
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "add %s %s\n", s.Name, e)
		}
	}
	return b.String()
}

// IPVSAdm renders ipvsadm commands (as in ipvsadm -S -n) for the services.
func IPVSAdm(svcs []IPVSService) []string {
	var out []string
	for _, s := range svcs {
		flag := "-t"
		if s.Proto == "udp" {
			flag = "-u"
		}
		vip := fmt.Sprintf("%s:%d", s.Addr, s.Port)
		line := fmt.Sprintf("-A %s %s -s %s", flag, vip, s.Scheduler)
		if s.Persistent > 0 {
			line += fmt.Sprintf(" -p %d", s.Persistent)
		}
		if len(s.Flags) > 0 {
			line += " -b " + strings.Join(s.Flags, ",")
		}
		out = append(out, line)
		for _, r := range s.Reals {
			out = append(out, fmt.Sprintf("-a %s %s -r %s:%d -m -w %d", flag, vip, r.Addr, r.Port, r.Weight))
		}
	}
	return out
}
