package kubeproxy

// ---- IPVS behaviour switches ---------------------------------------------
//
// Every version-dependent behaviour of the IPVS renderer (ipvs.go) is one of
// the predicates below, in the style of versions.go. Sources: the IPVS
// proxier (kubernetes/kubernetes pkg/proxy/ipvs/proxier.go) of v1.22.17,
// v1.24.17, v1.28.15, v1.31.14, v1.33.13, v1.35.4 and v1.37.2 as the oracle
// runs it (docs/testing.md, "The oracle"), cmd/kube-proxy/app of those and
// of v1.32.13/v1.34.4/v1.36.3, and for everything else the PRs each switch
// cites and the CHANGELOG-1.x entries. The IPVS proxier's first sync does
// not change from 1.32 to 1.37 but for --random-fully (versions.go); the
// shared switches of versions.go from 1.34 apply to it too. "observed" = read off the oracle versions on
// either side, PR not identified; "inferred" = placed from PR dates or
// CHANGELOG text; "guess" = neither the upstream sources read nor the
// oracle pin it down, the comment says why the minor was chosen. A minor
// renders like its latest patch release (versions.go).

// ipvsMinVersion: IPVS mode is alpha in 1.8 behind SupportIPVSProxyMode
// (#46580); there is no IPVS proxier before.
const ipvsMinVersion = 8

// ipvsHasIPSets: the ipset-based rule layout (KUBE-CLUSTER-IP,
// KUBE-LOOP-BACK hairpin, KUBE-NODE-PORT-*, ...) arrives in 1.9 (#54219,
// fixing hairpin #53775). The 1.8 alpha wrote one masquerade rule per
// virtual server instead; ipvs.go renders that older form as a guess
// (ipvsRulesAlpha), with no hairpin masquerade, as #53775 reports.
func (v Version) ipvsHasIPSets() bool { return v.atLeast(9) }

// ipvsHasForwardChain: filter KUBE-FORWARD (mark and RELATED,ESTABLISHED
// accepts) for nodes with FORWARD policy DROP. #52569 (1.9) added it to the
// iptables proxier; the IPVS proxier is assumed to follow in the same
// release (guess).
func (v Version) ipvsHasForwardChain() bool { return v.atLeast(9) }

// ipvsHonoursLocalNodePorts: eTP=Local NodePort virtual servers get only
// local real servers and the KUBE-NODE-PORT-LOCAL-* sets (#66064, 1.11,
// backported to 1.11.x via #68278). Before, every NodePort VS had all
// endpoints.
func (v Version) ipvsHonoursLocalNodePorts() bool { return v.atLeast(11) }

// ipvsHonoursLocalLoadBalancers: eTP=Local for loadBalancer ingress IPs
// and externalIPs (KUBE-LOAD-BALANCER-LOCAL / KUBE-EXTERNAL-IP-LOCAL) (#72432,
// 1.14; externalIPs assumed to move with it, guess).
func (v Version) ipvsHonoursLocalLoadBalancers() bool { return v.atLeast(14) }

// ipvsSetsConnReuseMode: net.ipv4.vs.conn_reuse_mode=0 (#71114, 1.13).
func (v Version) ipvsSetsConnReuseMode() bool { return v.atLeast(13) }

// ipvsConnReuseNeedsKernel41: conn_reuse_mode is only written on kernels
// >= 4.1 (#88541, 1.19); before, it was written regardless.
func (v Version) ipvsConnReuseNeedsKernel41() bool { return v.atLeast(19) }

// ipvsConnReuseLeftOnFixedKernels: on kernels >= 5.9 (where the kernel
// fixed the port-reuse problem) conn_reuse_mode is left as is (#102122,
// 1.22; issue #93297).
func (v Version) ipvsConnReuseLeftOnFixedKernels() bool { return v.atLeast(22) }

