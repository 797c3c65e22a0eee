package kubeproxy

import (
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/netlab/netlab/lab/plan"
)

// Result is what kube-proxy in iptables mode sets up on one node.
type Result struct {
	// Rules is the iptables state after kube-proxy's first full sync on a
	// fresh node: kube-proxy's user chains (declared even when empty), the
	// rules it restores, and the jump rules it adds to built-in chains with
	// EnsureRule, in their final order. For 1.5-1.26 it also holds the
	// kubelet-owned KUBE-MARK-DROP and KUBE-FIREWALL that kube-proxy's rules
	// rely on, as the kubelet set them up before kube-proxy started (see
	// kubelet.go). Tables are in restore order (filter, nat; mangle only
	// holds the canary chain).
	Rules *plan.Ruleset
	// Sysctls are the ones the iptables proxier sets in NewProxier:
	// net.ipv4.conf.all.route_localnet=1 for NodePorts on 127.0.0.1
	// (always before 1.24; from 1.24 only if --nodeport-addresses covers
	// 127.0.0.0/8, #107684; from 1.26 also only with
	// --iptables-localhost-nodeports, #108250), and before 1.2 also
	// net.bridge.bridge-nf-call-iptables=1 (kubernetes@003b2318 modprobes
	// br-netfilter and sets it; 1.2+ only warns when it is unset). Not
	// included:
	// net.ipv4.ip_forward (the IPVS proxier sets it, the iptables proxier
	// never does), and the conntrack settings of the kube-proxy server
	// (cmd/kube-proxy/app/conntrack.go: nf_conntrack_max and the hashsize
	// are host-wide, the TCP established/close_wait timeouts only matter for
	// idle connections and need nf_conntrack loaded before the namespace's
	// sysctls are written).
	Sysctls []plan.Sysctl
	// NFAcctCounters are the nfacct objects kube-proxy 1.30+ creates at
	// start (when the kernel has nfnetlink_acct) and that "-m nfacct" rules
	// in Rules refer to: they must exist in the namespace before Rules is
	// restored, or iptables-restore fails. Empty when Node.NFAcct is false.
	NFAcctCounters []string
}

const (
	chainServices         = "KUBE-SERVICES"
	chainExternalServices = "KUBE-EXTERNAL-SERVICES"
	chainNodePorts        = "KUBE-NODEPORTS"
	chainPostrouting      = "KUBE-POSTROUTING"
	chainMarkMasq         = "KUBE-MARK-MASQ"
	chainMarkDrop         = "KUBE-MARK-DROP"
	chainForward          = "KUBE-FORWARD"
	chainProxyFirewall    = "KUBE-PROXY-FIREWALL"
	chainFirewall         = "KUBE-FIREWALL"
	chainCanary           = "KUBE-PROXY-CANARY"

	// legacyMark is the hard-coded masquerade mark ("MASQ" in ASCII) of
	// the pre-1.2 proxier (kubernetes@003b2318).
	legacyMark = "0x4d415351"

	largeClusterEndpoints = 1000 // largeClusterEndpointsThreshold

	nfacctInvalid   = "ct_state_invalid_dropped_pkts"
	nfacctLocalhost = "localhost_nps_accepted_pkts"

	lastRuleComment = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
)

