package kubeproxy

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
)

// VirtualServer is one IPVS virtual service as kube-proxy creates it.
type VirtualServer struct {
	Proto     string // "tcp" | "udp" | "sctp"
	Addr      string // VIP (ClusterIP, externalIP, LB ingress IP or node IP)
	Port      int
	Scheduler string // --ipvs-scheduler, default "rr"
	// Persistent is the ClientIP affinity timeout in seconds (the
	// persistent flag 0x1); 0 = no affinity.
	Persistent int
	// Flags are extra ipvsadm -b scheduler flags: "mh-port" (0x10,
	// FlagSourceHash) for the mh scheduler from 1.27.
	Flags []string
	// Reals are sorted by address (as text), then port. Forwarding is
	// always Masq (NAT).
	Reals []RealServer
}

// RealServer is one IPVS destination: Masq forwarding, kube-proxy weight 1.
type RealServer struct {
	Addr   string
	Port   int
	Weight int
}

// IPSet is one ipset kube-proxy creates.
type IPSet struct {
	Name string
	// Type is the ipset type, e.g. "hash:ip,port" or "bitmap:port".
	Type string
	// Comment is what kube-proxy writes in the "-m comment" of the
	// iptables rules that match the set (not an ipset option).
	Comment string
	// Entries in ipset-save syntax ("10.96.0.10,tcp:80"), sorted.
	Entries []string
}

// IPVSResult is what kube-proxy in IPVS mode sets up on one node after its
// first full sync on a fresh node.
type IPVSResult struct {
	// VirtualServers sorted by protocol, address (as text), port: the
	// order of the oracle's ipvsadm dump.
	VirtualServers []VirtualServer
	// IPSets: every set kube-proxy creates (also the empty ones), sorted
	// by name.
	IPSets []IPSet
	// Addresses bound to the dummy device kube-ipvs0 (as /32), sorted as
	// text. The device is created but left DOWN.
	Addresses []string
	// Rules is the iptables state: kube-proxy's chains (declared even when
	// empty), the rules it restores, and the EnsureRule jumps from built-in
	// chains in their final order. For 1.9-1.24, whose nat KUBE-FIREWALL
	// jumps to KUBE-MARK-DROP, it also holds the kubelet's KUBE-MARK-DROP
	// and filter KUBE-FIREWALL (kubelet.go), as for IPTables.
	Rules *plan.Ruleset
	// Sysctls the IPVS proxier sets in NewProxier (pkg/proxy/ipvs/proxier.go).
	Sysctls []plan.Sysctl
	// NFAcctCounters: always empty. The IPVS proxier uses no -m nfacct
	// rules in any version (checked in v1.31.14).
	NFAcctCounters []string
}

// IPVSDummyDevice is the dummy link kube-proxy binds the service
// addresses to (Addresses); it is created but never set up.
const IPVSDummyDevice = "kube-ipvs0"

// Names of the IPVS proxier's chains and ipsets.
const (
	chainIPVSNodePort      = "KUBE-NODE-PORT"
	chainLoadBalancer      = "KUBE-LOAD-BALANCER"
	chainIPVSFirewall      = "KUBE-FIREWALL" // nat, 1.9-1.24 (source ranges)
	chainSourceRangesFW    = "KUBE-SOURCE-RANGES-FIREWALL"
	chainIPVSFilter        = "KUBE-IPVS-FILTER"
	chainIPVSOutFilter     = "KUBE-IPVS-OUT-FILTER"
	setLoopBack            = "KUBE-LOOP-BACK"
	setClusterIP           = "KUBE-CLUSTER-IP"
	setExternalIP          = "KUBE-EXTERNAL-IP"
	setExternalIPLocal     = "KUBE-EXTERNAL-IP-LOCAL"
	setLoadBalancer        = "KUBE-LOAD-BALANCER"
	setLoadBalancerFW      = "KUBE-LOAD-BALANCER-FW"
	setLoadBalancerLocal   = "KUBE-LOAD-BALANCER-LOCAL"
	setLoadBalancerSrcIP   = "KUBE-LOAD-BALANCER-SOURCE-IP"
	setLoadBalancerSrcCIDR = "KUBE-LOAD-BALANCER-SOURCE-CIDR"
	setNodePortTCP         = "KUBE-NODE-PORT-TCP"
	setNodePortLocalTCP    = "KUBE-NODE-PORT-LOCAL-TCP"
	setNodePortUDP         = "KUBE-NODE-PORT-UDP"
	setNodePortLocalUDP    = "KUBE-NODE-PORT-LOCAL-UDP"
	setNodePortSCTP        = "KUBE-NODE-PORT-SCTP-HASH"
	setNodePortLocalSCTP   = "KUBE-NODE-PORT-LOCAL-SCTP-HASH"
	setHealthCheckNodePort = "KUBE-HEALTH-CHECK-NODE-PORT"
	setIPVSIPs             = "KUBE-IPVS-IPS"

	ipsetHashIP       = "hash:ip"
	ipsetHashIPPort   = "hash:ip,port"
	ipsetHashIPPortIP = "hash:ip,port,ip"
	ipsetHashIPPortNt = "hash:ip,port,net"
	ipsetBitmapPort   = "bitmap:port"
)