// ipvsSetsExpireSysctls: vs.expire_nodest_conn=1 and
// vs.expire_quiescent_template=1 come with graceful termination (#66012,
// 1.11; guess: v1.28's NewProxier sets them unconditionally, and
// graceful termination shipped in 1.11).
func (v Version) ipvsSetsExpireSysctls() bool { return v.atLeast(11) }

// ipvsStrictARPAlways: 1.13.0 set arp_ignore=1/arp_announce=2
// unconditionally; from 1.14 only with --ipvs-strict-arp (#75295).
func (v Version) ipvsStrictARPAlways() bool { return v.atLeast(13) && !v.atLeast(14) }

// ipvsStrictARPFlag: --ipvs-strict-arp / ipvs.strictARP exists (#75295,
// 1.14; the 1.13 default is folded in ipvsStrictARPAlways).
func (v Version) ipvsStrictARPFlag() bool { return v.atLeast(14) }

// ipvsSetsRouteLocalnet: the IPVS proxier set route_localnet=1 (for
// NodePorts on 127.0.0.1) until 1.21 stopped it (CHANGELOG-1.21).
func (v Version) ipvsSetsRouteLocalnet() bool { return !v.atLeast(21) }

// ipvsHealthCheckNodePortRule: filter KUBE-NODE-PORT, hooked from INPUT,
// accepts healthCheckNodePorts (KUBE-HEALTH-CHECK-NODE-PORT set); present
// in v1.22.17, placed with the iptables proxier's #97824 (1.21, inferred).
func (v Version) ipvsHealthCheckNodePortRule() bool { return v.atLeast(21) }

// ipvsSingleForwardConntrackRule: KUBE-FORWARD's "pod source" and "pod
// destination" RELATED,ESTABLISHED accepts (identical since the cluster CIDR
// was dropped from them) become one "kubernetes forwarding conntrack rule"
// (observed between v1.22.17 and v1.24.17; placed at 1.24 as in the
// iptables renderer). Before 1.18 the pair carried -s/-d <clusterCIDR>
// (forwardConntrackWithoutCIDR, #87748).
func (v Version) ipvsSingleForwardConntrackRule() bool { return v.atLeast(24) }

// ipvsFallbackToClusterEndpoints: PR #97081 "Ipvs: non-local access to
// externalTrafficPolicy:Local" (1.24: reviewed in the 1.24 cycle, release
// note NONE; confirmed by the oracle, v1.22.17 vs v1.24.17). With eTP=Local
// (or iTP=Local) and no local endpoint, the virtual server gets all cluster
// endpoints instead of none. It comes with proxy.CategorizeEndpoints
// (#106497).
func (v Version) ipvsFallbackToClusterEndpoints() bool { return v.atLeast(24) }

// ipvsSCTPLocalFirst: the KUBE-NODE-PORT-LOCAL-SCTP-HASH RETURN rule is
// written before the SCTP masquerade rule (observed: v1.22.17 writes them
// the other way round, v1.24.17 like TCP/UDP; placed at 1.24).
func (v Version) ipvsSCTPLocalFirst() bool { return v.atLeast(24) }

// ipvsFirewallInFilter: KEP-3178 (#110628, 1.25): the source-range check
// moves from nat KUBE-FIREWALL (ending in KUBE-MARK-DROP) to filter
// KUBE-PROXY-FIREWALL -> KUBE-SOURCE-RANGES-FIREWALL (ending in DROP), hooked
// from INPUT and FORWARD; kube-proxy stops ensuring KUBE-MARK-DROP.
func (v Version) ipvsFirewallInFilter() bool { return v.atLeast(25) }

// ipvsHasIPVSFilter: filter KUBE-IPVS-FILTER (INPUT) REJECTs NEW
// connections to addresses on kube-ipvs0 (ipset KUBE-IPVS-IPS) unless they
// are a service ip:port, so host services are not reachable on every
// ClusterIP (#108460, 1.26; issue #72236).
func (v Version) ipvsHasIPVSFilter() bool { return v.atLeast(26) }