// IPTables renders kube-proxy's iptables mode of version v on node n: the
// iptables state and sysctls after its first full sync (syncProxyRules) on
// a fresh node.
//
// Three layouts, each with the version switches of versions.go:
//
//   - 1.1-1.4 (syncLegacy): KUBE-SERVICES / KUBE-NODEPORTS / KUBE-SVC- /
//     KUBE-SEP-; before 1.2 the mark 0x4d415351 set inline and matched in
//     POSTROUTING, from 1.2 KUBE-MARK-MASQ + KUBE-POSTROUTING with mark bit
//     14. Sources: kubernetes@003b2318 (late 2015) and a 1.2-era
//     proxier.go (cloudlinux/kuberdock-kubernetes@37913d1f).
//   - 1.5-1.23 (syncXLB): ESIPP with KUBE-XLB- and KUBE-FW-, dropping via the
//     kubelet's KUBE-MARK-DROP. Sources: v1.22.17 (oracle), a 1.17-era and
//     a 1.9-era proxier.go (MrHohn/kubernetes@1b494c77), the PRs that
//     versions.go cites.
//   - 1.24-1.37 (syncEXT): KUBE-EXT- / KUBE-SVL-; from 1.25 dropping in the
//     filter table (KUBE-PROXY-FIREWALL). Sources: v1.24.17, v1.28.15,
//     v1.31.14, v1.33.13, v1.35.4 and v1.37.2 (oracle), the PRs versions.go
//     cites.
//
// Service ports are processed in ServicePortName order (kube-proxy walks a
// Go map; only the order of rules of different services inside the
// dispatch chains is affected, which the oracle canonicalises the same
// way). Endpoints are in the EndpointSlice cache's "ip:port" order.
func IPTables(v Version, n Node) (*Result, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	m, err := buildModel(v, n)
	if err != nil {
		return nil, err
	}
	st := newIPTState()
	return render(v, m, st), nil
}

func render(v Version, m *model, st *iptState) *Result {
	// kube-proxy restores *filter then *nat.
	st.table("filter")
	st.table("nat")
	kubeletChains(v, st)
	if v.hasCanary() {
		// iptables.Monitor creates the canaries when the proxier starts.
		for _, t := range []string{"mangle", "nat", "filter"} {
			st.ensureChain(t, chainCanary)
		}
	}
	r := newRenderer(v, m, st)
	switch {
	case !v.hasESIPP():
		r.syncLegacy()
	case !v.hasKubeEXT():
		r.syncXLB()
	default:
		r.syncEXT()
	}
	res := &Result{Rules: st.rs}
	if r.routeLocalnet() {
		res.Sysctls = append(res.Sysctls, plan.Sysctl{Key: "net.ipv4.conf.all.route_localnet", Value: "1"})
	}
	if v.setsBridgeNFCallIPTables() {
		res.Sysctls = append(res.Sysctls, plan.Sysctl{Key: "net.bridge.bridge-nf-call-iptables", Value: "1"})
	}
	if m.nfacct {
		if v.nfacctInvalidCounter() {
			res.NFAcctCounters = append(res.NFAcctCounters, nfacctInvalid)
		}
		if v.nfacctLocalhostNodePorts() {
			res.NFAcctCounters = append(res.NFAcctCounters, nfacctLocalhost)
		}
	}
	return res
}

// renderer holds one sync's settings.
type renderer struct {
	v  Version
	m  *model
	st *iptState

	mark     string // "0x00004000"; pre-1.19 the mark/mask pair
	markMask string // "0x00004000/0x00004000" as matched by -m mark
	masqJump string // "-j KUBE-MARK-MASQ", or the inline MARK before 1.2
	large    bool   // large-cluster mode: per-endpoint comments dropped
	probFmt  string

	localhostNodePorts bool // --iptables-localhost-nodeports and nodePortAddresses allow it
	detector           bool // a local-traffic detector (cluster CIDR) exists
	nodePortsOK        bool // NodePort rules are written (nodePortTargets' ok)
	gateTerm           bool // ProxyTerminatingEndpoints, as the layout reads it

	f, n   *restoreTable
	filter filterChains
	nat    natChains
}

// filterChains are the filter-table chains every service port of a sync
// may write into (upstream: the proxier's filterChains/filterRules
// buffers). A nil chain is one the version does not have.
type filterChains struct {
	services         *chainBuf // KUBE-SERVICES
	externalServices *chainBuf // KUBE-EXTERNAL-SERVICES (1.10+)
	forward          *chainBuf // KUBE-FORWARD (1.9+)
	nodePorts        *chainBuf // KUBE-NODEPORTS: health check node ports (1.21+)
	proxyFirewall    *chainBuf // KUBE-PROXY-FIREWALL (1.25+)
}