// ipsetInfo is the proxier's set list: name, type, rule comment.
var ipsetInfo = []struct{ name, typ, comment string }{
	{setLoopBack, ipsetHashIPPortIP, "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"},
	{setClusterIP, ipsetHashIPPort, "Kubernetes service cluster ip + port for masquerade purpose"},
	{setExternalIP, ipsetHashIPPort, "Kubernetes service external ip + port for masquerade and filter purpose"},
	{setExternalIPLocal, ipsetHashIPPort, "Kubernetes service external ip + port with externalTrafficPolicy=local"},
	{setLoadBalancer, ipsetHashIPPort, "Kubernetes service lb portal"},
	{setLoadBalancerFW, ipsetHashIPPort, "Kubernetes service load balancer ip + port for load balancer with sourceRange"},
	{setLoadBalancerLocal, ipsetHashIPPort, "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"},
	{setLoadBalancerSrcIP, ipsetHashIPPortIP, "Kubernetes service load balancer ip + port + source IP for packet filter purpose"},
	{setLoadBalancerSrcCIDR, ipsetHashIPPortNt, "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"},
	{setNodePortTCP, ipsetBitmapPort, "Kubernetes nodeport TCP port for masquerade purpose"},
	{setNodePortLocalTCP, ipsetBitmapPort, "Kubernetes nodeport TCP port with externalTrafficPolicy=local"},
	{setNodePortUDP, ipsetBitmapPort, "Kubernetes nodeport UDP port for masquerade purpose"},
	{setNodePortLocalUDP, ipsetBitmapPort, "Kubernetes nodeport UDP port with externalTrafficPolicy=local"},
	{setNodePortSCTP, ipsetHashIPPort, "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"},
	{setNodePortLocalSCTP, ipsetHashIPPort, "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"},
	{setHealthCheckNodePort, ipsetBitmapPort, "Kubernetes health check node port"},
	{setIPVSIPs, ipsetHashIP, "Addresses on the ipvs interface"},
}

// setRule is one "ipset -> chain" rule written when the set is non-empty
// (ipsetWithIptablesChain).
type setRule struct{ set, table, from, to, match, proto string }

func (v Version) ipsetChainRules() []setRule {
	r := []setRule{
		{setLoopBack, "nat", chainPostrouting, "MASQUERADE", "dst,dst,src", ""},
		{setLoadBalancer, "nat", chainServices, chainLoadBalancer, "dst,dst", ""},
	}
	if !v.ipvsFirewallInFilter() {
		r = append(r,
			setRule{setLoadBalancerFW, "nat", chainLoadBalancer, chainIPVSFirewall, "dst,dst", ""},
			setRule{setLoadBalancerSrcCIDR, "nat", chainIPVSFirewall, "RETURN", "dst,dst,src", ""},
			setRule{setLoadBalancerSrcIP, "nat", chainIPVSFirewall, "RETURN", "dst,dst,src", ""},
		)
	}
	r = append(r,
		setRule{setLoadBalancerLocal, "nat", chainLoadBalancer, "RETURN", "dst,dst", ""},
		setRule{setNodePortLocalTCP, "nat", chainIPVSNodePort, "RETURN", "dst", "tcp"},
		setRule{setNodePortTCP, "nat", chainIPVSNodePort, chainMarkMasq, "dst", "tcp"},
		setRule{setNodePortLocalUDP, "nat", chainIPVSNodePort, "RETURN", "dst", "udp"},
		setRule{setNodePortUDP, "nat", chainIPVSNodePort, chainMarkMasq, "dst", "udp"},
	)
	sctpLocal := setRule{setNodePortLocalSCTP, "nat", chainIPVSNodePort, "RETURN", "dst,dst", "sctp"}
	sctp := setRule{setNodePortSCTP, "nat", chainIPVSNodePort, chainMarkMasq, "dst,dst", "sctp"}
	if v.ipvsSCTPLocalFirst() {
		r = append(r, sctpLocal, sctp)
	} else {
		r = append(r, sctp, sctpLocal)
	}
	if v.ipvsFirewallInFilter() {
		r = append(r,
			setRule{setLoadBalancerFW, "filter", chainProxyFirewall, chainSourceRangesFW, "dst,dst", ""},
			setRule{setLoadBalancerSrcCIDR, "filter", chainSourceRangesFW, "RETURN", "dst,dst,src", ""},
			setRule{setLoadBalancerSrcIP, "filter", chainSourceRangesFW, "RETURN", "dst,dst,src", ""},
		)
	}
	return r
}

// IPVS renders kube-proxy's IPVS mode of version v (1.8-1.37) on node n,
// with the default options (kernel 6.1, no strict ARP).
func IPVS(v Version, n Node) (*IPVSResult, error) {
	return IPVSWithOptions(v, n, Options{})
}

