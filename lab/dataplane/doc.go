// Package dataplane tells, from a node's compiled plan, what the first
// packet of a new connection to each of the node's Service addresses
// meets: the endpoints it can reach (and whether they see another source
// address), kube-proxy's userspace proxy, a reject, a drop, the node
// itself, no route, or nothing at all (routed on, not captured).
//
// Two kube-proxy modes write unrelated rule languages, so their texts do
// not line up; what both can be asked is what happens to a connection.
// Read parses one node namespace of a plan (iptables rulesets, nftables
// text, ipsets, IPVS virtual servers, userspace proxies, addresses and
// routes, whichever mode and CNI wrote them); Frontends lists the node's
// Service addresses and the clients that try each (a pod on the node, the
// node, a host outside, one inside a load balancer's source ranges), from
// the scenario alone; Connect answers for one client and one address, in
// words that do not depend on the mode. netlab diff asks two plans the
// same questions and compares the answers.
//
// It reads rules; it does not simulate the data path. Nothing here sends
// a packet or touches the kernel (the probes package observes a lab that
// is up), and of netlab it links only lab/plan and lab/topology
// (deps_test.go). What it does not model:
//
//   - Only the node: the answer is where the packet leaves the node or is
//     delivered on it, not what the next hop, the endpoint or the reply
//     does.
//   - Only the first packet of a new connection from source port 40000;
//     conntrack state is what that packet's own path sets up (its DNAT),
//     never an established or related connection.
//   - Where the kernel chooses by chance or by state it keeps (statistic,
//     numgen, IPVS scheduling, recent, affinity sets) the reading forks,
//     so every endpoint an address can reach shows up, unweighted.
//   - IPv4 only: ip6 tables are skipped.
//   - Routing is the main table by longest prefix, plus the node's own
//     addresses; policy routing tables and rules are not followed.
//   - The namespace's sysctls are not read: it forwards, and bridged
//     packets pass the IP hooks (br_netfilter), as on a Kubernetes node.
//   - It knows the matches, targets, expressions and statements
//     kube-proxy (iptables 1.1 on, nftables 1.29-1.37, IPVS, userspace)
//     and the CNIs write, not the whole of iptables or nft. A rule it does
//     not understand is skipped and every outcome it touched lists it as
//     uncertain; it is never guessed.
//   - A node's own connection never reports SNAT: its endpoint sees one of
//     the node's addresses either way.
package dataplane