// natChains are the nat-table dispatch chains of a sync.
type natChains struct {
	services  *chainBuf // KUBE-SERVICES
	nodePorts *chainBuf // KUBE-NODEPORTS
}

func newRenderer(v Version, m *model, st *iptState) *renderer {
	r := &renderer{v: v, m: m, st: st, probFmt: v.probabilityFormat()}
	if v.hasMarkMasqChain() {
		r.mark, r.markMask = masqMark(v, m.markBit)
		r.masqJump = "-j " + chainMarkMasq
	} else {
		r.mark, r.markMask = legacyMark, legacyMark
		r.masqJump = "-j MARK --set-xmark " + legacyMark + "/0xffffffff"
	}
	r.large = v.dropsCommentsInLargeClusters() && m.totalEps > largeClusterEndpoints
	r.detector = m.clusterCIDR != "" && v.masqueradesByClusterCIDR()
	r.localhostNodePorts = true
	if v.hasLocalhostNodePortsFlag() && (!m.localhostNP || !containsIPv4Loopback(m.npAddrs)) {
		r.localhostNodePorts = false
	}
	size := 16 + 6*len(m.ports)
	r.f = newRestoreTable("filter", 8)
	r.n = newRestoreTable("nat", size)
	return r
}

// routeLocalnet reports whether the proxier sets route_localnet=1.
func (r *renderer) routeLocalnet() bool {
	switch {
	case r.v.hasLocalhostNodePortsFlag():
		return r.localhostNodePorts
	case r.v.routeLocalnetConditional():
		return containsIPv4Loopback(r.m.npAddrs)
	default:
		return true
	}
}

// ---- text helpers -------------------------------------------------------

// cmt is "-m comment --comment X", quoted when X has spaces, exactly as
// kube-proxy writes its restore input.
func cmt(s string) string { return "-m comment --comment " + quote(s) }

// epComment is appendServiceCommentLocked: the comment is dropped in
// large-cluster mode. It returns "" or "-m comment --comment X ".
func (r *renderer) epComment(s string) string {
	if r.large {
		return ""
	}
	return cmt(s) + " "
}

// ip renders an address as kube-proxy of this version writes it for -d/-s:
// "10.96.0.1/32" (utilproxy.ToCIDR) before 1.24, bare from 1.24.
func (r *renderer) ip(ip net.IP) string {
	if r.v.writesBareIPs() {
		return ip.String()
	}
	return ip.String() + "/32"
}

func (r *renderer) probability(n int) string {
	return fmt.Sprintf(r.probFmt, 1.0/float64(n))
}

func proto(p *svcPort) string { return "-m " + p.proto + " -p " + p.proto }

func dport(n int) string { return " --dport " + strconv.Itoa(n) }

// dest is the match of one service address: "-m tcp -p tcp -d IP --dport PORT".
func (r *renderer) dest(p *svcPort, ip net.IP) string {
	return proto(p) + " -d " + r.ip(ip) + dport(p.port)
}

// verdict is a filter-table answer to traffic for a service without
// (local) endpoints: its comment and target (syncProxyRules'
// internalTrafficFilterTarget/-Comment and externalTrafficFilter... from
// 1.25; always "has no endpoints" REJECT before).
type verdict struct{ comment, target string }

func (v verdict) rule(match string) string { return v.comment + " " + match + " -j " + v.target }

func noEndpoints(p *svcPort) verdict { return verdict{cmt(p.name + " has no endpoints"), "REJECT"} }

// ---- EnsureChain/EnsureRule hooks ---------------------------------------

type jump struct {
	table, dst, src, comment string
	extra                    []string
}

var ctNew = []string{"-m", "conntrack", "--ctstate", "NEW"}