// IPVSWithOptions renders kube-proxy's IPVS mode: the IPVS virtual and real
// servers, ipsets, kube-ipvs0 addresses, iptables rules and sysctls after
// its first full sync (syncProxyRules) on a fresh node.
//
// Modelled from the v1.22.17, v1.24.17, v1.28.15, v1.31.14, v1.33.13,
// v1.35.4 and v1.37.2 proxiers (the oracle) and the PRs ipvs_versions.go
// cites; versions in between and before
// follow the switches of ipvs_versions.go. Known simplifications before
// 1.22: the ipset and chain names are the 1.22 ones (the 1.9-1.13 names
// KUBE-LB-INGRESS-LOCAL / KUBE-FIRE-WALL and the KUBE-FORWARD pod CIDR
// ACCEPTs of some 1.9-1.2x releases are not modelled), and the 1.8 alpha
// rules are a guess (ipvsRulesAlpha).
func IPVSWithOptions(v Version, n Node, o Options) (*IPVSResult, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if !v.atLeast(ipvsMinVersion) {
		return nil, fmt.Errorf("kube-proxy %s has no IPVS mode: it arrived as alpha in 1.8 (#46580); supported IPVS versions are 1.%d to %s", v, ipvsMinVersion, MaxVersion)
	}
	kernel, err := parseKernel(o.KernelVersion)
	if err != nil {
		return nil, err
	}
	m, err := buildModel(v, n)
	if err != nil {
		return nil, err
	}
	if v.ipvsModeGate() && !v.gateOn(m.gates, "KubeProxyIPVS") {
		return nil, fmt.Errorf("node %s: kube-proxy %s refuses --proxy-mode=ipvs with the KubeProxyIPVS feature gate off (config validation: the mode must be iptables, nftables or blank; #139397); turn the gate on or use another mode", m.nodeName, v)
	}
	r := &ipvsRenderer{
		v: v, m: m,
		sched: n.IPVSScheduler,
		sets:  map[string]map[string]bool{},
		vs:    map[string]*VirtualServer{},
		bound: map[string]bool{},
	}
	if r.sched == "" {
		r.sched = "rr"
	}
	r.gateTerm = v.hasTerminatingEndpoints() && v.gateOn(m.gates, "ProxyTerminatingEndpoints")
	r.nodeAddrs, r.nodePortIPs = r.nodeAddresses()
	r.services()

	res := &IPVSResult{NFAcctCounters: nil}
	res.VirtualServers = r.sortedVirtualServers()
	res.IPSets = r.ipsets()
	for a := range r.bound {
		res.Addresses = append(res.Addresses, a)
	}
	sort.Strings(res.Addresses)
	res.Rules = r.iptables()
	res.Sysctls = ipvsSysctls(v, kernel, o.StrictARP)
	return res, nil
}

type ipvsRenderer struct {
	v        Version
	m        *model
	sched    string
	gateTerm bool // ProxyTerminatingEndpoints

	nodeAddrs   map[string]bool // local non-loopback addresses (not kube-ipvs0; before 1.10 only eth*'s)
	nodePortIPs []net.IP        // where NodePort virtual servers are bound

	sets  map[string]map[string]bool // set name -> entries
	vs    map[string]*VirtualServer
	bound map[string]bool
	// outFilter are the "ip,proto:port" of load balancers whose source
	// ranges do not cover the node IP (KUBE-IPVS-OUT-FILTER, 1.29+).
	outFilter []lbEntry
}

type lbEntry struct {
	ip, proto string
	port      int
}

func (r *ipvsRenderer) hasSet(name string) bool {
	switch name {
	case setIPVSIPs:
		return r.v.ipvsHasIPVSFilter()
	}
	return r.v.ipvsHasIPSets()
}

func (r *ipvsRenderer) add(set, entry string) {
	s := r.sets[set]
	if s == nil {
		s = map[string]bool{}
		r.sets[set] = s
	}
	s[entry] = true
}

func (r *ipvsRenderer) nonEmpty(set string) bool { return len(r.sets[set]) > 0 }

// nodeAddresses: the local addresses other than kube-ipvs0's (every
// interface of Node.Interfaces: eth0, cni0, flannel.1, ...; loopback is
// never valid for an IPVS set or NodePort: isValidForSet, and #101023 for
// the NodePorts), and the NodePort addresses: all of them, or with
// --nodeport-addresses the matching ones. IPv4 link-local addresses count
// like any other (only IPv6 link-local ones are skipped).
func (r *ipvsRenderer) nodeAddresses() (map[string]bool, []net.IP) {
	all := map[string]bool{}
	var nonLo []net.IP
	for i, a := range r.m.localAddrs {
		if a.IsLoopback() || !r.v.ipvsNodeIPsFromEveryInterface() && !strings.HasPrefix(r.m.localDevs[i], "eth") {
			continue
		}
		if !all[a.String()] {
			all[a.String()] = true
			nonLo = append(nonLo, a)
		}
	}
	var cidrs []*net.IPNet
	matchAll := len(r.m.npAddrs) == 0 || !r.v.atLeast(10) // --nodeport-addresses: 1.10 (#58052)
	for _, c := range r.m.npAddrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil || n.IP.To4() == nil {
			continue
		}
		if isZeroNodePortCIDR(r.v, c, n) {
			matchAll = true
		}
		cidrs = append(cidrs, n)
	}
	if matchAll {
		return all, nonLo
	}
	var ips []net.IP
	for _, a := range nonLo {
		for _, n := range cidrs {
			if n.Contains(a) {
				ips = append(ips, a)
				break
			}
		}
	}
	return all, ips
}

// ipvsNodeIPsFromEveryInterface: the node IPs are the local addresses of
// every interface (the local routing table's, minus kube-ipvs0's) from
// #56685 ("Fix ipvs proxier nodeport eth* assumption", merged 2017-12-04,
// after 1.9 had branched: placed at 1.10, a 1.9.x backport not checked);
// the 1.8 and 1.9 proxier took the addresses of the eth* interfaces only
// (issue #55923). Kept beside its only reader, nodeAddresses. Known
// simplification: 1.10-1.21 also listed 127.0.0.1 and created NodePort
// virtual servers on it that never worked, until #101023 (1.22) dropped
// loopback; netlab leaves loopback out in every version.
func (v Version) ipvsNodeIPsFromEveryInterface() bool { return v.atLeast(10) }