// ipvsFilterReturnsLocalExternalIPs: KUBE-IPVS-FILTER also RETURNs
// KUBE-EXTERNAL-IP-LOCAL. Without it (1.26, 1.27, and 1.28.0-1.28.4) NEW
// connections to eTP=Local externalIPs are REJECTed (issue #121909). Fixed by
// #121919 (1.30), cherry-picked to 1.28 (#121928) and 1.29 (#122323); as a
// minor renders like its latest patch, 1.28 and 1.29 have the fix and
// 1.26/1.27 (no cherry-pick) the regression.
func (v Version) ipvsFilterReturnsLocalExternalIPs() bool { return v.atLeast(28) }

// ipvsSkipsLoopbackSources: nat KUBE-SERVICES starts with
// "-s 127.0.0.0/8 -j RETURN" (observed: absent in v1.24.17, present in
// v1.28.15; guess: placed with KUBE-IPVS-FILTER at 1.26, the other change
// about host-originated traffic to VIPs).
func (v Version) ipvsSkipsLoopbackSources() bool { return v.atLeast(26) }

// ipvsMHSourceHash: the mh scheduler gets FlagSourceHash (0x10, "mh-port")
// (absent in v1.24.17, present in v1.28.15; guess: with #114878, which
// made any scheduler name acceptable, 1.27).
func (v Version) ipvsMHSourceHash() bool { return v.atLeast(27) }

// ipvsHasOutFilter: filter KUBE-IPVS-OUT-FILTER (OUTPUT) DROPs node-local
// traffic to a load balancer IP whose loadBalancerSourceRanges exclude the
// node IP (#119791, fixing #119656; opened in the 1.28 code freeze, so
// 1.29, inferred).
func (v Version) ipvsHasOutFilter() bool { return v.atLeast(29) }

// ipvsSkipsBindingNodeAddresses: an externalIP or LB IP that is already on
// another interface (a node IP) gets its virtual server but is not bound to
// kube-ipvs0 (and so is not in KUBE-IPVS-IPS). Observed: v1.24.17 binds it,
// v1.28.15 does not; guess: placed with #108460 (1.26), whose
// KUBE-IPVS-FILTER REJECT would otherwise hit the node IP itself.
func (v Version) ipvsSkipsBindingNodeAddresses() bool { return v.atLeast(26) }

// ipvsDeprecated: kube-proxy logs (klog error, and a Node event
// "IPVSDeprecation") at start that the IPVS proxier is deprecated (KEP-5495,
// #134539, 1.35; the same text in v1.36.3). ipvsWarning has the text.
func (v Version) ipvsDeprecated() bool { return v.atLeast(35) }

// ipvsModeGate: the KubeProxyIPVS feature gate (Deprecated, default on;
// #139397, 1.37). With it off, config validation refuses
// --proxy-mode=ipvs ("must be iptables, nftables or blank") and kube-proxy
// does not start; the start message names the removal plan.
func (v Version) ipvsModeGate() bool { return v.atLeast(37) }

// ipvsWarning is what kube-proxy logs at start in IPVS mode (the Mode's
// Warning), verbatim from cmd/kube-proxy/app/server_linux.go: "" before
// 1.35, and "" when the node's gates do not resolve or turn IPVS off
// (then there is no kube-proxy to log anything: IPVS refuses the node).
func ipvsWarning(v Version, overrides map[string]bool) string {
	if !v.ipvsDeprecated() {
		return ""
	}
	if !v.ipvsModeGate() {
		return "The ipvs proxier is now deprecated and may be removed in a future release. Please use 'nftables' instead."
	}
	gates, err := v.featureGates(overrides)
	if err != nil || !v.gateOn(gates, "KubeProxyIPVS") {
		return ""
	}
	return "The ipvs proxier has been deprecated and will be disabled by default in Kubernetes 1.40 and removed in Kubernetes 1.43. Migrate to the 'nftables' proxier instead."
}