// jumps is the version's iptablesJumpChains (+ iptablesKubeletJumpChains),
// in call order. Each is EnsureChain(dst) + EnsureRule(Prepend, src, ...).
func (r *renderer) jumps() []jump {
	v := r.v
	var j []jump
	add := func(table, dst, src, comment string, extra []string) {
		j = append(j, jump{table, dst, src, comment, extra})
	}
	if !v.hasExternalServicesChain() {
		// Before 1.10 the hooks were written out by hand in this order.
		if v.rejectsFromInput() {
			add("filter", chainServices, "INPUT", "kubernetes service portals", nil)
		}
		add("filter", chainServices, "OUTPUT", "kubernetes service portals", nil)
		add("nat", chainServices, "OUTPUT", "kubernetes service portals", nil)
		add("nat", chainServices, "PREROUTING", "kubernetes service portals", nil)
		if v.hasMarkMasqChain() {
			add("nat", chainPostrouting, "POSTROUTING", "kubernetes postrouting rules", nil)
		}
		if v.hasKubeForward() {
			add("filter", chainForward, "FORWARD", "kubernetes forward rules", nil)
		}
		return j
	}
	add("filter", chainExternalServices, "INPUT", "kubernetes externally-visible service portals", ctNew)
	if v.externalServicesFromForward() {
		add("filter", chainExternalServices, "FORWARD", "kubernetes externally-visible service portals", ctNew)
	}
	if v.hasHealthCheckNodePortRule() {
		add("filter", chainNodePorts, "INPUT", "kubernetes health check service ports", nil)
	}
	if v.forwardsToServices() {
		add("filter", chainServices, "FORWARD", "kubernetes service portals", ctNew)
	}
	add("filter", chainServices, "OUTPUT", "kubernetes service portals", ctNew)
	if v.forwardsToServices() && !v.externalServicesFromForward() {
		add("filter", chainServices, "INPUT", "kubernetes service portals", ctNew)
	}
	add("filter", chainForward, "FORWARD", "kubernetes forwarding rules", nil)
	if v.hasProxyFirewall() {
		for _, src := range []string{"INPUT", "OUTPUT", "FORWARD"} {
			add("filter", chainProxyFirewall, src, "kubernetes load balancer firewall", ctNew)
		}
	}
	add("nat", chainServices, "OUTPUT", "kubernetes service portals", nil)
	add("nat", chainServices, "PREROUTING", "kubernetes service portals", nil)
	add("nat", chainPostrouting, "POSTROUTING", "kubernetes postrouting rules", nil)
	if v.ownsKubeFirewall() {
		// Copies of the kubelet's jumps, without a comment.
		add("filter", chainFirewall, "INPUT", "", nil)
		add("filter", chainFirewall, "OUTPUT", "", nil)
	}
	return j
}

func (r *renderer) ensureJumps() {
	for _, j := range r.jumps() {
		r.st.ensureChain(j.table, j.dst)
		args := append([]string{}, j.extra...)
		if j.comment != "" {
			args = append(args, "-m", "comment", "--comment", j.comment)
		}
		args = append(args, "-j", j.dst)
		r.st.ensureRule(true, j.table, j.src, args...)
	}
	if r.v.ensuresMarkDropChain() {
		r.st.ensureChain("nat", chainMarkDrop)
	}
}

// commit restores *filter then *nat.
func (r *renderer) commit() {
	r.st.restore(r.f)
	r.st.restore(r.n)
}

// declareSyncChains declares the chains every sync of 1.5+ restores, in
// order: filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES (1.10+),
// KUBE-FORWARD (1.9+), KUBE-NODEPORTS (1.21+), KUBE-PROXY-FIREWALL (1.25+),
// nat KUBE-SERVICES and KUBE-NODEPORTS, then KUBE-POSTROUTING and
// KUBE-MARK-MASQ with their rules.
func (r *renderer) declareSyncChains() {
	v := r.v
	r.filter.services = r.f.declare(chainServices)
	if v.hasExternalServicesChain() {
		r.filter.externalServices = r.f.declare(chainExternalServices)
	}
	if v.hasKubeForward() {
		r.filter.forward = r.f.declare(chainForward)
	}
	if v.hasHealthCheckNodePortRule() {
		r.filter.nodePorts = r.f.declare(chainNodePorts)
	}
	if v.hasProxyFirewall() {
		r.filter.proxyFirewall = r.f.declare(chainProxyFirewall)
	}
	r.nat.services = r.n.declare(chainServices)
	r.nat.nodePorts = r.n.declare(chainNodePorts)
	r.postrouting()
}