func hostPortEntry(ip string, proto string, port int) string {
	return ip + "," + proto + ":" + strconv.Itoa(port)
}

func (r *ipvsRenderer) newVS(addr net.IP, port int, p *svcPort) *VirtualServer {
	vs := &VirtualServer{Proto: p.proto, Addr: addr.String(), Port: port, Scheduler: r.sched}
	if p.affinity {
		vs.Persistent = p.stickySecs
	}
	if r.sched == "mh" && r.v.ipvsMHSourceHash() {
		vs.Flags = []string{"mh-port"}
	}
	key := vs.Proto + "/" + net.JoinHostPort(vs.Addr, strconv.Itoa(port))
	if old, ok := r.vs[key]; ok {
		// Two service ports on one address: kube-proxy updates the one
		// virtual server; the last writer's real servers are added too.
		return old
	}
	r.vs[key] = vs
	return vs
}

// bind adds an external or LB address to kube-ipvs0, unless (1.26+) it is
// a node address.
func (r *ipvsRenderer) bind(ip net.IP) {
	if r.v.ipvsSkipsBindingNodeAddresses() && r.nodeAddrs[ip.String()] {
		return
	}
	r.bound[ip.String()] = true
}

// services walks the service ports as syncProxyRules does.
func (r *ipvsRenderer) services() {
	v := r.v
	for _, p := range r.m.ports {
		r.clusterIP(p)
		// eTP=Local external addresses use only local endpoints.
		eLocalExt := p.eLocal && v.ipvsHonoursLocalLoadBalancers()
		r.externalIPs(p, eLocalExt)
		r.loadBalancerIPs(p, eLocalExt)
		if p.nodePort != 0 {
			if len(r.nodePortIPs) == 0 {
				continue // as kube-proxy: also skips the health check port
			}
			r.nodePort(p)
		}
		// "Capture healthCheckNodePorts."
		if p.hcNodePort != 0 {
			r.add(setHealthCheckNodePort, strconv.Itoa(p.hcNodePort))
		}
	}
	if v.ipvsHasIPVSFilter() {
		for a := range r.bound {
			r.add(setIPVSIPs, a)
		}
	}
	if !v.ipvsHasIPSets() {
		r.sets = map[string]map[string]bool{}
	}
}

// clusterIP is syncProxyRules' "Handle traffic that loops back to the
// originator with SNAT." (the hairpin set of the local endpoints) and
// "Capture the clusterIP.": the set entry, the virtual server and its
// address on kube-ipvs0.
func (r *ipvsRenderer) clusterIP(p *svcPort) {
	if r.v.ipvsHasIPSets() {
		for _, e := range p.eps {
			if e.local {
				_, port, _ := net.SplitHostPort(e.hostPort)
				r.add(setLoopBack, e.ip.String()+","+p.proto+":"+port+","+e.ip.String())
			}
		}
		r.add(setClusterIP, hostPortEntry(p.clusterIP.String(), p.proto, p.port))
	}
	vs := r.newVS(p.clusterIP, p.port, p)
	r.bound[p.clusterIP.String()] = true
	r.addReals(vs, p, p.iLocal)
}

// externalIPs is "Capture externalIPs.".
func (r *ipvsRenderer) externalIPs(p *svcPort, eLocal bool) {
	for _, ip := range p.externalIP {
		if eLocal {
			r.add(setExternalIPLocal, hostPortEntry(ip.String(), p.proto, p.port))
		} else {
			r.add(setExternalIP, hostPortEntry(ip.String(), p.proto, p.port))
		}
		vs := r.newVS(ip, p.port, p)
		r.bind(ip)
		r.addReals(vs, p, eLocal)
	}
}

// loadBalancerIPs is "Capture load-balancer ingress.": the LB sets, the
// source-range sets (the node's own traffic, with the LB IP as source,
// admitted when a range covers the node IP, else from 1.29 dropped in
// KUBE-IPVS-OUT-FILTER), the virtual server.
func (r *ipvsRenderer) loadBalancerIPs(p *svcPort, eLocal bool) {
	for _, ip := range p.lbIP {
		e := hostPortEntry(ip.String(), p.proto, p.port)
		r.add(setLoadBalancer, e)
		if eLocal {
			r.add(setLoadBalancerLocal, e)
		}
		if len(p.srcRanges) > 0 {
			r.add(setLoadBalancerFW, e)
			for _, src := range p.srcRanges {
				if hasZeroCIDR([]string{src}) {
					// Before 1.34 (zeroSourceRangeAllowsAll) kube-proxy
					// tries to add a /0 source; the kernel refuses it
					// for hash:ip,port,net ("The value of the CIDR
					// parameter of the IP address is invalid"), kube-proxy
					// logs "Failed to add ip set entry" and goes on:
					// the node drops that LB's traffic from anywhere
					// else (#132719). The rules and the SOURCE-IP entry
					// stay.
					continue
				}
				r.add(setLoadBalancerSrcCIDR, e+","+src)
			}
			if p.srcCoversNode {
				r.add(setLoadBalancerSrcIP, e+","+ip.String())
			} else if r.v.ipvsHasOutFilter() {
				r.outFilter = append(r.outFilter, lbEntry{ip.String(), p.proto, p.port})
			}
		}
		vs := r.newVS(ip, p.port, p)
		r.bind(ip)
		r.addReals(vs, p, eLocal)
	}
}

