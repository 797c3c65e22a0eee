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
//   - 1.24-1.31 (syncEXT): KUBE-EXT- / KUBE-SVL-; from 1.25 dropping in the
//     filter table (KUBE-PROXY-FIREWALL). Sources: v1.24.17, v1.28.15 and
//     v1.31.14 (oracle), the PRs versions.go cites.
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

	f, n *restoreTable
}

func newRenderer(v Version, m *model, st *iptState) *renderer {
	r := &renderer{v: v, m: m, st: st, probFmt: v.probabilityFormat()}
	val := 1 << uint(m.markBit)
	switch {
	case !v.hasMarkMasqChain():
		r.mark = legacyMark
		r.markMask = legacyMark
		r.masqJump = "-j MARK --set-xmark " + legacyMark + "/0xffffffff"
	case !v.hasXorMark():
		r.mark = fmt.Sprintf("%#08x/%#08x", val, val)
		r.markMask = r.mark
		r.masqJump = "-j " + chainMarkMasq
	default:
		r.mark = fmt.Sprintf("%#08x", val)
		r.markMask = r.mark + "/" + r.mark
		r.masqJump = "-j " + chainMarkMasq
	}
	r.large = v.dropsCommentsInLargeClusters() && m.totalEps > largeClusterEndpoints
	r.detector = m.clusterCIDR != "" && v.masqueradesByClusterCIDR()
	r.localhostNodePorts = true
	if v.hasLocalhostNodePortsFlag() && !containsIPv4Loopback(m.npAddrs) {
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

// postrouting writes KUBE-POSTROUTING and KUBE-MARK-MASQ (1.2+).
func (r *renderer) postrouting() {
	post := r.n.declare(chainPostrouting)
	masq := r.n.declare(chainMarkMasq)
	random := ""
	if r.v.hasRandomFully() {
		random = " --random-fully"
	}
	if r.v.hasXorMark() {
		post.add("-m mark ! --mark " + r.markMask + " -j RETURN")
		post.add("-j MARK --xor-mark " + r.mark)
		post.add(cmt("kubernetes service traffic requiring SNAT") + " -j MASQUERADE" + random)
		masq.add("-j MARK --or-mark " + r.mark)
		return
	}
	post.add(cmt("kubernetes service traffic requiring SNAT") + " -m mark --mark " + r.markMask + " -j MASQUERADE" + random)
	masq.add("-j MARK --set-xmark " + r.mark)
}

// ---- node addresses for NodePorts ----------------------------------------

// nodePortTargets resolves --nodeport-addresses like the version does:
// all=true for "every local address" (the addrtype LOCAL rule), else the
// matching node addresses (lo's 127.0.0.1 and the node IPs), sorted.
// ok=false means NodePort rules are not written at all (1.10-1.26, when
// nothing matched).
func (r *renderer) nodePortTargets() (all bool, ips []string, ok bool) {
	if !r.v.hasExternalServicesChain() {
		return true, nil, true // no --nodeport-addresses before 1.10
	}
	var cidrs []*net.IPNet
	for _, c := range r.m.npAddrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil || n.IP.To4() == nil {
			continue // only this family's CIDRs
		}
		if ones, _ := n.Mask.Size(); ones == 0 {
			return true, nil, true
		}
		cidrs = append(cidrs, n)
	}
	if len(cidrs) == 0 {
		if len(r.m.npAddrs) != 0 && !r.v.nodePortRulesIgnoreAddresses() {
			return false, nil, false
		}
		return true, nil, true
	}
	seen := map[string]bool{}
	for _, n := range cidrs {
		for _, a := range r.m.localAddrs {
			if n.Contains(a) && !seen[a.String()] {
				seen[a.String()] = true
				ips = append(ips, a.String())
			}
		}
	}
	sort.Strings(ips)
	return false, ips, len(ips) > 0 || r.v.nodePortRulesIgnoreAddresses()
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
	all, ips, _ := r.nodePortTargets()
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

// ---- pre-ESIPP layouts: 1.1 (kubernetes@003b2318) and 1.2-1.4 ----------

func (r *renderer) syncLegacy() {
	v, m := r.v, r.m
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
	fsvc := r.f.declare(chainServices)
	nsvc := r.n.declare(chainServices)
	nnp := r.n.declare(chainNodePorts)
	if v.hasMarkMasqChain() {
		r.postrouting()
	}
	for _, p := range m.ports {
		svc := prefixSVC + p.hash
		svcBuf := r.n.declare(svc)
		args := cmt(p.name+" cluster IP") + " " + proto(p) + " -d " + r.ip(p.clusterIP) + " --dport " + strconv.Itoa(p.port)
		if m.masqAll {
			nsvc.add(args + " " + r.masqJump)
		}
		if r.detector { // not "else": the 1.2 proxier writes both
			nsvc.add(args + " ! -s " + m.clusterCIDR + " " + r.masqJump)
		}
		nsvc.add(args + " -j " + svc)
		for _, e := range p.externalIP {
			a := cmt(p.name+" external IP") + " " + proto(p) + " -d " + r.ip(e) + " --dport " + strconv.Itoa(p.port)
			if v.masqueradesExternalIPs() {
				nsvc.add(a + " " + r.masqJump)
			}
			nsvc.add(a + " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j " + svc)
			nsvc.add(a + " -m addrtype --dst-type LOCAL -j " + svc)
		}
		for _, l := range p.lbIP {
			a := cmt(p.name+" loadbalancer IP") + " " + proto(p) + " -d " + r.ip(l) + " --dport " + strconv.Itoa(p.port)
			nsvc.add(a + " " + r.masqJump)
			nsvc.add(a + " -j " + svc)
		}
		if p.nodePort != 0 {
			a := cmt(p.name) + " " + proto(p) + " --dport " + strconv.Itoa(p.nodePort)
			nnp.add(a + " " + r.masqJump)
			nnp.add(a + " -j " + svc)
		}
		if len(p.eps) == 0 {
			fsvc.add(cmt(p.name+" has no endpoints") + " " + proto(p) + " -d " + r.ip(p.clusterIP) +
				" --dport " + strconv.Itoa(p.port) + " -j REJECT")
			continue
		}
		for _, e := range p.eps {
			r.n.declare(e.chain)
		}
		if p.affinity {
			for _, e := range p.eps {
				svcBuf.add(cmt(p.name) + " -m recent --name " + e.chain + " --rcheck --seconds " +
					strconv.Itoa(p.stickySecs) + " --reap -j " + e.chain)
			}
		}
		for i, e := range p.eps {
			stat := ""
			if i < len(p.eps)-1 {
				stat = " -m statistic --mode random --probability " + r.probability(len(p.eps)-i)
			}
			svcBuf.add(cmt(p.name) + stat + " -j " + e.chain)
			sep := r.n.chain(e.chain)
			sep.add(cmt(p.name) + " -s " + e.ip.String() + "/32 " + r.masqJump)
			recent := ""
			if p.affinity {
				recent = " -m recent --name " + e.chain + " --set"
			}
			sep.add(cmt(p.name) + recent + " " + proto(p) + " -j DNAT --to-destination " + e.hostPort)
		}
	}
	nsvc.add(cmt(lastRuleComment) + " -m addrtype --dst-type LOCAL -j " + chainNodePorts)
	r.commit()
}

// ---- KUBE-XLB era: 1.5-1.23 ----------------------------------------------

func (r *renderer) syncXLB() {
	v, m := r.v, r.m
	if !v.hasExternalServicesChain() {
		r.st.ensureChain("filter", chainServices)
		r.st.ensureChain("nat", chainServices)
	}
	r.ensureJumps()

	fsvc := r.f.declare(chainServices)
	var fext, ffwd, fnp *chainBuf
	if v.hasExternalServicesChain() {
		fext = r.f.declare(chainExternalServices)
	}
	if v.hasKubeForward() {
		ffwd = r.f.declare(chainForward)
	}
	if v.hasHealthCheckNodePortRule() {
		fnp = r.f.declare(chainNodePorts)
	}
	nsvc := r.n.declare(chainServices)
	nnp := r.n.declare(chainNodePorts)
	r.postrouting()

	// Where the no-endpoint REJECTs go.
	rejExt, rejLB := fsvc, fsvc
	if v.hasExternalServicesChain() {
		rejExt = fext
	}
	if v.externalServicesFromForward() {
		rejLB = fext
	}
	_, _, npOK := r.nodePortTargets()
	alwaysCapture := !v.hasExternalServicesChain() // pre-1.10: rules even without endpoints
	gateTerm := m.gates["ProxyTerminatingEndpoints"]
	port := func(n int) string { return " --dport " + strconv.Itoa(n) }

	for _, p := range m.ports {
		svc, xlb, fw := prefixSVC+p.hash, prefixXLB+p.hash, prefixFW+p.hash
		eps := p.eps
		if p.iLocal && !p.eLocal {
			// FilterEndpoints (1.21-1.23): internalTrafficPolicy=Local
			// keeps only this node's endpoints.
			var local []*endpoint
			for _, e := range eps {
				if e.local {
					local = append(local, e)
				}
			}
			eps = local
		}
		var hasEndpoints, localReady, localTerm bool
		for _, e := range eps {
			if e.ready {
				hasEndpoints = true
				localReady = localReady || e.local
			} else if p.eLocal && gateTerm && e.serving && e.terminating {
				hasEndpoints = true
				localTerm = localTerm || e.local
			}
		}
		useTerm := !localReady && localTerm
		var ready, local []*endpoint
		for _, e := range eps {
			inUse := false
			if e.ready {
				ready = append(ready, e)
				inUse = true
			}
			if p.eLocal && e.local {
				if useTerm {
					if e.serving && e.terminating {
						local = append(local, e)
						inUse = true
					}
				} else if e.ready {
					local = append(local, e)
					inUse = true
				}
			}
			if !inUse {
				continue
			}
			r.writeSEP(p, e)
		}

		emit := hasEndpoints || alwaysCapture
		var svcBuf, xlbBuf *chainBuf
		if emit {
			svcBuf = r.n.declare(svc)
		}
		if p.eLocal {
			xlbBuf = r.n.declare(xlb)
		}
		clusterReject := cmt(p.name+" has no endpoints") + " " + proto(p) + " -d " + r.ip(p.clusterIP) + port(p.port) + " -j REJECT"

		// ClusterIP.
		if emit {
			a := cmt(p.name+" cluster IP") + " " + proto(p) + " -d " + r.ip(p.clusterIP) + port(p.port)
			masqTo := nsvc
			if v.hasMasqueradeInServiceChain() {
				masqTo = svcBuf
			}
			if m.masqAll {
				masqTo.add(a + " -j " + chainMarkMasq)
			} else if r.detector {
				masqTo.add(a + " ! -s " + m.clusterCIDR + " -j " + chainMarkMasq)
			}
			nsvc.add(a + " -j " + svc)
		}
		if !hasEndpoints && v.hasExternalServicesChain() {
			fsvc.add(clusterReject)
		}

		// externalIPs.
		for _, e := range p.externalIP {
			a := cmt(p.name+" external IP") + " " + proto(p) + " -d " + r.ip(e) + port(p.port)
			reject := cmt(p.name+" has no endpoints") + " " + proto(p) + " -d " + r.ip(e) + port(p.port) + " -j REJECT"
			if v.hasMasqueradeInServiceChain() {
				if !hasEndpoints {
					fext.add(reject)
					continue
				}
				dest := xlb
				if !p.eLocal {
					dest = svc
					if r.detector {
						svcBuf.add(a + " ! -s " + m.clusterCIDR + " -j " + chainMarkMasq)
					} else {
						svcBuf.add(a + " -j " + chainMarkMasq)
					}
				}
				nsvc.add(a + " -j " + dest)
				continue
			}
			if emit {
				if v.masqueradesExternalIPs() {
					nsvc.add(a + " -j " + chainMarkMasq)
				}
				nsvc.add(a + " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j " + svc)
				nsvc.add(a + " -m addrtype --dst-type LOCAL -j " + svc)
			}
			if !hasEndpoints && v.rejectsExternalIPsWithoutEndpoints() {
				rejExt.add(reject)
			}
		}

		// Load balancer ingress IPs.
		for _, l := range p.lbIP {
			if !emit {
				if v.hasExternalServicesChain() {
					rejLB.add(cmt(p.name+" has no endpoints") + " " + proto(p) + " -d " + r.ip(l) + port(p.port) + " -j REJECT")
				}
				continue
			}
			fwBuf := r.n.declare(fw)
			nsvc.add(cmt(p.name+" loadbalancer IP") + " " + proto(p) + " -d " + r.ip(l) + port(p.port) + " -j " + fw)
			a := cmt(p.name + " loadbalancer IP")
			chosen := xlb
			if !p.eLocal {
				fwBuf.add(a + " -j " + chainMarkMasq)
				chosen = svc
			}
			if len(p.srcRanges) == 0 {
				fwBuf.add(a + " -j " + chosen)
			} else {
				allowFromNode := false
				for _, src := range p.srcRanges {
					fwBuf.add(a + " -s " + src + " -j " + chosen)
					if _, n, err := net.ParseCIDR(src); err == nil && n.Contains(m.nodeIP) {
						allowFromNode = true
					}
				}
				if allowFromNode {
					fwBuf.add(a + " -s " + r.ip(l) + " -j " + chosen)
				}
			}
			fwBuf.add(a + " -j " + chainMarkDrop)
		}

		// NodePort.
		if p.nodePort != 0 && npOK {
			a := cmt(p.name) + " " + proto(p) + port(p.nodePort)
			if emit {
				if !p.eLocal {
					if v.hasMasqueradeInServiceChain() {
						svcBuf.add(a + " -j " + chainMarkMasq)
					} else {
						nnp.add(a + " -j " + chainMarkMasq)
					}
					nnp.add(a + " -j " + svc)
				} else {
					if v.masqueradesLocalhostNodePorts() {
						nnp.add(a + " -s 127.0.0.0/8 -j " + chainMarkMasq)
					}
					nnp.add(a + " -j " + xlb)
				}
			}
			if !hasEndpoints && v.rejectsNodePortsWithoutEndpoints() {
				rejExt.add(cmt(p.name+" has no endpoints") + " -m addrtype --dst-type LOCAL " + proto(p) + port(p.nodePort) + " -j REJECT")
			}
		}

		// healthCheckNodePort.
		if p.hcNodePort != 0 && v.hasHealthCheckNodePortRule() {
			fnp.add(cmt(p.name+" health check node port") + " -m tcp -p tcp" + port(p.hcNodePort) + " -j ACCEPT")
		}

		if !hasEndpoints {
			if !v.hasExternalServicesChain() {
				fsvc.add(clusterReject) // written last before 1.10
			}
			continue
		}

		// Session affinity, then load balancing over the ready endpoints.
		if p.affinity {
			for _, e := range ready {
				svcBuf.add(r.epComment(p.name) + "-m recent --name " + e.chain + " --rcheck --seconds " +
					strconv.Itoa(p.stickySecs) + " --reap -j " + e.chain)
			}
		}
		for i, e := range ready {
			stat := ""
			if i < len(ready)-1 {
				stat = "-m statistic --mode random --probability " + r.probability(len(ready)-i) + " "
			}
			svcBuf.add(r.epComment(p.name) + stat + "-j " + e.chain)
		}

		if !p.eLocal {
			continue
		}
		if r.detector {
			xlbBuf.add(cmt("Redirect pods trying to reach external loadbalancer VIP to clusterIP") + " -s " + m.clusterCIDR + " -j " + svc)
		}
		if v.xlbRoutesLocalTraffic() {
			xlbBuf.add(cmt("masquerade LOCAL traffic for "+p.name+" LB IP") + " -m addrtype --src-type LOCAL -j " + chainMarkMasq)
			xlbBuf.add(cmt("route LOCAL traffic for "+p.name+" LB IP to service chain") + " -m addrtype --src-type LOCAL -j " + svc)
		}
		if len(local) == 0 {
			xlbBuf.add(cmt(p.name+" has no local endpoints") + " -j " + chainMarkDrop)
			continue
		}
		if p.affinity {
			for _, e := range local {
				xlbBuf.add(cmt(p.name) + " -m recent --name " + e.chain + " --rcheck --seconds " +
					strconv.Itoa(p.stickySecs) + " --reap -j " + e.chain)
			}
		}
		for i, e := range local {
			stat := ""
			if i < len(local)-1 {
				stat = " -m statistic --mode random --probability " + r.probability(len(local)-i)
			}
			xlbBuf.add(cmt("Balancing rule "+strconv.Itoa(i)+" for "+p.name) + stat + " -j " + e.chain)
		}
	}

	if npOK {
		r.nodePortDispatch(nsvc)
	}
	if ffwd != nil {
		if v.dropsInvalid() {
			ffwd.add("-m conntrack --ctstate INVALID -j DROP")
		}
		ffwd.add(cmt("kubernetes forwarding rules") + " -m mark --mark " + r.markMask + " -j ACCEPT")
		ffwd.add(forwardConntrackRules(v, m.clusterCIDR)...)
	}
	r.commit()
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

// ---- KUBE-EXT era: 1.24+ ---------------------------------------------------

func (r *renderer) syncEXT() {
	v, m := r.v, r.m
	r.ensureJumps()

	fsvc := r.f.declare(chainServices)
	fext := r.f.declare(chainExternalServices)
	ffwd := r.f.declare(chainForward)
	fnp := r.f.declare(chainNodePorts)
	var fpfw *chainBuf
	if v.hasProxyFirewall() {
		fpfw = r.f.declare(chainProxyFirewall)
	}
	nsvc := r.n.declare(chainServices)
	nnp := r.n.declare(chainNodePorts)
	r.postrouting()
	if v.ownsKubeFirewall() && r.localhostNodePorts {
		r.f.declare(chainFirewall).add(cmt("block incoming localnet connections") +
			" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
	}
	_, _, npOK := r.nodePortTargets()
	gateTerm := v.gateOn(m.gates, "ProxyTerminatingEndpoints")

	for _, p := range m.ports {
		c := categorize1_24(p, gateTerm)
		if v.hasProxyFirewall() {
			r.service1_25(p, c, fsvc, fext, fnp, fpfw, nsvc, nnp, npOK)
		} else {
			r.service1_24(p, c, fsvc, fext, fnp, nsvc, nnp, npOK)
		}
		// KUBE-SEP- chains of every locally reachable endpoint.
		for _, e := range c.reachable {
			r.writeSEP(p, e)
		}
	}

	if npOK {
		r.nodePortDispatch(nsvc)
	}
	invalid := "-m conntrack --ctstate INVALID"
	if v.nfacctInvalidCounter() && m.nfacct {
		invalid += " -m nfacct --nfacct-name " + nfacctInvalid
	}
	ffwd.add(invalid + " -j DROP")
	ffwd.add(cmt("kubernetes forwarding rules") + " -m mark --mark " + r.markMask + " -j ACCEPT")
	ffwd.add(cmt("kubernetes forwarding conntrack rule") + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	r.commit()
}

// serviceToEndpoints is writeServiceToEndpointRules (1.24+).
// writeSEP writes an endpoint's KUBE-SEP chain: the hairpin masquerade,
// then the DNAT (recording the client for ClientIP affinity). Every layout
// since 1.2 writes it the same way.
func (r *renderer) writeSEP(p *svcPort, e *endpoint) {
	sep := r.n.declare(e.chain)
	cm := r.epComment(p.name)
	sep.add(cm + "-s " + r.ip(e.ip) + " -j " + chainMarkMasq)
	recent := ""
	if p.affinity {
		recent = "-m recent --name " + e.chain + " --set "
	}
	sep.add(cm + recent + proto(p) + " -j DNAT --to-destination " + e.hostPort)
}

func (r *renderer) serviceToEndpoints(p *svcPort, chain *chainBuf, eps []*endpoint) {
	if p.affinity {
		for _, e := range eps {
			chain.add(r.epComment(p.name+" -> "+e.hostPort) + "-m recent --name " + e.chain +
				" --rcheck --seconds " + strconv.Itoa(p.stickySecs) + " --reap -j " + e.chain)
		}
	}
	for i, e := range eps {
		stat := ""
		if i < len(eps)-1 {
			stat = "-m statistic --mode random --probability " + r.probability(len(eps)-i) + " "
		}
		chain.add(r.epComment(p.name+" -> "+e.hostPort) + stat + "-j " + e.chain)
	}
}

// externalChainRules writes KUBE-EXT-'s short-circuit rules (1.24+).
func (r *renderer) externalChainRules(p *svcPort, ext *chainBuf, svc string) {
	if !p.eLocal {
		ext.add(cmt("masquerade traffic for "+p.name+" external destinations") + " -j " + chainMarkMasq)
		return
	}
	if r.detector {
		ext.add(cmt("pod traffic for "+p.name+" external destinations") + " -s " + r.m.clusterCIDR + " -j " + svc)
	}
	ext.add(cmt("masquerade LOCAL traffic for "+p.name+" external destinations") + " -m addrtype --src-type LOCAL -j " + chainMarkMasq)
	ext.add(cmt("route LOCAL traffic for "+p.name+" external destinations") + " -m addrtype --src-type LOCAL -j " + svc)
}

// internalMasquerade writes the ClusterIP masquerade rule into chain.
func (r *renderer) internalMasquerade(p *svcPort, chain *chainBuf, args string) {
	if r.m.masqAll {
		chain.add(args + " -j " + chainMarkMasq)
	} else if r.detector {
		chain.add(args + " ! -s " + r.m.clusterCIDR + " -j " + chainMarkMasq)
	}
}

// service1_24 is one service port in 1.24: KUBE-EXT/KUBE-SVL with the
// dropping still done through the kubelet's KUBE-MARK-DROP.
func (r *renderer) service1_24(p *svcPort, c categorized, fsvc, fext, fnp, nsvc, nnp *chainBuf, npOK bool) {
	svc, svl, ext, fw := prefixSVC+p.hash, prefixSVL+p.hash, prefixEXT+p.hash, prefixFW+p.hash
	internal, external := svc, svc
	if p.iLocal {
		internal = svl
	}
	if p.eLocal {
		external = svl
	}
	port := func(n int) string { return " --dport " + strconv.Itoa(n) }
	var svcBuf, svlBuf *chainBuf
	if c.hasAny && p.usesClusterEndpoints() {
		svcBuf = r.n.declare(svc)
	}
	if c.hasAny && p.usesLocalEndpoints() {
		svlBuf = r.n.declare(svl)
	}
	if c.hasAny && p.externallyAccessible() {
		extBuf := r.n.declare(ext)
		r.externalChainRules(p, extBuf, svc)
		extBuf.add("-j " + external)
	}
	if c.hasAny {
		a := cmt(p.name+" cluster IP") + " " + proto(p) + " -d " + r.ip(p.clusterIP) + port(p.port)
		r.internalMasquerade(p, r.n.chain(internal), a)
		nsvc.add(a + " -j " + internal)
	} else {
		fsvc.add(cmt(p.name+" has no endpoints") + " " + proto(p) + " -d " + r.ip(p.clusterIP) + port(p.port) + " -j REJECT")
	}
	for _, e := range p.externalIP {
		if c.hasAny {
			nsvc.add(cmt(p.name+" external IP") + " " + proto(p) + " -d " + r.ip(e) + port(p.port) + " -j " + ext)
		} else {
			fext.add(cmt(p.name+" has no endpoints") + " " + proto(p) + " -d " + r.ip(e) + port(p.port) + " -j REJECT")
		}
	}
	if len(p.lbIP) > 0 && c.hasAny {
		next := ext
		var fwBuf *chainBuf
		if len(p.srcRanges) > 0 {
			fwBuf = r.n.declare(fw)
			next = fw
		}
		for _, l := range p.lbIP {
			nsvc.add(cmt(p.name+" loadbalancer IP") + " " + proto(p) + " -d " + r.ip(l) + port(p.port) + " -j " + next)
			if fwBuf == nil {
				continue
			}
			a := cmt(p.name + " loadbalancer IP")
			allowFromNode := false
			for _, src := range p.srcRanges {
				fwBuf.add(a + " -s " + src + " -j " + ext)
				if _, n, err := net.ParseCIDR(src); err == nil && n.Contains(r.m.nodeIP) {
					allowFromNode = true
				}
			}
			if allowFromNode {
				fwBuf.add(a + " -s " + r.ip(l) + " -j " + ext)
			}
			fwBuf.add(a + " -j " + chainMarkDrop)
		}
	} else {
		for _, l := range p.lbIP {
			fext.add(cmt(p.name+" has no endpoints") + " " + proto(p) + " -d " + r.ip(l) + port(p.port) + " -j REJECT")
		}
	}
	if p.nodePort != 0 && npOK {
		if c.hasAny {
			nnp.add(cmt(p.name) + " " + proto(p) + port(p.nodePort) + " -j " + ext)
		} else {
			fext.add(cmt(p.name+" has no endpoints") + " -m addrtype --dst-type LOCAL " + proto(p) + port(p.nodePort) + " -j REJECT")
		}
	}
	if p.hcNodePort != 0 {
		fnp.add(cmt(p.name+" health check node port") + " -m tcp -p tcp" + port(p.hcNodePort) + " -j ACCEPT")
	}
	if p.usesClusterEndpoints() && svcBuf != nil {
		r.serviceToEndpoints(p, svcBuf, c.cluster)
	}
	if p.usesLocalEndpoints() && svlBuf != nil {
		if len(c.local) != 0 {
			r.serviceToEndpoints(p, svlBuf, c.local)
		} else {
			svlBuf.add(cmt(p.name+" has no local endpoints") + " -j " + chainMarkDrop)
		}
	}
}

// service1_25 is one service port from 1.25 (KEP-3178): "no (local)
// endpoints" and source ranges are enforced in the filter table.
func (r *renderer) service1_25(p *svcPort, c categorized, fsvc, fext, fnp, fpfw, nsvc, nnp *chainBuf, npOK bool) {
	v, m := r.v, r.m
	svc, svl, ext, fw := prefixSVC+p.hash, prefixSVL+p.hash, prefixEXT+p.hash, prefixFW+p.hash
	port := func(n int) string { return " --dport " + strconv.Itoa(n) }

	usesSVC := len(c.cluster) > 0 && p.usesClusterEndpoints()
	usesSVL := len(c.local) > 0 && p.usesLocalEndpoints()
	internal, hasInternal := svc, c.hasAny
	if p.iLocal {
		internal = svl
		hasInternal = hasInternal && len(c.local) > 0
	}
	external, hasExternal := svc, c.hasAny
	if p.eLocal {
		external = svl
		hasExternal = hasExternal && len(c.local) > 0
	}
	usesEXT := c.hasAny && p.externallyAccessible()
	lbChain := ext
	usesFW := c.hasAny && len(p.lbIP) > 0 && len(p.srcRanges) > 0
	if usesFW {
		lbChain = fw
	}
	var intTarget, intComment, extTarget, extComment string
	if !c.hasAny {
		intTarget, intComment = "REJECT", cmt(p.name+" has no endpoints")
		extTarget, extComment = intTarget, intComment
	} else {
		if !hasInternal {
			intTarget, intComment = "DROP", cmt(p.name+" has no local endpoints")
		}
		if !hasExternal {
			extTarget, extComment = "DROP", cmt(p.name+" has no local endpoints")
		}
	}

	clusterArgs := cmt(p.name+" cluster IP") + " " + proto(p) + " -d " + r.ip(p.clusterIP) + port(p.port)
	if hasInternal {
		nsvc.add(clusterArgs + " -j " + internal)
	} else {
		fsvc.add(intComment + " " + proto(p) + " -d " + r.ip(p.clusterIP) + port(p.port) + " -j " + intTarget)
	}
	for _, e := range p.externalIP {
		if c.hasAny {
			nsvc.add(cmt(p.name+" external IP") + " " + proto(p) + " -d " + r.ip(e) + port(p.port) + " -j " + ext)
		}
		if !hasExternal {
			fext.add(extComment + " " + proto(p) + " -d " + r.ip(e) + port(p.port) + " -j " + extTarget)
		}
	}
	for _, l := range p.lbIP {
		if c.hasAny {
			nsvc.add(cmt(p.name+" loadbalancer IP") + " " + proto(p) + " -d " + r.ip(l) + port(p.port) + " -j " + lbChain)
		}
		if usesFW {
			fpfw.add(cmt(p.name+" traffic not accepted by "+fw) + " " + proto(p) + " -d " + r.ip(l) + port(p.port) + " -j DROP")
		}
	}
	if !hasExternal {
		for _, l := range p.lbIP {
			fext.add(extComment + " " + proto(p) + " -d " + r.ip(l) + port(p.port) + " -j " + extTarget)
		}
	}
	if p.nodePort != 0 && npOK {
		if c.hasAny {
			if v.nfacctLocalhostNodePorts() && r.localhostNodePorts && m.nfacct {
				nnp.add(cmt(p.name) + " " + proto(p) + " -d 127.0.0.0/8" + port(p.nodePort) +
					" -m nfacct --nfacct-name " + nfacctLocalhost + " -j " + ext)
			}
			nnp.add(cmt(p.name) + " " + proto(p) + port(p.nodePort) + " -j " + ext)
		}
		if !hasExternal {
			fext.add(extComment + " -m addrtype --dst-type LOCAL " + proto(p) + port(p.nodePort) + " -j " + extTarget)
		}
	}
	if p.hcNodePort != 0 {
		fnp.add(cmt(p.name+" health check node port") + " -m tcp -p tcp" + port(p.hcNodePort) + " -j ACCEPT")
	}

	if hasInternal {
		r.internalMasquerade(p, r.n.chain(internal), clusterArgs)
	}
	if usesEXT {
		extBuf := r.n.declare(ext)
		r.externalChainRules(p, extBuf, svc)
		if hasExternal {
			extBuf.add("-j " + external)
		}
	}
	if usesFW {
		fwBuf := r.n.declare(fw)
		a := cmt(p.name + " loadbalancer IP")
		allowFromNode := false
		for _, src := range p.srcRanges {
			fwBuf.add(a + " -s " + src + " -j " + ext)
			if _, n, err := net.ParseCIDR(src); err == nil && n.Contains(m.nodeIP) {
				allowFromNode = true
			}
		}
		if allowFromNode {
			for _, l := range p.lbIP {
				fwBuf.add(a + " -s " + r.ip(l) + " -j " + ext)
			}
		}
		if v.ownsKubeFirewall() {
			fwBuf.add(cmt("other traffic to " + p.name + " will be dropped by KUBE-PROXY-FIREWALL"))
		}
	}
	if usesSVC {
		r.serviceToEndpoints(p, r.n.declare(svc), c.cluster)
	}
	if usesSVL {
		r.serviceToEndpoints(p, r.n.declare(svl), c.local)
	}
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