// postrouting writes KUBE-POSTROUTING and KUBE-MARK-MASQ (1.2+).
func (r *renderer) postrouting() {
	masqRules(r.v, r.n.declare(chainPostrouting), r.n.declare(chainMarkMasq), r.mark, r.markMask)
}

// masqMark is the masquerade mark of 1.2+ as written after
// "--set-xmark"/"--or-mark"/"--xor-mark" (mark) and after "-m mark --mark"
// (markMask): "0x00004000/0x00004000" for both before 1.19, then
// "0x00004000" and "0x00004000/0x00004000".
func masqMark(v Version, bit int) (mark, markMask string) {
	val := 1 << uint(bit)
	if !v.hasXorMark() {
		mark = fmt.Sprintf("%#08x/%#08x", val, val)
		return mark, mark
	}
	mark = fmt.Sprintf("%#08x", val)
	return mark, mark + "/" + mark
}

// masqRules writes the rules of KUBE-POSTROUTING and KUBE-MARK-MASQ, the
// same in the iptables and IPVS proxiers (1.2+): from 1.19 the mark is
// cleared with --xor-mark before the MASQUERADE, --random-fully from 1.16.
func masqRules(v Version, post, masq *chainBuf, mark, markMask string) {
	random := ""
	if v.hasRandomFully() {
		random = " --random-fully"
	}
	if v.hasXorMark() {
		post.add("-m mark ! --mark " + markMask + " -j RETURN")
		post.add("-j MARK --xor-mark " + mark)
		post.add(cmt("kubernetes service traffic requiring SNAT") + " -j MASQUERADE" + random)
		masq.add("-j MARK --or-mark " + mark)
		return
	}
	post.add(cmt("kubernetes service traffic requiring SNAT") + " -m mark --mark " + markMask + " -j MASQUERADE" + random)
	masq.add("-j MARK --set-xmark " + mark)
}

// ---- node addresses for NodePorts ----------------------------------------

// nodePortTargets resolves --nodeport-addresses like the version does:
// all=true for "every local address" (the addrtype LOCAL rule), else the
// matching addresses of the node's interfaces (GetNodeIPs: every interface,
// lo included; Node.Interfaces, or lo's 127.0.0.1 and the node IPs), sorted.
// ok=false means NodePort rules are not written at all (1.10-1.26, when
// nothing matched).
func nodePortTargets(v Version, m *model) (all bool, ips []string, ok bool) {
	if !v.hasExternalServicesChain() {
		return true, nil, true // no --nodeport-addresses before 1.10
	}
	var cidrs []*net.IPNet
	for _, c := range m.npAddrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil || n.IP.To4() == nil {
			continue // only this family's CIDRs
		}
		if isZeroNodePortCIDR(v, c, n) {
			return true, nil, true
		}
		cidrs = append(cidrs, n)
	}
	if len(cidrs) == 0 {
		if len(m.npAddrs) != 0 && !v.nodePortRulesIgnoreAddresses() {
			return false, nil, false
		}
		return true, nil, true
	}
	seen := map[string]bool{}
	for _, n := range cidrs {
		for _, a := range m.localAddrs {
			if n.Contains(a) && !seen[a.String()] {
				seen[a.String()] = true
				ips = append(ips, a.String())
			}
		}
	}
	sort.Strings(ips)
	return false, ips, len(ips) > 0 || v.nodePortRulesIgnoreAddresses()
}

