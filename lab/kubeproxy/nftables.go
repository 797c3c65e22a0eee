package kubeproxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/knftables"

	"github.com/netlab/netlab/lab/kernel"
)

// Names of the nftables proxier's table, chains, sets and maps
// (pkg/proxy/nftables/proxier.go). The 1.29 alpha names that later
// changed are in setup1_29.
const (
	kubeProxyTable = "kube-proxy"

	nftServices        = "services"
	nftServiceIPs      = "service-ips"
	nftServiceNodePort = "service-nodeports"
	nftNodePortIPs     = "nodeport-ips"
	nftClusterIPs      = "cluster-ips"
	nftClusterIPsCheck = "cluster-ips-check"
	nftServiceEPCheck  = "service-endpoints-check"
	nftNodePortEPCheck = "nodeport-endpoints-check"
	nftNoEPServices    = "no-endpoint-services"
	nftNoEPNodePorts   = "no-endpoint-nodeports"
	nftReject          = "reject-chain"
	nftFirewallIPs     = "firewall-ips"
	nftFirewallCheck   = "firewall-check"
	nftMarkMasq        = "mark-for-masquerade"
	nftMasquerading    = "masquerading"
	nftHairpin         = "hairpin-connections"

	nftNoLocalhost = "ip daddr != 127.0.0.0/8"
)

// NFTables renders kube-proxy's nftables mode of version v (1.29+) on node
// n: its "ip kube-proxy" table after the first full sync on a fresh node,
// as nft -f input in the oracle's canonical order (nftTable).
//
// The proxier writes one table and nothing else: no iptables rules, no
// sysctls (no localhost NodPorts, so no route_localnet), no interfaces.
// Service ports are processed in ServicePortName order; endpoints are in
// the EndpointSlice cache's "ip:port" order, which fixes the numgen
// indices as the real proxier's sorted endpoint lists do.
func NFTables(v Version, n Node) (string, error) {
	if err := v.check(); err != nil {
		return "", err
	}
	if !v.atLeast(nftSince) {
		return "", fmt.Errorf("kube-proxy %s has no nftables mode (1.%d+)", v, nftSince)
	}
	m, err := buildModel(v, n)
	if err != nil {
		return "", err
	}
	if v.gateOn(m.gates, "KubeProxyNFTablesLocalhostNodePorts") {
		// Its userspace proxy and reject chains are not modelled.
		return "", fmt.Errorf("node %s: netlab does not model the KubeProxyNFTablesLocalhostNodePorts gate (alpha in 1.37); leave it off", m.nodeName)
	}
	r := &nftRenderer{v: v, m: m, t: newNFTTable("rules for kube-proxy")}
	r.mark, _ = masqMark(v, m.markBit)
	r.gateTerm = v.gateOn(m.gates, "ProxyTerminatingEndpoints")
	if v.gateOn(m.gates, "MultiCIDRServiceAllocator") {
		r.serviceCIDRs = ipv4CIDRs(n.ServiceCIDRs)
	}
	r.nodePortAll, r.nodePortIPs, _ = nodePortTargets(v, m)
	if v.nftReworked1_30() {
		r.setup()
	} else {
		r.setup1_29()
	}
	for _, p := range m.ports {
		r.servicePort(p)
	}
	return r.t.text()
}

type nftRenderer struct {
	v        Version
	m        *model
	t        *nftTable
	mark     string // "0x00004000"
	gateTerm bool   // ProxyTerminatingEndpoints
	// serviceCIDRs: the cluster's ServiceCIDRs, IPv4, as the proxier
	// joins them ("10.96.0.0/12,..."); "" for none.
	serviceCIDRs string
	nodePortAll  bool     // --nodeport-addresses matches every address
	nodePortIPs  []string // else the node addresses it matches
}

