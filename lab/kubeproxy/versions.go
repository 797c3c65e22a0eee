package kubeproxy

import (
	"fmt"
	"regexp"
	"strconv"
)

// Version is a kube-proxy minor version. Patch releases are not modelled:
// a minor renders like its latest patch release as far as the sources used
// (the kubernetes/kubernetes commits and PRs each switch below cites, and
// for 1.22/1.24/1.28/1.31/1.33/1.35/1.37 the oracle's v1.22.17/v1.24.17/
// v1.28.15/v1.31.14/v1.33.13/v1.35.4/v1.37.2) tell.
type Version struct{ Major, Minor int }

// The supported range. 1.1 stands for the pre-1.2 iptables proxier
// (kubernetes/kubernetes pkg/proxy/iptables/proxier.go at commit 003b2318,
// late 2015): the opt-in iptables mode before the KUBE-MARK-MASQ rework.
var (
	MinVersion = Version{1, 1}
	MaxVersion = Version{1, 37}
)

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$`)

// ParseVersion accepts "1.28", "v1.28", "v1.28.15" (the patch is ignored).
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("kube-proxy version %q: want MAJOR.MINOR such as 1.28 or v1.28.15 (supported: %s to %s)", s, MinVersion, MaxVersion)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	v := Version{major, minor}
	if err := v.check(); err != nil {
		return Version{}, err
	}
	return v, nil
}

func (v Version) check() error {
	if v.less(MinVersion) || MaxVersion.less(v) {
		return fmt.Errorf("kube-proxy version %s is outside the supported range %s to %s", v, MinVersion, MaxVersion)
	}
	return nil
}

// String is "MAJOR.MINOR", e.g. "1.28".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

func (v Version) less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	return v.Minor < o.Minor
}

// atLeast reports whether v >= 1.minor.
func (v Version) atLeast(minor int) bool { return !v.less(Version{1, minor}) }

// AtLeast reports whether v is 1.minor or later.
func (v Version) AtLeast(minor int) bool { return v.atLeast(minor) }

// ---- behaviour switches -------------------------------------------------
//
// Every version-dependent behaviour of the iptables renderer is one of the
// predicates below, named after what it switches and citing the upstream
// change. "observed" means the switch is read off the real code of the
// versions on either side (the oracle's v1.22.17/v1.24.17/v1.28.15/v1.31.14/
// v1.33.13/v1.35.4/v1.37.2 sources, the v1.32.13/v1.34.4/v1.36.3 sources of
// the Go module proxy, or historic pkg/proxy/iptables/proxier.go copies:
// kubernetes@003b2318 before 1.2, the 1.2-era
// cloudlinux/kuberdock-kubernetes@37913d1f, the 1.9-era
// MrHohn/kubernetes@1b494c77) and the exact PR was not identified;
// "inferred" means the release is placed from PR dates or CHANGELOG-1.x
// text, not from code of that release.
//
// 1.32-1.37 change nothing in the iptables and IPVS proxiers' first sync
// itself (pkg/proxy/iptables and pkg/proxy/ipvs of v1.31.14 to v1.37.2
// differ in metrics, the sync runner, cleanup and config plumbing) but for
// --random-fully in 1.37 (hasRandomFully); the switches from 1.34 on are in
// the shared service and EndpointSlice code (pkg/proxy/*.go,
// pkg/proxy/util) and in cmd/kube-proxy/app.

// hasMarkMasqChain: KUBE-MARK-MASQ and KUBE-POSTROUTING with a configurable
// mark bit (default 14, 0x4000) replace the hard-coded mark 0x4d415351 set
// inline and matched in POSTROUTING (#20496, 1.2).
func (v Version) hasMarkMasqChain() bool { return v.atLeast(2) }

// setsBridgeNFCallIPTables: the pre-1.2 proxier (kubernetes@003b2318)
// loads br_netfilter and sets net.bridge.bridge-nf-call-iptables=1; from 1.2
// it only warns when the sysctl is not 1.
func (v Version) setsBridgeNFCallIPTables() bool { return !v.hasMarkMasqChain() }

// masqueradesByClusterCIDR: off-cluster traffic to a ClusterIP is
// masqueraded with "! -s <clusterCIDR>" when --cluster-cidr is set (#24429,
// shipped in v1.2.3; modelled from 1.2).
func (v Version) masqueradesByClusterCIDR() bool { return v.atLeast(2) }

// masqueradesExternalIPs: the "external IP" capture first jumps to the
// masquerade mark. The pre-1.2 proxier (kubernetes@003b2318) had it, the
// 1.2 tree comments it out, the 1.9 tree has it again; modelled as re-added
// with ESIPP in 1.5 (inferred).
func (v Version) masqueradesExternalIPs() bool { return !v.atLeast(2) || v.atLeast(5) }

// hasESIPP: externalTrafficPolicy=Local ("OnlyLocal", ESIPP) with KUBE-XLB-
// chains, KUBE-FW- chains for load balancer IPs with source ranges, and
// KUBE-MARK-DROP (#30486, 1.5; the release is inferred from the PR's
// history as issue #82125 retells it).
func (v Version) hasESIPP() bool { return v.atLeast(5) }

// rejectsFromInput: filter KUBE-SERVICES is hooked from INPUT as well as
// OUTPUT so that NodePorts without endpoints are rejected (#43972, 1.6).
func (v Version) rejectsFromInput() bool { return v.atLeast(6) }

// rejectsNodePortsWithoutEndpoints: a NodePort of a service without
// endpoints gets a filter REJECT (fixed together with #43972, 1.6).
func (v Version) rejectsNodePortsWithoutEndpoints() bool { return v.atLeast(6) }

// affinityTimeoutConfigurable: sessionAffinityConfig.clientIP.timeoutSeconds
// (API 1.7, #49850); before it the proxier hard-coded 180 s.
func (v Version) affinityTimeoutConfigurable() bool { return v.atLeast(7) }

// rejectsExternalIPsWithoutEndpoints: externalIPs of a service without
// endpoints get a filter REJECT too (issue #44516, 1.7; inferred).
func (v Version) rejectsExternalIPsWithoutEndpoints() bool { return v.atLeast(7) }

// hasKubeForward: filter KUBE-FORWARD accepts marked and established
// forwarded traffic, for nodes whose FORWARD policy is DROP (#52569, 1.9).
func (v Version) hasKubeForward() bool { return v.atLeast(9) }

// hasExternalServicesChain: filter KUBE-EXTERNAL-SERVICES, hooked from
// INPUT, takes the no-endpoint REJECTs of NodePorts and externalIPs; filter
// hooks match "-m conntrack --ctstate NEW"; --nodeport-addresses; service
// and capture chains are only written for services with endpoints (#56164
// and the 1.10 performance rework #57461/#60306).
func (v Version) hasExternalServicesChain() bool { return v.atLeast(10) }

// masqueradesLocalhostNodePorts: eTP=Local NodePorts reached on 127.0.0.1
// are masqueraded ("Fix localhost martian source error"); present in the
// 1.17 tree, absent in 1.9 (observed; placed at 1.10).
func (v Version) masqueradesLocalhostNodePorts() bool { return v.atLeast(10) }

// dropsCommentsInLargeClusters: over 1000 endpoints, per-endpoint rules are
// written without "-m comment" (#65755, 1.12).
func (v Version) dropsCommentsInLargeClusters() bool { return v.atLeast(12) }

// forwardsToServices: filter FORWARD and INPUT also jump to KUBE-SERVICES so
// pod traffic to services without endpoints is rejected (#72534 and #74394,
// 1.14; backported to 1.12/1.13).
func (v Version) forwardsToServices() bool { return v.atLeast(14) }

// dropsInvalid: KUBE-FORWARD drops conntrack INVALID packets (#74840,
// 1.15).
func (v Version) dropsInvalid() bool { return v.atLeast(15) }

// xlbRoutesLocalTraffic: KUBE-XLB masquerades and routes --src-type LOCAL
// traffic to KUBE-SVC, so the node itself reaches eTP=Local services
// (#77523, 1.15).
func (v Version) xlbRoutesLocalTraffic() bool { return v.atLeast(15) }

// hasRandomFully: MASQUERADE --random-fully when iptables supports it
// (#78547, 1.16 inferred). 1.16-1.36 ask the iptables binary
// (utiliptables.Interface.HasRandomFully, iptables >= 1.6.2); netlab
// assumes one that has it. From 1.37 kube-proxy writes it unconditionally:
// HasRandomFully and the iptables version probing are gone
// (randomFullyUnconditional).
func (v Version) hasRandomFully() bool { return v.atLeast(16) }

// randomFullyUnconditional: --random-fully no longer depends on the
// iptables binary; utiliptables.Interface lost HasRandomFully (observed:
// v1.36.3 asks, v1.37.2 does not). netlab's output does not change (it
// assumed the flag since 1.16); the oracle comparison stops discounting it.
func (v Version) randomFullyUnconditional() bool { return v.atLeast(37) }

// hasCanary: KUBE-PROXY-CANARY in mangle, nat and filter for
// iptables.Monitor (#81517, 1.17).
func (v Version) hasCanary() bool { return v.atLeast(17) }

// probabilityFormat: "%0.10f" since #83599 (1.17), "%0.5f" before.
func (v Version) probabilityFormat() string {
	if v.atLeast(17) {
		return "%0.10f"
	}
	return "%0.5f"
}

// forwardConntrackWithoutCIDR: the KUBE-FORWARD RELATED,ESTABLISHED accepts
// no longer match the cluster CIDR and are written without --cluster-cidr
// (#87748 / KEP "remove knowledge of pod cluster CIDR", 1.18; inferred).
func (v Version) forwardConntrackWithoutCIDR() bool { return v.atLeast(18) }

// hasXorMark: KUBE-POSTROUTING returns unmarked packets, clears the mark
// with --xor-mark and then masquerades; KUBE-MARK-MASQ uses --or-mark
// (#92035, 1.19; backported to 1.16.13/1.17.9/1.18.6).
func (v Version) hasXorMark() bool { return v.atLeast(19) }

// externalServicesFromForward: INPUT no longer jumps to filter
// KUBE-SERVICES; FORWARD jumps to KUBE-EXTERNAL-SERVICES, which also takes
// the load balancer IP REJECTs (#95252, 1.20).
func (v Version) externalServicesFromForward() bool { return v.atLeast(20) }

// ensuresMarkDropChain: kube-proxy EnsureChain()s the kubelet's nat
// KUBE-MARK-DROP (without touching its rule) before restoring rules that
// jump to it (#84422 reverted in 1.17; the ensure-only list is in 1.20 to
// 1.24, inferred start); gone with KEP-3178 in 1.25.
func (v Version) ensuresMarkDropChain() bool { return v.atLeast(20) && !v.hasProxyFirewall() }

// hasHealthCheckNodePortRule: filter KUBE-NODEPORTS (hooked from INPUT)
// accepts healthCheckNodePort (#97824, 1.21).
func (v Version) hasHealthCheckNodePortRule() bool { return v.atLeast(21) }

// hasServiceInternalTrafficPolicy: spec.internalTrafficPolicy is honoured
// when the ServiceInternalTrafficPolicy gate is on (alpha 1.21, beta and on
// 1.22 #103462, GA 1.26 #113496).
func (v Version) hasServiceInternalTrafficPolicy() bool { return v.atLeast(21) }

// hasMasqueradeInServiceChain: the per-service masquerade rules move from
// KUBE-SERVICES/KUBE-NODEPORTS into KUBE-SVC-, and externalIPs honour
// eTP=Local through KUBE-XLB- (#96959, 1.22).
func (v Version) hasMasqueradeInServiceChain() bool { return v.atLeast(22) }

// hasTerminatingEndpoints: serving+terminating endpoints are kept in the
// endpoints map and used as a fallback behind the ProxyTerminatingEndpoints
// gate (#97238, 1.22; see gateDefault for its defaults).
func (v Version) hasTerminatingEndpoints() bool { return v.atLeast(22) }

// hasKubeEXT: the rule reorganisation that replaces KUBE-XLB- with KUBE-EXT-
// (all external traffic) and KUBE-SVL- (local endpoints), makes iTP=Local
// behave like eTP=Local and keeps KUBE-SEP- chains only for usable
// endpoints (#109060 "rule reorg XLB->EXT" and #106497, 1.24).
func (v Version) hasKubeEXT() bool { return v.atLeast(24) }

// writesBareIPs: "-d 10.96.0.1" / "-s 10.244.1.2" without "/32" (observed:
// v1.22.17 writes utilproxy.ToCIDR, v1.24.17 the bare address; placed with
// the 1.24 rewrite).
func (v Version) writesBareIPs() bool { return v.atLeast(24) }

// routeLocalnetConditional: route_localnet=1 only when --nodeport-addresses
// includes IPv4 loopback (#107684, 1.24); unconditional before.
func (v Version) routeLocalnetConditional() bool { return v.atLeast(24) }

// hasProxyFirewall: KEP-3178 moves dropping into the filter table: new
// KUBE-PROXY-FIREWALL for loadBalancerSourceRanges (#110289) and filter DROP
// for "no local endpoints" (#110290); no more KUBE-MARK-DROP (1.25).
func (v Version) hasProxyFirewall() bool { return v.atLeast(25) }

// hasLocalhostNodePortsFlag: --iptables-localhost-nodeports (default true,
// #108250, 1.26): when off, no route_localnet and "! -d 127.0.0.0/8" on the
// NodePort dispatch rule.
func (v Version) hasLocalhostNodePortsFlag() bool { return v.atLeast(26) }

// ownsKubeFirewall: kube-proxy writes its own KUBE-FIREWALL "block incoming
// localnet connections" rule and INPUT/OUTPUT jumps, and the KUBE-FW- chain
// ends with an "other traffic ... dropped by KUBE-PROXY-FIREWALL" comment
// rule (#114470, 1.27).
func (v Version) ownsKubeFirewall() bool { return v.atLeast(27) }

// nodePortRulesIgnoreAddresses: NodePort rules are written even when no
// node address matches --nodeport-addresses (NodePortAddresses refactor;
// observed in v1.28.15, placed at 1.27).
func (v Version) nodePortRulesIgnoreAddresses() bool { return v.atLeast(27) }

// nfacctInvalidCounter: the INVALID drop counts into nfacct
// ct_state_invalid_dropped_pkts (#122812, 1.30) when the counter exists.
func (v Version) nfacctInvalidCounter() bool { return v.atLeast(30) }

// nfacctLocalhostNodePorts: NodePorts on 127.0.0.0/8 are first matched by a
// rule counting into nfacct localhost_nps_accepted_pkts (#125015, 1.31).
func (v Version) nfacctLocalhostNodePorts() bool { return v.atLeast(31) }

// normalizesSourceRanges: loadBalancerSourceRanges are parsed as CIDRs and
// written in canonical form (observed between v1.28.15 and v1.31.14; placed
// at 1.31).
func (v Version) normalizesSourceRanges() bool { return v.atLeast(31) }

// zeroSourceRangeAllowsAll: a loadBalancerSourceRange with prefix length 0
// ("0.0.0.0/0") means "allow any", as if the field were empty: no KUBE-FW-
// chain, no KUBE-LOAD-BALANCER-FW entry (#132722, fixing #132719, 1.34;
// observed: absent in v1.33.13, present in v1.34.4). Before, the iptables
// proxier wrote "-s 0.0.0.0/0" and the IPVS proxier's ipset add of the /0
// source failed (ipsetRefusesZeroNet).
func (v Version) zeroSourceRangeAllowsAll() bool { return v.atLeast(34) }

// zeroNodePortCIDRByPrefix: --nodeport-addresses matches every address
// when a CIDR has prefix length 0 (proxyutil.IsZeroCIDR takes the parsed
// *net.IPNet); before, only the literal strings "0.0.0.0/0" and "::/0" did,
// and e.g. "10.0.0.0/0" matched the node addresses one by one (observed:
// string compare in v1.33.13, prefix length in v1.34.4; changed with the
// IsZeroCIDR rework of #132722, inferred).
func (v Version) zeroNodePortCIDRByPrefix() bool { return v.atLeast(34) }

// prefersNonTerminatingDuplicate: of two endpoints with the same ip:port
// in a service port's EndpointSlices, the later one wins unless it is
// terminating ("pod IP reused while the old Pod still exists", #135593,
// fixing #135266, 1.36; observed: v1.35.4 keeps the first unless the
// later is local, v1.36.3 the new rule).
func (v Version) prefersNonTerminatingDuplicate() bool { return v.atLeast(36) }

// hasExternalIPsGate: the AllowServiceExternalIPs gate (KEP-5707, #137293,
// 1.36; GA since 1.0, default on): when off, no rules are written for
// spec.externalIPs (ServicePort.ExternalIPs() is empty), but the port still
// counts as externally accessible (ExternallyAccessible reads the field),
// so its KUBE-EXT- chain and Cluster endpoints stay.
func (v Version) hasExternalIPsGate() bool { return v.atLeast(36) }

// nodePortAddressPrimary: --nodeport-addresses accepts the single keyword
// "primary", the node's primary IP(s) as /32 (/128) (#123105, 1.31: its
// release note is in the 1.31 notes; observed in v1.31.14).
// nodePortAddressKeywords extends it.
func (v Version) nodePortAddressPrimary() bool { return v.atLeast(31) }

// nodePortAddressKeywords: --nodeport-addresses takes the keywords
// "primary", "localhost" (127.0.0.0/8, ::1/128) and "all" (0.0.0.0/0,
// ::/0) in any combination with each other and with CIDRs, each at most
// once (#138427, 1.37; expandNodePortAddressKeywords in cmd/kube-proxy/app,
// observed: absent in v1.36.3).
func (v Version) nodePortAddressKeywords() bool { return v.atLeast(37) }

// ---- feature gates ------------------------------------------------------

// gateSpec is one feature gate the renderer knows, by version.
type gateSpec struct {
	since   int // first minor with the gate
	removed int // first minor without it (0 = still there in MaxVersion)
	// defaults by minor: on from onSince, locked (GA) from lockedSince
	onSince, lockedSince int
}

var gates = map[string]gateSpec{
	// #97238 alpha 1.22, #113363 beta 1.26, GA 1.28, removed 1.30.
	"ProxyTerminatingEndpoints": {since: 22, removed: 30, onSince: 26, lockedSince: 28},
	// alpha 1.21, #103462 beta 1.22, #113496 GA 1.26, removed 1.28.
	"ServiceInternalTrafficPolicy": {since: 21, removed: 28, onSince: 22, lockedSince: 26},
	// Accepted for fidelity with the oracle; hints are not modelled, so it
	// has no effect. alpha 1.21, beta 1.23 (on from 1.24, #108747), GA and
	// locked 1.33 (#130742), removed 1.36 (#136112).
	"TopologyAwareHints": {since: 21, removed: 36, onSince: 24, lockedSince: 33},
	// Partial restores only change later syncs; no effect on the first
	// full sync modelled here. alpha 1.26, beta 1.27, GA 1.28, gone 1.30.
	"MinimizeIPTablesRestore": {since: 26, removed: 30, onSince: 27, lockedSince: 28},
	// Off: no rules for spec.externalIPs (hasExternalIPsGate). New in 1.36
	// as GA and on, for the deprecation of externalIPs (KEP-5707, #137293).
	"AllowServiceExternalIPs": {since: 36, onSince: 36},
	// Off: --proxy-mode=ipvs fails config validation (ipvsRefusedByGate).
	// New in 1.37, Deprecated and on (KEP-5495, #139397).
	"KubeProxyIPVS": {since: 37, onSince: 37},
	// Off: --proxy-mode=nftables is refused. alpha 1.29 (KEP-3866,
	// #121046), beta and on 1.31, GA and locked 1.33.
	"NFTablesProxyMode": {since: 29, onSince: 31, lockedSince: 33},
	// On: kube-proxy watches ServiceCIDR objects (Node.ServiceCIDRs), which
	// only the nftables mode uses. alpha 1.27, beta (off) 1.31, GA and on
	// 1.33, locked 1.34.
	"MultiCIDRServiceAllocator": {since: 27, onSince: 33, lockedSince: 34},
	// On: the nftables mode rejects (or proxies, with an explicit loopback
	// --nodeport-addresses) NodePorts on 127.0.0.1. alpha (off) 1.37;
	// netlab refuses it on (nftLocalhostNodePortsRefused).
	"KubeProxyNFTablesLocalhostNodePorts": {since: 37},
}

// featureGates resolves the node's gate overrides against v's defaults.
// Unknown gates, gates that v does not have and changes to locked (GA)
// gates are errors, as in kube-proxy (and the oracle).
func (v Version) featureGates(overrides map[string]bool) (map[string]bool, error) {
	out := map[string]bool{}
	for name, g := range gates {
		if v.atLeast(g.since) && (g.removed == 0 || !v.atLeast(g.removed)) {
			out[name] = g.onSince != 0 && v.atLeast(g.onSince)
		}
	}
	for name, val := range overrides {
		def, ok := out[name]
		if !ok {
			return nil, fmt.Errorf("feature gate %q is not known to kube-proxy %s", name, v)
		}
		if g := gates[name]; g.lockedSince != 0 && v.atLeast(g.lockedSince) && val != def {
			return nil, fmt.Errorf("feature gate %q is GA in kube-proxy %s and locked to %v", name, v, def)
		}
		out[name] = val
	}
	return out, nil
}

// gateOn reports whether a gate is enabled; a gate removed after going GA
// is on.
func (v Version) gateOn(resolved map[string]bool, name string) bool {
	if val, ok := resolved[name]; ok {
		return val
	}
	g := gates[name]
	return g.removed != 0 && v.atLeast(g.removed) && g.lockedSince != 0
}