// isZeroNodePortCIDR is proxyutil.IsZeroCIDR on one --nodeport-addresses
// entry: prefix length 0 from 1.34, the literal "0.0.0.0/0" before
// (zeroNodePortCIDRByPrefix).
func isZeroNodePortCIDR(v Version, s string, n *net.IPNet) bool {
	if ones, _ := n.Mask.Size(); ones != 0 {
		return false
	}
	return v.zeroNodePortCIDRByPrefix() || s == "0.0.0.0/0"
}

// containsIPv4Loopback is kube-proxy's check on --nodeport-addresses: empty
// (all addresses), a zero CIDR, or a CIDR covering 127.0.0.0.
func containsIPv4Loopback(cidrs []string) bool {
	if len(cidrs) == 0 {
		return true
	}
	lo := net.IPv4(127, 0, 0, 0)
	for _, c := range cidrs {
		ip, n, err := net.ParseCIDR(c)
		if err != nil || n.IP.To4() == nil {
			continue
		}
		if ones, _ := n.Mask.Size(); ones == 0 || ip.IsLoopback() || n.Contains(lo) {
			return true
		}
	}
	return false
}

// nodePortDispatch writes the last rule(s) of nat KUBE-SERVICES.
func (r *renderer) nodePortDispatch(nsvc *chainBuf) {
	all, ips, _ := nodePortTargets(r.v, r.m)
	if all {
		dst := " -m addrtype --dst-type LOCAL"
		if r.v.hasLocalhostNodePortsFlag() && !r.localhostNodePorts {
			dst += " ! -d 127.0.0.0/8"
		}
		nsvc.add(cmt(lastRuleComment) + dst + " -j " + chainNodePorts)
		return
	}
	for _, ip := range ips {
		if r.v.hasLocalhostNodePortsFlag() && !r.localhostNodePorts && net.ParseIP(ip).IsLoopback() {
			continue // "--nodeport-addresses includes localhost but --iptables-localhost-nodeports=false"
		}
		nsvc.add(cmt(lastRuleComment) + " -d " + ip + " -j " + chainNodePorts)
	}
}

// ---- rules every layout writes per service port ---------------------------

// writeSEP writes an endpoint's KUBE-SEP chain: the hairpin masquerade,
// then the DNAT (recording the client for ClientIP affinity). Every layout
// writes it the same way (syncProxyRules' "Generate the per-endpoint
// chains"; in 1.1 with the inline MARK of r.masqJump).
func (r *renderer) writeSEP(p *svcPort, e *endpoint) {
	sep := r.n.declare(e.chain)
	cm := r.epComment(p.name)
	sep.add(cm + "-s " + r.ip(e.ip) + " " + r.masqJump)
	recent := ""
	if p.affinity {
		recent = "-m recent --name " + e.chain + " --set "
	}
	sep.add(cm + recent + proto(p) + " -j DNAT --to-destination " + e.hostPort)
}

// serviceToEndpoints is writeServiceToEndpointRules (1.24+; syncProxyRules
// wrote the same rules inline before): ClientIP affinity's "recent
// --rcheck" jumps, then one jump per endpoint, each but the last taken with
// probability 1/(endpoints left). comment gives each rule's leading
// "-m comment --comment X " ("" in large-cluster mode).
func (r *renderer) serviceToEndpoints(p *svcPort, chain *chainBuf, eps []*endpoint, comment func(*endpoint) string) {
	if p.affinity {
		for _, e := range eps {
			chain.add(comment(e) + "-m recent --name " + e.chain + " --rcheck --seconds " +
				strconv.Itoa(p.stickySecs) + " --reap -j " + e.chain)
		}
	}
	for i, e := range eps {
		stat := ""
		if i < len(eps)-1 {
			stat = "-m statistic --mode random --probability " + r.probability(len(eps)-i) + " "
		}
		chain.add(comment(e) + stat + "-j " + e.chain)
	}
}

// portComment is the comment of a service chain's rules before 1.24: the
// service port's name.
func (r *renderer) portComment(p *svcPort) func(*endpoint) string {
	c := r.epComment(p.name)
	return func(*endpoint) string { return c }
}