// masqRule is how a rule asks for masquerading: a jump to
// mark-for-masquerade, or the inline mark from 1.36 (nftDirectDNAT).
func (r *nftRenderer) masqRule() string {
	if r.v.nftDirectDNAT() {
		return "mark set mark or " + r.mark
	}
	return "jump " + nftMarkMasq
}

func ptrTo[T any](v T) *T { return &v }

// nftBaseChain is one chain hooked into netfilter.
type nftBaseChain struct {
	name     string
	typ      knftables.BaseChainType
	hook     knftables.BaseChainHook
	priority knftables.BaseChainPriority
}

// baseChains are the proxier's nftablesBaseChains for the version.
func (r *nftRenderer) baseChains() []nftBaseChain {
	nat := []nftBaseChain{
		{"nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority},
		{"nat-output", knftables.NATType, knftables.OutputHook, knftables.DNATPriority},
		{"nat-postrouting", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority},
	}
	var filter []nftBaseChain
	switch {
	case r.v.nftPostDNATFilter():
		filter = []nftBaseChain{
			{"filter-prerouting-pre-dnat", knftables.FilterType, knftables.PreroutingHook, knftables.DNATPriority + "-10"},
			{"filter-output-pre-dnat", knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "-10"},
			{"filter-input", knftables.FilterType, knftables.InputHook, knftables.FilterPriority},
			{"filter-forward", knftables.FilterType, knftables.ForwardHook, knftables.FilterPriority},
			{"filter-output", knftables.FilterType, knftables.OutputHook, knftables.FilterPriority},
		}
	case r.v.nftReworked1_30():
		filter = []nftBaseChain{
			{"filter-prerouting", knftables.FilterType, knftables.PreroutingHook, knftables.DNATPriority + "-10"},
			{"filter-input", knftables.FilterType, knftables.InputHook, knftables.DNATPriority + "-10"},
			{"filter-forward", knftables.FilterType, knftables.ForwardHook, knftables.DNATPriority + "-10"},
			{"filter-output", knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "-10"},
			{"filter-output-post-dnat", knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "+10"},
		}
	default:
		filter = []nftBaseChain{
			{"filter-input", knftables.FilterType, knftables.InputHook, knftables.DNATPriority + "-1"},
			{"filter-forward", knftables.FilterType, knftables.ForwardHook, knftables.DNATPriority + "-1"},
			{"filter-output", knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "-1"},
		}
	}
	return append(filter, nat...)
}

// nftJump is one of nftablesJumpChains: a rule in a base chain jumping to
// a top-level regular chain.
type nftJump struct{ dst, src, match string }

func (r *nftRenderer) jumps() []nftJump {
	const ctNew = "ct state new"
	switch {
	case r.v.nftPostDNATFilter():
		return []nftJump{
			{nftNodePortEPCheck, "filter-input", ctNew},
			{nftServiceEPCheck, "filter-input", ctNew},
			{nftServiceEPCheck, "filter-forward", ctNew},
			{nftServiceEPCheck, "filter-output", ctNew},
			{nftFirewallCheck, "filter-prerouting-pre-dnat", ctNew},
			{nftFirewallCheck, "filter-output-pre-dnat", ctNew},
			{nftServices, "nat-output", ""},
			{nftServices, "nat-prerouting", ""},
			{nftMasquerading, "nat-postrouting", ""},
			{nftClusterIPsCheck, "filter-forward", ctNew},
			{nftClusterIPsCheck, "filter-output", ctNew},
		}
	case r.v.nftReworked1_30():
		return []nftJump{
			{nftNodePortEPCheck, "filter-input", ctNew},
			{nftServiceEPCheck, "filter-input", ctNew},
			{nftServiceEPCheck, "filter-forward", ctNew},
			{nftServiceEPCheck, "filter-output", ctNew},
			{nftFirewallCheck, "filter-prerouting", ctNew},
			{nftFirewallCheck, "filter-output", ctNew},
			{nftServices, "nat-output", ""},
			{nftServices, "nat-prerouting", ""},
			{nftMasquerading, "nat-postrouting", ""},
			{nftClusterIPsCheck, "filter-forward", ctNew},
			{nftClusterIPsCheck, "filter-output-post-dnat", ctNew},
		}
	}
	return []nftJump{
		{"endpoints-check", "filter-input", ctNew},
		{"endpoints-check", "filter-forward", ctNew},
		{"endpoints-check", "filter-output", ctNew},
		{"forward", "filter-forward", ""},
		{nftFirewallCheck, "filter-input", ctNew},
		{nftFirewallCheck, "filter-output", ctNew},
		{nftFirewallCheck, "filter-forward", ctNew},
		{nftServices, "nat-output", ""},
		{nftServices, "nat-prerouting", ""},
		{nftMasquerading, "nat-postrouting", ""},
	}
}

// hooks declares the base chains and the top-level chains with the rules
// that jump to them (setupNFTables' first part), then the other top-level
// chains.
func (r *nftRenderer) hooks(others ...string) {
	for _, bc := range r.baseChains() {
		r.t.chain(&knftables.Chain{Name: bc.name, Type: ptrTo(bc.typ), Hook: ptrTo(bc.hook), Priority: ptrTo(bc.priority)})
	}
	for _, j := range r.jumps() {
		r.t.chain(&knftables.Chain{Name: j.dst})
		r.t.rule(j.src, knftables.Concat(j.match, "jump", j.dst))
	}
	for _, c := range others {
		r.t.chain(&knftables.Chain{Name: c})
	}
}

// masquerading writes the masquerade chains: mark-for-masquerade and
// masquerading's return / clear-mark / masquerade, or from 1.36 the two
// masquerading rules (marked, or a hairpin connection).
func (r *nftRenderer) masquerading() {
	if r.v.nftDirectDNAT() {
		r.t.set(&knftables.Set{Name: nftHairpin, Type: "ipv4_addr . ipv4_addr . inet_proto . inet_service", Comment: ptrTo("service hairpin connections")})
		r.t.rule(nftMasquerading, knftables.Concat("mark", "and", r.mark, "!=", "0", "mark", "set", "mark", "xor", r.mark, "masquerade fully-random"))
		r.t.rule(nftMasquerading, knftables.Concat("ct status dnat", "ip", "saddr", ".", "ip", "daddr", ".", "meta l4proto", ".", "th dport", "@", nftHairpin, "masquerade fully-random"))
		return
	}
	r.t.rule(nftMarkMasq, knftables.Concat("mark", "set", "mark", "or", r.mark))
	r.t.rule(nftMasquerading, knftables.Concat("mark", "and", r.mark, "==", "0", "return"))
	r.t.rule(nftMasquerading, knftables.Concat("mark", "set", "mark", "xor", r.mark))
	r.t.rule(nftMasquerading, "masquerade fully-random")
}

// nodePortIPsSet fills nodeport-ips with the addresses --nodeport-addresses
// selects (loopback ones are refused: no localhost NodePorts), or drops
// the set when it matches every address.
func (r *nftRenderer) nodePortIPsSet() {
	if r.nodePortAll {
		r.t.deleteSet(nftNodePortIPs)
		return
	}
	r.t.set(&knftables.Set{Name: nftNodePortIPs, Type: "ipv4_addr", Comment: ptrTo("IPs that accept NodePort traffic")})
	for _, ip := range r.nodePortIPs {
		if net.ParseIP(ip).IsLoopback() {
			continue
		}
		r.t.elem(&knftables.Element{Set: nftNodePortIPs, Key: []string{ip}})
	}
}

// nodePortMatch is what selects NodePort traffic: any local address but
// loopback, or the nodeport-ips set.
func (r *nftRenderer) nodePortMatch(fibLocal bool) string {
	if r.nodePortAll {
		if fibLocal {
			return "fib daddr type local " + nftNoLocalhost
		}
		return nftNoLocalhost
	}
	return "ip daddr @" + nftNodePortIPs
}

// setup is setupNFTables from 1.30.
func (r *nftRenderer) setup() {
	t := r.t
	others := []string{nftServices, nftClusterIPsCheck, nftMasquerading}
	if !r.v.nftDirectDNAT() {
		others = append(others, nftMarkMasq)
	}
	r.hooks(others...)
	r.masquerading()

	t.set(&knftables.Set{Name: nftClusterIPs, Type: "ipv4_addr", Comment: ptrTo("Active ClusterIPs")})
	t.rule(nftClusterIPsCheck, "ip daddr @cluster-ips reject", "Reject traffic to invalid ports of ClusterIPs")
	if r.serviceCIDRs != "" {
		t.rule(nftClusterIPsCheck, knftables.Concat("ip", "daddr", "{", r.serviceCIDRs, "}", "drop"), "Drop traffic to unallocated ClusterIPs")
	}
	r.nodePortIPsSet()

	t.mapOf(&knftables.Map{Name: nftNoEPServices, Type: "ipv4_addr . inet_proto . inet_service : verdict", Comment: ptrTo("vmap to drop or reject packets to services with no endpoints")})
	t.mapOf(&knftables.Map{Name: nftNoEPNodePorts, Type: "inet_proto . inet_service : verdict", Comment: ptrTo("vmap to drop or reject packets to service nodeports with no endpoints")})
	t.chain(&knftables.Chain{Name: nftReject, Comment: ptrTo("helper for @no-endpoint-services / @no-endpoint-nodeports")})
	t.rule(nftReject, "reject")
	t.rule(nftServiceEPCheck, "ip daddr . meta l4proto . th dport vmap @"+nftNoEPServices)
	t.rule(nftNodePortEPCheck, r.nodePortMatch(false)+" meta l4proto . th dport vmap @"+nftNoEPNodePorts)

	t.mapOf(&knftables.Map{Name: nftFirewallIPs, Type: "ipv4_addr . inet_proto . inet_service : verdict", Comment: ptrTo("destinations that are subject to LoadBalancerSourceRanges")})
	t.rule(nftFirewallCheck, "ip daddr . meta l4proto . th dport vmap @"+nftFirewallIPs)

	if r.v.nftDirectDNAT() {
		// Before the dispatch: the mark must be set before the vmap's goto.
		switch {
		case r.m.masqAll:
			t.rule(nftServices, "ip daddr @"+nftClusterIPs+" "+r.masqRule(), "masquerade all clusterIP traffic")
		case r.m.clusterCIDR != "":
			t.rule(nftServices, "ip daddr @"+nftClusterIPs+" ip saddr != "+r.m.clusterCIDR+" "+r.masqRule(), "masquerade clusterIP traffic from outside cluster")
		}
	}
	r.dispatch()
}

// dispatch declares the service maps and the "services" rules that look
// a destination up in them.
func (r *nftRenderer) dispatch() {
	t := r.t
	t.mapOf(&knftables.Map{Name: nftServiceIPs, Type: "ipv4_addr . inet_proto . inet_service : verdict", Comment: ptrTo("ClusterIP, ExternalIP and LoadBalancer IP traffic")})
	t.mapOf(&knftables.Map{Name: nftServiceNodePort, Type: "inet_proto . inet_service : verdict", Comment: ptrTo("NodePort traffic")})
	t.rule(nftServices, "ip daddr . meta l4proto . th dport vmap @"+nftServiceIPs)
	t.rule(nftServices, r.nodePortMatch(true)+" meta l4proto . th dport vmap @"+nftServiceNodePort)
}

// setup1_29 is setupNFTables of the 1.29 alpha: one endpoints-check
// chain, a forward chain dropping invalid packets, and the firewall and
// firewall-allow sets (see nftReworked1_30).
func (r *nftRenderer) setup1_29() {
	t := r.t
	r.hooks(nftServices, "forward", nftMasquerading, nftMarkMasq)
	r.masquerading()
	// Unless nf_conntrack_tcp_be_liberal is set, which netlab's nodes
	// never do.
	t.rule("forward", "ct state invalid drop")
	r.nodePortIPsSet()

	t.mapOf(&knftables.Map{Name: nftNoEPServices, Type: "ipv4_addr . inet_proto . inet_service : verdict", Comment: ptrTo("vmap to drop or reject packets to services with no endpoints")})
	t.mapOf(&knftables.Map{Name: nftNoEPNodePorts, Type: "inet_proto . inet_service : verdict", Comment: ptrTo("vmap to drop or reject packets to service nodeports with no endpoints")})
	t.chain(&knftables.Chain{Name: nftReject, Comment: ptrTo("helper for @no-endpoint-services / @no-endpoint-nodeports")})
	t.rule(nftReject, "reject")
	t.rule("endpoints-check", "ip daddr . meta l4proto . th dport vmap @"+nftNoEPServices)
	t.rule("endpoints-check", r.nodePortMatch(true)+" meta l4proto . th dport vmap @"+nftNoEPNodePorts)

	t.set(&knftables.Set{Name: "firewall", Type: "ipv4_addr . inet_proto . inet_service", Comment: ptrTo("destinations that are subject to LoadBalancerSourceRanges")})
	t.set(&knftables.Set{Name: "firewall-allow", Type: "ipv4_addr . inet_proto . inet_service . ipv4_addr", Flags: []knftables.SetFlag{knftables.IntervalFlag},
		Comment: ptrTo("destinations+sources that are allowed by LoadBalancerSourceRanges")})
	t.chain(&knftables.Chain{Name: "firewall-allow-check"})
	t.rule(nftFirewallCheck, "ip daddr . meta l4proto . th dport @firewall jump firewall-allow-check")
	t.rule("firewall-allow-check", "ip daddr . meta l4proto . th dport . ip saddr @firewall-allow return")
	t.rule("firewall-allow-check", "drop")

	r.dispatch()
}

// ---- service ports -------------------------------------------------------

// nftChainBase is servicePortChainNameBase / servicePortEndpointChainNameBase:
// "HASH-ns/name/proto/port", with "__ip/port" for an endpoint, HASH the
// first 8 characters of base32(sha256(the rest)). The parts can hold at
// most 205 (service) or 252 (endpoint) characters, so names longer than
// 240 are cut to 237 and end in "...".
func nftChainBase(svcPortName, proto, endpoint string) string {
	ns, rest, _ := strings.Cut(svcPortName, "/")
	name, port, _ := strings.Cut(rest, ":")
	s := ns + "/" + name + "/" + proto + "/" + port
	if endpoint != "" {
		ip, epPort, _ := net.SplitHostPort(endpoint)
		s += "__" + strings.ReplaceAll(ip, ":", ".") + "/" + epPort
	}
	sum := sha256.Sum256([]byte(s))
	s = base32.StdEncoding.EncodeToString(sum[:])[:8] + "-" + s
	const max = knftables.NameLengthMax - 16
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

// nftPort is one service port's chain names.
type nftPort struct {
	cluster, local, external, firewall string
}

func (r *nftRenderer) servicePort(p *svcPort) {
	t := r.t
	base := nftChainBase(p.name, p.proto, "")
	names := nftPort{cluster: "service-" + base, local: "local-" + base, external: "external-" + base, firewall: "firewall-" + base}
	port := strconv.Itoa(p.port)
	c := categorize1_24(p, r.gateTerm)
	epChain := func(e *endpoint) string { return "endpoint-" + nftChainBase(p.name, p.proto, e.hostPort) }
	affinitySet := func(e *endpoint) string { return "affinity-" + nftChainBase(p.name, p.proto, e.hostPort) }

	// Chains, in the proxier's order (the order only matters to the
	// transaction, not to the table it leaves).
	for _, e := range c.reachable {
		if !r.v.nftDirectDNAT() || p.affinity {
			t.chain(&knftables.Chain{Name: epChain(e)})
		}
		if r.v.nftDirectDNAT() && e.local {
			t.elem(&knftables.Element{Set: nftHairpin, Key: []string{e.ip.String(), e.ip.String(), p.proto, strconv.Itoa(endpointPort(e))}})
		}
	}
	usesCluster := len(c.cluster) > 0 && p.usesClusterEndpoints()
	if usesCluster {
		t.chain(&knftables.Chain{Name: names.cluster})
	}
	usesLocal := len(c.local) > 0 && p.usesLocalEndpoints()
	if usesLocal {
		t.chain(&knftables.Chain{Name: names.local})
	}

	internalChain, hasInternal := names.cluster, c.hasAny
	if p.iLocal {
		internalChain = names.local
		hasInternal = len(c.local) > 0
	}
	externalPolicyChain, hasExternal := names.cluster, c.hasAny
	if p.eLocal {
		externalPolicyChain = names.local
		hasExternal = len(c.local) > 0
	}
	usesExternal := c.hasAny && p.externallyAccessible()
	if usesExternal {
		t.chain(&knftables.Chain{Name: names.external})
	}

	internalVerdict, externalVerdict := "", ""
	if !c.hasAny {
		internalVerdict, externalVerdict = "goto "+nftReject, "goto "+nftReject
	} else {
		if !hasInternal {
			internalVerdict = "drop"
		}
		if !hasExternal {
			externalVerdict = "drop"
		}
	}
	comment := p.name
	if r.v.nftTruncatesComments() && len(comment) > knftables.CommentLengthMax {
		comment = comment[:knftables.CommentLengthMax]
	}
	key := func(ip net.IP) []string { return []string{ip.String(), p.proto, port} }

	if r.v.nftReworked1_30() {
		t.elem(&knftables.Element{Set: nftClusterIPs, Key: []string{p.clusterIP.String()}})
	}
	if hasInternal {
		t.elem(&knftables.Element{Map: nftServiceIPs, Key: key(p.clusterIP), Value: []string{"goto " + internalChain}})
	} else {
		t.elem(&knftables.Element{Map: nftNoEPServices, Key: key(p.clusterIP), Value: []string{internalVerdict}, Comment: &comment})
	}
	for _, ip := range p.externalIP {
		if c.hasAny {
			t.elem(&knftables.Element{Map: nftServiceIPs, Key: key(ip), Value: []string{"goto " + names.external}})
		}
		if !hasExternal {
			t.elem(&knftables.Element{Map: nftNoEPServices, Key: key(ip), Value: []string{externalVerdict}, Comment: &comment})
		}
	}
	usesFirewall := len(p.lbIP) > 0 && len(p.srcRanges) > 0
	if usesFirewall && r.v.nftReworked1_30() {
		t.chain(&knftables.Chain{Name: names.firewall})
	}
	for _, ip := range p.lbIP {
		if c.hasAny {
			t.elem(&knftables.Element{Map: nftServiceIPs, Key: key(ip), Value: []string{"goto " + names.external}})
		}
		if usesFirewall {
			r.firewallElems(p, ip, names.firewall, key(ip))
		}
	}
	if !hasExternal {
		for _, ip := range p.lbIP {
			t.elem(&knftables.Element{Map: nftNoEPServices, Key: key(ip), Value: []string{externalVerdict}, Comment: &comment})
		}
	}
	if p.nodePort != 0 {
		npKey := []string{p.proto, strconv.Itoa(p.nodePort)}
		if c.hasAny {
			t.elem(&knftables.Element{Map: nftServiceNodePort, Key: npKey, Value: []string{"goto " + names.external}})
		}
		if !hasExternal {
			t.elem(&knftables.Element{Map: nftNoEPNodePorts, Key: npKey, Value: []string{externalVerdict}, Comment: &comment})
		}
	}

	// The service's own chains.
	if hasInternal && !r.v.nftDirectDNAT() {
		match := "ip daddr " + p.clusterIP.String()
		if !r.v.nftMasqueradeWithoutPort() {
			match += " " + p.proto + " dport " + port
		}
		switch {
		case r.m.masqAll:
			t.rule(internalChain, match+" "+r.masqRule())
		case r.m.clusterCIDR != "":
			t.rule(internalChain, match+" ip saddr != "+r.m.clusterCIDR+" "+r.masqRule())
		}
	}
	if usesExternal {
		r.externalChain(p, names, externalPolicyChain, hasExternal)
	}
	if usesFirewall && r.v.nftReworked1_30() {
		r.firewallChain(p, names.firewall)
	}
	if p.affinity {
		for _, e := range c.reachable {
			t.set(&knftables.Set{Name: affinitySet(e), Type: "ipv4_addr",
				Flags:   []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
				Timeout: ptrTo(time.Duration(p.stickySecs) * time.Second)})
		}
	}
	write := r.toEndpointChains
	if r.v.nftDirectDNAT() && !p.affinity {
		write = r.toEndpointsDirect
	}
	if usesCluster {
		write(p, names.cluster, c.cluster, epChain, affinitySet)
	}
	if usesLocal {
		write(p, names.local, c.local, epChain, affinitySet)
	}
	if r.v.nftDirectDNAT() && !p.affinity {
		return
	}
	for _, e := range c.reachable {
		ch := epChain(e)
		if !r.v.nftDirectDNAT() {
			t.rule(ch, "ip saddr "+e.ip.String()+" "+r.masqRule())
		}
		if p.affinity {
			t.rule(ch, "update @"+affinitySet(e)+" { ip saddr }")
		}
		t.rule(ch, "meta l4proto "+p.proto+" dnat to "+e.hostPort)
	}
}

// endpointPort is the port of an endpoint's "ip:port".
func endpointPort(e *endpoint) int {
	_, port, _ := net.SplitHostPort(e.hostPort)
	n, _ := strconv.Atoi(port)
	return n
}

// firewallElems registers a LoadBalancer IP subject to source ranges:
// a firewall-ips element (1.30+), or in 1.29 a "firewall" element and one
// "firewall-allow" element per allowed source (and the LB IP itself when
// a range covers the node, for traffic that loops back from the node).
func (r *nftRenderer) firewallElems(p *svcPort, ip net.IP, chain string, key []string) {
	comment := p.name
	if r.v.nftReworked1_30() {
		e := &knftables.Element{Map: nftFirewallIPs, Key: key, Value: []string{"goto " + chain}}
		if r.v.nftFirewallElemComment() {
			e.Comment = &comment
		}
		r.t.elem(e)
		return
	}
	r.t.elem(&knftables.Element{Set: "firewall", Key: key, Comment: &comment})
	for _, src := range p.srcRanges {
		r.t.elem(&knftables.Element{Set: "firewall-allow", Key: append(append([]string{}, key...), src), Comment: &comment})
	}
	if p.srcCoversNode {
		r.t.elem(&knftables.Element{Set: "firewall-allow", Key: append(append([]string{}, key...), ip.String())})
	}
}

// externalChain writes the external- chain: masquerade and go to the
// policy chain, or for eTP=Local short-circuit pod and node traffic to
// the cluster chain first.
func (r *nftRenderer) externalChain(p *svcPort, names nftPort, policyChain string, hasExternal bool) {
	t, ch := r.t, names.external
	if !p.eLocal {
		if r.v.nftDirectDNAT() {
			t.rule(ch, r.masqRule(), "masquerade")
		} else {
			t.rule(ch, r.masqRule())
		}
	} else {
		if r.m.clusterCIDR != "" {
			t.rule(ch, "ip saddr "+r.m.clusterCIDR+" goto "+names.cluster, "short-circuit pod traffic")
		}
		t.rule(ch, "fib saddr type local "+r.masqRule(), "masquerade local traffic")
		t.rule(ch, "fib saddr type local goto "+names.cluster, "short-circuit local traffic")
	}
	if hasExternal {
		t.rule(ch, "goto "+policyChain)
	}
}

// firewallChain writes the firewall- chain: drop sources outside the
// ranges (and outside the LB IPs when a range covers the node).
func (r *nftRenderer) firewallChain(p *svcPort, ch string) {
	ranges := make([]string, len(p.srcRanges))
	for i, c := range p.srcRanges {
		// The proxier holds them parsed (canonical) from 1.30.
		ranges[i] = c
		if _, n, err := net.ParseCIDR(c); err == nil {
			ranges[i] = n.String()
		}
	}
	sources := strings.Join(ranges, " , ")
	if p.srcCoversNode {
		for _, ip := range p.lbIP {
			sources += " , " + ip.String()
		}
	}
	r.t.rule(ch, "ip saddr != { "+sources+" } drop")
}

// toEndpointChains writes a policy chain that picks an endpoint chain:
// the affinity matches first, then a numgen vmap.
func (r *nftRenderer) toEndpointChains(p *svcPort, ch string, eps []*endpoint, epChain, affinitySet func(*endpoint) string) {
	if p.affinity {
		for _, e := range eps {
			r.t.rule(ch, "ip saddr @"+affinitySet(e)+" goto "+epChain(e))
		}
	}
	elems := make([]string, len(eps))
	for i, e := range eps {
		elems[i] = strconv.Itoa(i) + " : goto " + epChain(e)
	}
	r.t.rule(ch, "numgen random mod "+strconv.Itoa(len(eps))+" vmap { "+strings.Join(elems, " , ")+" }")
}

// toEndpointsDirect writes a policy chain that DNATs to an endpoint
// picked by numgen (1.36+ without affinity).
func (r *nftRenderer) toEndpointsDirect(p *svcPort, ch string, eps []*endpoint, _, _ func(*endpoint) string) {
	if len(eps) == 1 && r.v.nftSingleEndpointDNAT() {
		r.t.rule(ch, "meta l4proto "+p.proto+" dnat to "+eps[0].hostPort)
		return
	}
	elems := make([]string, len(eps))
	for i, e := range eps {
		elems[i] = strconv.Itoa(i) + " : " + e.ip.String() + " . " + strconv.Itoa(endpointPort(e))
	}
	r.t.rule(ch, "meta l4proto "+p.proto+" dnat ip addr . port to numgen random mod "+strconv.Itoa(len(eps))+" map { "+strings.Join(elems, " , ")+" }")
}

// ipv4CIDRs keeps the IPv4 CIDRs and joins them as OnServiceCIDRsChanged
// does.
func ipv4CIDRs(cidrs []string) string {
	var out []string
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
			out = append(out, c)
		}
	}
	return strings.Join(out, ",")
}

// The nftables mode: alpha in 1.29 behind NFTablesProxyMode (#121046),
// beta in 1.31, GA in 1.33. Unlike the other modes, an unset
// --nodeport-addresses means the node's primary IP from 1.31
// (nftDefaultPrimaryNodePorts), which the oracle, driving the proxier
// directly, does not apply.
func init() {
	Register(Mode{Name: "nftables", Since: nftSince, SincePR: "#121046", SinceStage: "alpha",
		Needs: []kernel.Feature{kernel.Nftables},
		Gate:  "NFTablesProxyMode",
		Views: []View{{Name: "nftables", Command: []string{"nft", "list", "table", "ip", kubeProxyTable}}},
		Render: func(v Version, n Node, _ Options) (*NodeState, error) {
			if len(n.NodePortAddresses) == 0 && v.nftDefaultPrimaryNodePorts() {
				n.NodePortAddresses = []string{"primary"}
			}
			text, err := NFTables(v, n)
			if err != nil {
				return nil, err
			}
			return &NodeState{NFTables: text}, nil
		}})
}