// nodePort is "Capture nodeports.": the port in the protocol's NodePort
// set (SCTP: per node address), then a virtual server per NodePort
// address.
func (r *ipvsRenderer) nodePort(p *svcPort) {
	eLocal := p.eLocal && r.v.ipvsHonoursLocalNodePorts()
	set, local, entries := r.nodePortEntries(p)
	for _, e := range entries {
		r.add(set, e)
		if eLocal {
			r.add(local, e)
		}
	}
	for _, ip := range r.nodePortIPs {
		vs := r.newVS(ip, p.nodePort, p)
		r.addReals(vs, p, eLocal)
	}
}

// nodePortEntries names the NodePort set of the port's protocol and its
// eTP=Local twin, and the entries: the port (bitmap:port), or for SCTP
// "ip,sctp:port" per NodePort address (hash:ip,port).
func (r *ipvsRenderer) nodePortEntries(p *svcPort) (set, local string, entries []string) {
	switch p.proto {
	case "tcp":
		return setNodePortTCP, setNodePortLocalTCP, []string{strconv.Itoa(p.nodePort)}
	case "udp":
		return setNodePortUDP, setNodePortLocalUDP, []string{strconv.Itoa(p.nodePort)}
	case "sctp":
		for _, ip := range r.nodePortIPs {
			entries = append(entries, hostPortEntry(ip.String(), p.proto, p.nodePort))
		}
		return setNodePortSCTP, setNodePortLocalSCTP, entries
	}
	return "", "", nil
}

// addReals is syncEndpoint: the real servers of one virtual server.
func (r *ipvsRenderer) addReals(vs *VirtualServer, p *svcPort, onlyLocal bool) {
	for _, e := range r.realServers(p, onlyLocal) {
		host, port, _ := net.SplitHostPort(e.hostPort)
		pn, _ := strconv.Atoi(port)
		dup := false
		for _, rs := range vs.Reals {
			if rs.Addr == host && rs.Port == pn {
				dup = true
			}
		}
		if !dup {
			vs.Reals = append(vs.Reals, RealServer{Addr: host, Port: pn, Weight: 1})
		}
	}
}

// realServers selects the endpoints of a virtual server.
//
//   - 1.24+ (PR #97081, with CategorizeEndpoints): onlyLocal -> the local
//     endpoints if any, else all cluster endpoints (nil for a ClusterIP-only
//     service with iTP=Local, which uses no cluster endpoints).
//   - before: the v1.22 FilterEndpoints + syncEndpoint logic. eTP=Local
//     keeps every endpoint, iTP=Local only the local ones; then the ready
//     ones, or with onlyLocal the local ready ones, else (terminating gate)
//     the local serving+terminating ones, else none.
func (r *ipvsRenderer) realServers(p *svcPort, onlyLocal bool) []*endpoint {
	if r.v.ipvsFallbackToClusterEndpoints() {
		c := categorize1_24(p, r.gateTerm)
		if onlyLocal && len(c.local) > 0 {
			return c.local
		}
		return c.cluster
	}
	eps := p.filteredEndpoints()
	if !onlyLocal {
		return selectEndpoints(eps, isReady)
	}
	out := selectEndpoints(eps, isLocalReady)
	if len(out) == 0 && r.gateTerm {
		out = selectEndpoints(eps, isLocalServingTerminating)
	}
	return out
}

func (r *ipvsRenderer) sortedVirtualServers() []VirtualServer {
	out := make([]VirtualServer, 0, len(r.vs))
	for _, vs := range r.vs {
		sort.Slice(vs.Reals, func(i, j int) bool {
			if vs.Reals[i].Addr != vs.Reals[j].Addr {
				return vs.Reals[i].Addr < vs.Reals[j].Addr
			}
			return vs.Reals[i].Port < vs.Reals[j].Port
		})
		out = append(out, *vs)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.Addr != b.Addr {
			return a.Addr < b.Addr
		}
		return a.Port < b.Port
	})
	return out
}