// endpointComment is the comment of writeServiceToEndpointRules (1.24+):
// "ns/name:port -> ip:port".
func (r *renderer) endpointComment(p *svcPort) func(*endpoint) string {
	return func(e *endpoint) string { return r.epComment(p.name + " -> " + e.hostPort) }
}

// internalMasquerade writes the ClusterIP masquerade rule into chain
// (1.5+): every source with --masquerade-all, else the off-cluster ones
// the local-traffic detector tells apart.
func (r *renderer) internalMasquerade(chain *chainBuf, args string) {
	if r.m.masqAll {
		chain.add(args + " -j " + chainMarkMasq)
	} else if r.detector {
		chain.add(args + " ! -s " + r.m.clusterCIDR + " -j " + chainMarkMasq)
	}
}

// externalIPCapture is "Capture externalIPs" before 1.22 (and in 1.1-1.4):
// the masquerade (not in 1.2-1.4), then the jumps of traffic from off the
// node and of traffic to a local address.
func (r *renderer) externalIPCapture(args, svc string) {
	nsvc := r.nat.services
	if r.v.masqueradesExternalIPs() {
		nsvc.add(args + " " + r.masqJump)
	}
	nsvc.add(args + " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j " + svc)
	nsvc.add(args + " -m addrtype --dst-type LOCAL -j " + svc)
}

// sourceRangeRules writes a KUBE-FW- chain's loadBalancerSourceRanges
// accepts (1.5+): a jump to target per range and, when a range covers the
// node IP, one per LB IP with that IP as source (syncProxyRules'
// allowFromNode: a request from the node to its own LB's VIP is routed
// back locally with the VIP as source).
func (r *renderer) sourceRangeRules(fw *chainBuf, p *svcPort, comment, target string, lbIPs []net.IP) {
	for _, src := range p.srcRanges {
		fw.add(comment + " -s " + src + " -j " + target)
	}
	if !p.srcCoversNode {
		return
	}
	for _, l := range lbIPs {
		fw.add(comment + " -s " + r.ip(l) + " -j " + target)
	}
}

// healthCheckNodePort is "Capture healthCheckNodePorts": the ACCEPT in
// filter KUBE-NODEPORTS (1.21+, when that chain exists).
func (r *renderer) healthCheckNodePort(p *svcPort) {
	if p.hcNodePort != 0 && r.filter.nodePorts != nil {
		r.filter.nodePorts.add(cmt(p.name+" health check node port") + " -m tcp -p tcp" + dport(p.hcNodePort) + " -j ACCEPT")
	}
}

// ---- pre-ESIPP layouts: 1.1 (kubernetes@003b2318) and 1.2-1.4 ----------

// syncLegacy is syncProxyRules of 1.1-1.4: one KUBE-SVC- chain per service
// port, every external address masqueraded.
func (r *renderer) syncLegacy() {
	r.legacyChains()
	for _, p := range r.m.ports {
		r.legacyServicePort(p)
	}
	r.nat.services.add(cmt(lastRuleComment) + " -m addrtype --dst-type LOCAL -j " + chainNodePorts)
	r.commit()
}

// legacyChains is the start of syncProxyRules of 1.1-1.4: the hand-written
// EnsureChain/EnsureRule hooks, then the dispatch chains.
func (r *renderer) legacyChains() {
	v := r.v
	r.st.ensureChain("filter", chainServices)
	r.st.ensureChain("nat", chainServices)
	for _, j := range r.jumps() {
		r.st.ensureChain(j.table, j.dst)
		r.st.ensureRule(true, j.table, j.src, "-m", "comment", "--comment", j.comment, "-j", j.dst)
	}
	if !v.hasMarkMasqChain() {
		// The pre-1.2 proxier appends the masquerade rule straight to POSTROUTING.
		r.st.ensureRule(false, "nat", "POSTROUTING", "-m", "comment", "--comment",
			"kubernetes service traffic requiring SNAT", "-m", "mark", "--mark", legacyMark, "-j", "MASQUERADE")
	}
	r.filter.services = r.f.declare(chainServices)
	r.nat.services = r.n.declare(chainServices)
	r.nat.nodePorts = r.n.declare(chainNodePorts)
	if v.hasMarkMasqChain() {
		r.postrouting()
	}
}

