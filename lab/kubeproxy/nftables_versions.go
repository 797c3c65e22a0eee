package kubeproxy

// The nftables proxier's behaviour switches, each named after the change
// that made it, or marked observed/inferred like versions.go. Sources:
// kubernetes/kubernetes pkg/proxy/nftables/proxier.go at v1.29.6,
// v1.30.14, v1.31.14, v1.32.13, v1.33.13, v1.34.4, v1.35.4, v1.36.3 and
// v1.37.2 (netlab models the newest patch of each minor), the oracle's
// output at 1.31, 1.33, 1.35 and 1.37, and the CHANGELOG entries cited.

// nftSince is the first minor with the nftables mode: alpha behind the
// NFTablesProxyMode gate in 1.29 (KEP-3866, #121046), beta and on in
// 1.31, GA and locked in 1.33.
const nftSince = 29

// nftReworked1_30: the layout of 1.30, which three changes made out of
// the 1.29 alpha's:
//   - loadBalancerSourceRanges are enforced through a "firewall-ips"
//     verdict map into a per-service "firewall-" chain that drops other
//     sources, instead of a "firewall" set and an interval set
//     "firewall-allow" of (destination, source) pairs, which needs
//     kernel 5.6 ("change implementation of LoadBalancerSourceRanges for
//     wider kernel support", #122296);
//   - the firewall check runs before DNAT, from a new filter-prerouting
//     chain (and filter-output), and every filter chain moves from
//     dstnat-1 to dstnat-10; "endpoints-check" splits into
//     "nodeport-endpoints-check" (input) and "service-endpoints-check"
//     ("fix LoadBalancerSourceRanges not working for nftables mode",
//     #122614);
//   - a "cluster-ips" set and a "cluster-ips-check" chain reject traffic
//     to a ClusterIP on a port no Service has, and with ServiceCIDRs known
//     drop traffic to unallocated ClusterIPs (#122692).
//
// The 1.29 "forward" chain with its "ct state invalid drop" is gone too
// (observed: v1.29.6 has it, v1.30.14 does not).
func (v Version) nftReworked1_30() bool { return v.atLeast(30) }

// nftFirewallElemComment: the firewall-ips elements carry the service
// port's name as a comment (1.30; observed: v1.30.14 has it, v1.31.14
// does not).
func (v Version) nftFirewallElemComment() bool { return !v.atLeast(31) }

// nftPostDNATFilter: the no-endpoint and cluster-ips checks run in
// filter-input/-forward/-output at the filter priority (0), after DNAT,
// and the source-range check in filter-prerouting-pre-dnat /
// filter-output-pre-dnat at dstnat-10 ("reject/drop traffic to service
// with no endpoints from filter chains at priority 0", #132456, 1.34,
// backported: v1.33.13 has it, v1.32.13 does not, so placed at 1.33).
// Before, every filter chain ran at dstnat-10 (cluster-ips-check from a
// filter-output-post-dnat chain at dstnat+10), so a pod's packet to the
// LoadBalancer IP of an eTP=Local Service without a local endpoint was
// dropped before the short-circuit DNAT could send it to a remote one.
func (v Version) nftPostDNATFilter() bool { return v.atLeast(33) }

// nftMasqueradeWithoutPort: the ClusterIP masquerade rule of a service
// chain matches the ClusterIP alone, not "tcp dport PORT" (observed:
// v1.33.13 matches the port, v1.34.4 does not).
func (v Version) nftMasqueradeWithoutPort() bool { return v.atLeast(34) }

// nftDirectDNAT: the ruleset rewrite for large clusters ("improved CPU
// usage when loading very large rulesets", #135800, 1.36; observed in
// v1.36.3): no mark-for-masquerade chain (the mark is set inline); one
// ClusterIP masquerade rule in "services" on @cluster-ips; service chains
// DNAT straight to their endpoints through a numgen map, with endpoint
// chains and affinity sets only for ClientIP affinity; hairpin traffic is
// masqueraded by a "hairpin-connections" set of local endpoints instead
// of a rule per endpoint chain.
func (v Version) nftDirectDNAT() bool { return v.atLeast(36) }

// nftSingleEndpointDNAT: a policy chain with a single endpoint DNATs to
// it with a plain "dnat to IP:PORT", without a numgen map (observed:
// v1.37.2 does, v1.36.3 does not).
func (v Version) nftSingleEndpointDNAT() bool { return v.atLeast(37) }

// nftTruncatesComments: element comments (the service port name) are cut
// to knftables.CommentLengthMax, 128 characters; before, a longer name
// failed the whole transaction (observed: v1.37.2 truncates, v1.36.3
// does not).
func (v Version) nftTruncatesComments() bool { return v.atLeast(37) }

// nftDefaultPrimaryNodePorts: with --nodeport-addresses unset, the
// nftables mode accepts NodePorts on the node's primary IP only
// (platformApplyDefaults; with the "primary" keyword, #123105, 1.31;
// observed: v1.30.14 has neither). Before, every local address.
func (v Version) nftDefaultPrimaryNodePorts() bool { return v.atLeast(31) }