func (r *ipvsRenderer) ipsets() []IPSet {
	var out []IPSet
	for _, info := range ipsetInfo {
		if !r.hasSet(info.name) {
			continue
		}
		s := IPSet{Name: info.name, Type: info.typ, Comment: info.comment}
		for e := range r.sets[info.name] {
			s.Entries = append(s.Entries, e)
		}
		sort.Strings(s.Entries)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func ipsetComment(name string) string {
	for _, info := range ipsetInfo {
		if info.name == name {
			return info.comment
		}
	}
	return ""
}

// ---- iptables ---------------------------------------------------------------

// iptables renders writeIptablesRules and createAndLinkKubeChain on top of
// a fresh node (plus the kubelet chains the rules of 1.9-1.24 rely on).
func (r *ipvsRenderer) iptables() *plan.Ruleset {
	v, m := r.v, r.m
	st := newIPTState()
	// The oracle's and kube-proxy's restore input: *filter, then *nat.
	st.table("filter")
	st.table("nat")
	if v.ipvsHasIPSets() && !v.ipvsFirewallInFilter() {
		kubeletChains(v, st)
	}
	mark, markMask := masqMark(v, m.markBit)

	// iptablesChains (EnsureChain, then declared in the restore).
	type tc struct{ table, chain string }
	chains := []tc{{"nat", chainServices}, {"nat", chainPostrouting}}
	if v.ipvsHasIPSets() {
		if !v.ipvsFirewallInFilter() {
			chains = append(chains, tc{"nat", chainIPVSFirewall})
		}
		chains = append(chains, tc{"nat", chainIPVSNodePort}, tc{"nat", chainLoadBalancer})
	}
	chains = append(chains, tc{"nat", chainMarkMasq})
	if v.ipvsHasForwardChain() {
		chains = append(chains, tc{"filter", chainForward})
	}
	if v.ipvsHealthCheckNodePortRule() {
		chains = append(chains, tc{"filter", chainIPVSNodePort})
	}
	if v.ipvsFirewallInFilter() {
		chains = append(chains, tc{"filter", chainProxyFirewall}, tc{"filter", chainSourceRangesFW})
	}
	if v.ipvsHasIPVSFilter() {
		chains = append(chains, tc{"filter", chainIPVSFilter})
	}
	if v.ipvsHasOutFilter() {
		chains = append(chains, tc{"filter", chainIPVSOutFilter})
	}
	if v.ipvsHasIPSets() && !v.ipvsFirewallInFilter() {
		// iptablesEnsureChains: the kubelet's KUBE-MARK-DROP.
		st.ensureChain("nat", chainMarkDrop)
	}
	nat := newRestoreTable("nat", 16)
	filter := newRestoreTable("filter", 16)
	for _, c := range chains {
		st.ensureChain(c.table, c.chain)
		if c.table == "nat" {
			nat.declare(c.chain)
		} else {
			filter.declare(c.chain)
		}
	}
	// iptablesJumpChain: EnsureRule(Prepend) in list order.
	type jc struct{ table, from, to, comment string }
	jumps := []jc{
		{"nat", "OUTPUT", chainServices, "kubernetes service portals"},
		{"nat", "PREROUTING", chainServices, "kubernetes service portals"},
		{"nat", "POSTROUTING", chainPostrouting, "kubernetes postrouting rules"},
	}
	if v.ipvsHasForwardChain() {
		jumps = append(jumps, jc{"filter", "FORWARD", chainForward, "kubernetes forwarding rules"})
	}
	if v.ipvsHealthCheckNodePortRule() {
		jumps = append(jumps, jc{"filter", "INPUT", chainIPVSNodePort, "kubernetes health check rules"})
	}
	if v.ipvsFirewallInFilter() {
		jumps = append(jumps,
			jc{"filter", "INPUT", chainProxyFirewall, "kube-proxy firewall rules"},
			jc{"filter", "FORWARD", chainProxyFirewall, "kube-proxy firewall rules"})
	}
	if v.ipvsHasIPVSFilter() {
		jumps = append(jumps, jc{"filter", "INPUT", chainIPVSFilter, "kubernetes ipvs access filter"})
	}
	if v.ipvsHasOutFilter() {
		jumps = append(jumps, jc{"filter", "OUTPUT", chainIPVSOutFilter, "kubernetes ipvs access filter"})
	}
	for _, j := range jumps {
		st.ensureRule(true, j.table, j.from, "-m", "comment", "--comment", j.comment, "-j", j.to)
	}

	nsvc := nat.chain(chainServices)
	if !v.ipvsHasIPSets() {
		r.ipvsRulesAlpha(nsvc)
	} else {
		r.ipsetRules(nat, filter, markMask)
	}

	// KUBE-POSTROUTING and KUBE-MARK-MASQ, as in the iptables proxier.
	masqRules(v, nat.chain(chainPostrouting), nat.chain(chainMarkMasq), mark, markMask)
	st.restore(filter)
	st.restore(nat)
	return st.rs
}

// ipsetRules is writeIptablesRules of 1.9+.
func (r *ipvsRenderer) ipsetRules(nat, filter *restoreTable, markMask string) {
	v, m := r.v, r.m
	nsvc := nat.chain(chainServices)
	if v.ipvsSkipsLoopbackSources() {
		nsvc.add("-s 127.0.0.0/8 -j RETURN")
	}
	for _, s := range v.ipsetChainRules() {
		if !r.nonEmpty(s.set) {
			continue
		}
		rule := ""
		if s.proto != "" {
			rule = "-p " + s.proto + " "
		}
		rule += cmt(ipsetComment(s.set)) + " -m set --match-set " + s.set + " " + s.match + " -j " + s.to
		if s.table == "filter" {
			filter.chain(s.from).add(rule)
		} else {
			nat.chain(s.from).add(rule)
		}
	}
	if r.nonEmpty(setClusterIP) {
		head := cmt(ipsetComment(setClusterIP)) + " -m set --match-set " + setClusterIP
		switch {
		case m.masqAll:
			nsvc.add(head + " dst,dst -j " + chainMarkMasq)
		case m.clusterCIDR != "":
			nsvc.add(head + " dst,dst ! -s " + m.clusterCIDR + " -j " + chainMarkMasq)
		default:
			nsvc.add(head + " src,dst -j " + chainMarkMasq)
		}
	}
	extRules := func(head string) {
		nsvc.add(head + " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT")
		nsvc.add(head + " -m addrtype --dst-type LOCAL -j ACCEPT")
	}
	if r.nonEmpty(setExternalIP) {
		head := cmt(ipsetComment(setExternalIP)) + " -m set --match-set " + setExternalIP + " dst,dst"
		nsvc.add(head + " -j " + chainMarkMasq)
		extRules(head)
	}
	if r.nonEmpty(setExternalIPLocal) {
		extRules(cmt(ipsetComment(setExternalIPLocal)) + " -m set --match-set " + setExternalIPLocal + " dst,dst")
	}
	nsvc.add("-m addrtype --dst-type LOCAL -j " + chainIPVSNodePort)
	nat.chain(chainLoadBalancer).add("-j " + chainMarkMasq)
	if v.ipvsFirewallInFilter() {
		filter.chain(chainSourceRangesFW).add("-j DROP")
	} else {
		nat.chain(chainIPVSFirewall).add("-j " + chainMarkDrop)
	}
	if v.ipvsHasOutFilter() {
		out := filter.chain(chainIPVSOutFilter)
		for _, e := range r.outFilter {
			out.add(fmt.Sprintf("-s %s -m ipvs --vaddr %s --vproto %s --vport %d -j DROP", e.ip, e.ip, e.proto, e.port))
		}
	}
	// acceptIPVSTraffic: the last rules of nat KUBE-SERVICES.
	for _, s := range []string{setClusterIP, setLoadBalancer} {
		if r.nonEmpty(s) {
			nsvc.add("-m set --match-set " + s + " dst,dst -j ACCEPT")
		}
	}
	if v.ipvsHasForwardChain() {
		fwd := filter.chain(chainForward)
		fwd.add(cmt("kubernetes forwarding rules") + " -m mark --mark " + markMask + " -j ACCEPT")
		if v.ipvsSingleForwardConntrackRule() {
			fwd.add(cmt("kubernetes forwarding conntrack rule") + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
		} else {
			fwd.add(forwardConntrackRules(v, m.clusterCIDR)...)
		}
	}
	if v.ipvsHealthCheckNodePortRule() {
		filter.chain(chainIPVSNodePort).add(cmt(ipsetComment(setHealthCheckNodePort)) + " -m set --match-set " + setHealthCheckNodePort + " dst -j ACCEPT")
	}
	if v.ipvsHasIPVSFilter() {
		f := filter.chain(chainIPVSFilter)
		f.add("-m set --match-set " + setLoadBalancer + " dst,dst -j RETURN")
		f.add("-m set --match-set " + setClusterIP + " dst,dst -j RETURN")
		f.add("-m set --match-set " + setExternalIP + " dst,dst -j RETURN")
		if v.ipvsFilterReturnsLocalExternalIPs() {
			f.add("-m set --match-set " + setExternalIPLocal + " dst,dst -j RETURN")
		}
		f.add("-m set --match-set " + setHealthCheckNodePort + " dst -j RETURN")
		f.add("-m conntrack --ctstate NEW -m set --match-set " + setIPVSIPs + " dst -j REJECT")
	}
}

// ipvsRulesAlpha is the 1.8 alpha's iptables part, a guess (no 1.8 source
// was available): without ipsets, one masquerade rule per virtual server in
// nat KUBE-SERVICES -- off-cluster sources for ClusterIPs (or all with
// --masquerade-all), every source for external addresses and NodePorts --
// and no hairpin masquerade (#53775).
func (r *ipvsRenderer) ipvsRulesAlpha(nsvc *chainBuf) {
	m := r.m
	for _, p := range m.ports {
		dport := " -p " + p.proto + " -m " + p.proto + " --dport "
		switch {
		case m.masqAll:
			nsvc.add("-d " + p.clusterIP.String() + "/32" + dport + strconv.Itoa(p.port) + " -j " + chainMarkMasq)
		case m.clusterCIDR != "":
			nsvc.add("! -s " + m.clusterCIDR + " -d " + p.clusterIP.String() + "/32" + dport + strconv.Itoa(p.port) + " -j " + chainMarkMasq)
		}
		for _, ip := range append(append([]net.IP{}, p.externalIP...), p.lbIP...) {
			nsvc.add("-d " + ip.String() + "/32" + dport + strconv.Itoa(p.port) + " -j " + chainMarkMasq)
		}
		if p.nodePort != 0 {
			for _, ip := range r.nodePortIPs {
				nsvc.add("-d " + ip.String() + "/32" + dport + strconv.Itoa(p.nodePort) + " -j " + chainMarkMasq)
			}
		}
	}
}

// ---- sysctls ------------------------------------------------------------

type kernelVersion struct{ major, minor int }

func (k kernelVersion) less(o kernelVersion) bool {
	if k.major != o.major {
		return k.major < o.major
	}
	return k.minor < o.minor
}

func parseKernel(s string) (kernelVersion, error) {
	if s == "" {
		return kernelVersion{6, 1}, nil
	}
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '_' })
	if len(f) < 2 {
		return kernelVersion{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR[...] such as 5.4 or 6.1.0-18-amd64", s)
	}
	maj, err1 := strconv.Atoi(f[0])
	mnr, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return kernelVersion{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR[...] such as 5.4 or 6.1.0-18-amd64", s)
	}
	return kernelVersion{maj, mnr}, nil
}

// ipvsSysctls is NewProxier's sysctl list, in its order
// (pkg/proxy/ipvs/proxier.go).
func ipvsSysctls(v Version, k kernelVersion, strictARP bool) []plan.Sysctl {
	var out []plan.Sysctl
	set := func(key, val string) { out = append(out, plan.Sysctl{Key: key, Value: val}) }
	if v.ipvsSetsRouteLocalnet() {
		set("net.ipv4.conf.all.route_localnet", "1")
	}
	set("net.ipv4.vs.conntrack", "1")
	if v.ipvsSetsConnReuseMode() {
		write := true
		if v.ipvsConnReuseNeedsKernel41() && k.less(kernelVersion{4, 1}) {
			write = false
		}
		if v.ipvsConnReuseLeftOnFixedKernels() && !k.less(kernelVersion{5, 9}) {
			write = false
		}
		if write {
			set("net.ipv4.vs.conn_reuse_mode", "0")
		}
	}
	if v.ipvsSetsExpireSysctls() {
		set("net.ipv4.vs.expire_nodest_conn", "1")
		set("net.ipv4.vs.expire_quiescent_template", "1")
	}
	set("net.ipv4.ip_forward", "1")
	if v.ipvsStrictARPAlways() || (v.ipvsStrictARPFlag() && strictARP) {
		set("net.ipv4.conf.all.arp_ignore", "1")
		set("net.ipv4.conf.all.arp_announce", "2")
	}
	return out
}

// ---- text forms -----------------------------------------------------------

func ipvsProtoFlag(p string) string {
	switch p {
	case "tcp":
		return "-t"
	case "udp":
		return "-u"
	case "sctp":
		return "--sctp-service"
	}
	return "--proto-" + p
}

// Save renders the virtual servers like "ipvsadm -S -n" (and the oracle's
// section): "-A -t VIP:PORT -s rr [-p T] [-b FLAGS]" then one
// "-a -t VIP:PORT -r RIP:RPORT -m -w W" per real server (Masq).
func (r *IPVSResult) Save() string {
	var b strings.Builder
	for _, vs := range r.VirtualServers {
		key := ipvsProtoFlag(vs.Proto) + " " + net.JoinHostPort(vs.Addr, strconv.Itoa(vs.Port))
		fmt.Fprintf(&b, "-A %s -s %s", key, vs.Scheduler)
		if vs.Persistent != 0 {
			fmt.Fprintf(&b, " -p %d", vs.Persistent)
		}
		if len(vs.Flags) > 0 {
			fmt.Fprintf(&b, " -b %s", strings.Join(vs.Flags, ","))
		}
		b.WriteString("\n")
		for _, rs := range vs.Reals {
			fmt.Fprintf(&b, "-a %s -r %s -m -w %d\n", key, net.JoinHostPort(rs.Addr, strconv.Itoa(rs.Port)), rs.Weight)
		}
	}
	return b.String()
}

// IPSetRestore renders "ipset restore" input: every set created with
// kube-proxy's options (hash types: family inet hashsize 1024 maxelem
// 65536; bitmap:port: range 0-65535), then its entries.
func (r *IPVSResult) IPSetRestore() string { return plan.IPSetRestore(r.PlanIPSets()) }

// PlanIPSets gives the sets with the create options kube-proxy uses.
func (r *IPVSResult) PlanIPSets() []plan.IPSet {
	out := make([]plan.IPSet, len(r.IPSets))
	for i, s := range r.IPSets {
		opts := "family inet hashsize 1024 maxelem 65536"
		if s.Type == ipsetBitmapPort {
			opts = "range 0-65535"
		}
		out[i] = plan.IPSet{Name: s.Name, Type: s.Type, Options: opts, Entries: s.Entries}
	}
	return out
}

// PlanIPVS gives the virtual servers as plan data.
func (r *IPVSResult) PlanIPVS() []plan.IPVSService {
	out := make([]plan.IPVSService, len(r.VirtualServers))
	for i, vs := range r.VirtualServers {
		ps := plan.IPVSService{Proto: vs.Proto, Addr: vs.Addr, Port: vs.Port, Scheduler: vs.Scheduler, Persistent: vs.Persistent, Flags: vs.Flags}
		for _, rs := range vs.Reals {
			ps.Reals = append(ps.Reals, plan.IPVSReal{Addr: rs.Addr, Port: rs.Port, Weight: rs.Weight})
		}
		out[i] = ps
	}
	return out
}

// The IPVS mode: alpha in 1.8 (kubernetes#46580), GA in 1.11, deprecated in
// 1.35 (#134539), behind the KubeProxyIPVS gate from 1.37 (#139397).
func init() {
	Register(Mode{Name: "ipvs", Label: "IPVS", Since: 8, SincePR: "#46580", SinceStage: "alpha",
		Needs:   []kernel.Feature{kernel.IPVS, kernel.Dummy, kernel.Ipset},
		Warning: ipvsWarning,
		Gate:    "KubeProxyIPVS",
		Views:   []View{{Name: "ipvs", Command: []string{"ipvsadm", "-Ln"}}, {Name: "ipsets", Command: []string{"ipset", "save"}}},
		Render: func(v Version, n Node, o Options) (*NodeState, error) {
			res, err := IPVSWithOptions(v, n, o)
			if err != nil {
				return nil, err
			}
			st := &NodeState{Rules: res.Rules, Sysctls: res.Sysctls, NFAcct: res.NFAcctCounters,
				IPSets: res.PlanIPSets(), IPVS: res.PlanIPVS()}
			// kube-ipvs0: a dummy created and never set up, holding every
			// address IPVS serves as /32 so that the node accepts it.
			st.Links = []plan.Link{{Name: IPVSDummyDevice, Kind: plan.KindDummy, Down: true, MAC: plan.MAC("node", n.Name, IPVSDummyDevice)}}
			for _, a := range res.Addresses {
				st.Addrs = append(st.Addrs, plan.Addr{Dev: IPVSDummyDevice, CIDR: a + "/32"})
			}
			return st, nil
		}})
}