// legacyServicePort is one service port of 1.1-1.4: the captures of its
// addresses, then KUBE-SVC- and its KUBE-SEP- chains, or the REJECT when it
// has no endpoints.
func (r *renderer) legacyServicePort(p *svcPort) {
	svc := prefixSVC + p.hash
	svcBuf := r.n.declare(svc)
	r.legacyCapture(p, svc)
	if len(p.eps) == 0 {
		r.filter.services.add(noEndpoints(p).rule(r.dest(p, p.clusterIP)))
		return
	}
	// 1.1-1.4 declare every KUBE-SEP- chain before writing the service
	// chain (writeSEP declares in the same order).
	r.serviceToEndpoints(p, svcBuf, p.eps, r.portComment(p))
	for _, e := range p.eps {
		r.writeSEP(p, e)
	}
}

// legacyCapture writes syncProxyRules' "Capture the clusterIP", "Capture
// externalIPs", "Capture load-balancer ingress" and "Capture nodeports" of
// 1.1-1.4: each address masqueraded (the clusterIP only from off-cluster
// or with --masquerade-all), then sent to KUBE-SVC-.
func (r *renderer) legacyCapture(p *svcPort, svc string) {
	m, nsvc := r.m, r.nat.services
	args := cmt(p.name+" cluster IP") + " " + r.dest(p, p.clusterIP)
	if m.masqAll {
		nsvc.add(args + " " + r.masqJump)
	}
	if r.detector { // not "else": the 1.2 proxier writes both
		nsvc.add(args + " ! -s " + m.clusterCIDR + " " + r.masqJump)
	}
	nsvc.add(args + " -j " + svc)
	for _, e := range p.externalIP {
		r.externalIPCapture(cmt(p.name+" external IP")+" "+r.dest(p, e), svc)
	}
	for _, l := range p.lbIP {
		a := cmt(p.name+" loadbalancer IP") + " " + r.dest(p, l)
		nsvc.add(a + " " + r.masqJump)
		nsvc.add(a + " -j " + svc)
	}
	if p.nodePort != 0 {
		a := cmt(p.name) + " " + proto(p) + dport(p.nodePort)
		r.nat.nodePorts.add(a + " " + r.masqJump)
		r.nat.nodePorts.add(a + " -j " + svc)
	}
}

// forwardConntrackRules are KUBE-FORWARD's RELATED,ESTABLISHED accepts,
// shared by the iptables and IPVS proxiers: scoped to the cluster CIDR
// before 1.18 (none without one), unscoped from 1.18 (#87748).
func forwardConntrackRules(v Version, clusterCIDR string) []string {
	const ct = " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	src, dst := cmt("kubernetes forwarding conntrack pod source rule"), cmt("kubernetes forwarding conntrack pod destination rule")
	switch {
	case v.forwardConntrackWithoutCIDR():
		return []string{src + ct, dst + ct}
	case clusterCIDR != "":
		return []string{"-s " + clusterCIDR + " " + src + ct, dst + " -d " + clusterCIDR + ct}
	}
	return nil
}

// The iptables mode: kube-proxy's default on Linux, and the only mode of
// 1.1 (opt-in then; the default from 1.2).
func init() {
	Register(Mode{Name: "iptables", Since: MinVersion.Minor, Default: true,
		Render: func(v Version, n Node, _ Options) (*NodeState, error) {
			res, err := IPTables(v, n)
			if err != nil {
				return nil, err
			}
			return &NodeState{Rules: res.Rules, Sysctls: res.Sysctls, NFAcct: res.NFAcctCounters}, nil
		}})
}
