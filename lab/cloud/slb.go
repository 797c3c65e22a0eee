package cloud

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"

	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// The SLB (Alibaba Cloud's layer-4 CLB, as in the ACK articles) lives in
// its own namespace behind the VPC router. The router sends every
// LoadBalancer IP to it; it DNATs LBIP:port to nodeIP:NodePort of a backend
// node and keeps the client's address (no SNAT). The backend's replies go
// to the client's address, which is not the SLB's, so the VPC router has to
// hand them back to the SLB, whose conntrack entry turns them back into
// LBIP:port (see returnRules). loadBalancerSourceRanges become the
// listener's ACL, as ACK's cloud controller configures it: the SLB, not
// kube-proxy, drops other clients, because the nodes only ever see
// NodeIP:NodePort from it.
const (
	SLBPort     = "slb" // the router's end of the link
	SLBRouterIP = "100.100.0.1"
	SLBIP       = "100.100.0.2"
	// forwardedMark is the connmark bit the VPC router gives connections
	// the SLB forwarded.
	forwardedMark = "0x1/0x1"
)

// NeedsSLB reports whether the topology has a LoadBalancer Service or a
// listener of its own.
func NeedsSLB(t *topology.Topology) bool {
	if len(t.Cloud.Listeners) > 0 {
		return true
	}
	for _, s := range t.Services {
		if s.Type == topology.TypeLoadBalancer && s.LBAddr.IsValid() {
			return true
		}
	}
	return false
}

// BuildSLB adds the SLB namespace (already in p) and its routing in the
// VPC router.
func BuildSLB(p *plan.Plan, t *topology.Topology) {
	slb := p.Namespace(plan.NSName(p.Lab, "slb"))
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	slb.Sysctls = append(slb.Sysctls, plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "1"})
	slb.Links = append(slb.Links, plan.Link{
		Name: "eth0", Kind: plan.KindVeth, MTU: NodeMTU, MAC: plan.MAC("slb", "eth0"),
		Peer: &plan.Peer{Namespace: vpc.Name, Name: SLBPort, MTU: NodeMTU, MAC: plan.MAC("vpc", "slb")},
	})
	slb.Addrs = append(slb.Addrs, plan.Addr{Dev: "eth0", CIDR: SLBIP + "/30"})
	slb.Routes = append(slb.Routes, plan.Route{Dst: "default", Gw: SLBRouterIP, Dev: "eth0"})
	vpc.Addrs = append(vpc.Addrs, plan.Addr{Dev: SLBPort, CIDR: SLBRouterIP + "/30"})
	returnRules(vpc)
	r := &plan.Ruleset{}
	routed := map[string]bool{}
	route := func(ip string) {
		if !routed[ip] {
			routed[ip] = true
			vpc.Routes = append(vpc.Routes, plan.Route{Dst: ip, Gw: SLBIP, Dev: SLBPort})
		}
	}
	for i := range t.Services {
		s := &t.Services[i]
		if s.Type != topology.TypeLoadBalancer || !s.LBAddr.IsValid() {
			continue
		}
		for i, in := range s.LBIngress {
			route(in.Addr.String())
			listenersOf(r, t, s, in, i)
		}
	}
	listeners(t, r, route)
	slb.IPTables = r
}

// listenersOf writes the SLB's listeners of one of a Service's load
// balancer addresses (in, the i-th of its ingress): one per port, each
// forwarding to nodeIP:nodePort of the backend nodes, or refusing the
// connection when it has none. The first address keeps the chain names it
// always had; the others' carry their address.
func listenersOf(r *plan.Ruleset, t *topology.Topology, s *topology.Service, in topology.LBIngress, i int) {
	backends := t.LBBackends(s)
	for _, sp := range s.Ports {
		proto := strings.ToLower(sp.Protocol)
		name := fmt.Sprintf("%s/%s", s.Namespace, s.Name)
		if sp.Name != "" {
			name += ":" + sp.Name
		}
		key := name + proto
		if i > 0 {
			key += "@" + in.Addr.String()
		}
		chain := "SLB-" + hash(key)
		match := fmt.Sprintf("-d %s/32 -p %s -m %s --dport %d", in.Addr, proto, proto, sp.Port)
		refuse := ""
		switch {
		case sp.NodePort == 0:
			// allocateLoadBalancerNodePorts: false. The CLB's backends are
			// the nodes (ECS instances), reached on the nodePort: without
			// one the cloud controller has no backend to add.
			refuse = "has no nodePort, and the SLB backends are nodes (allocateLoadBalancerNodePorts: false)"
		case len(backends) == 0:
			refuse = "has no healthy backend"
		}
		if len(s.LoadBalancerSourceRanges) > 0 {
			// The cloud controller turns loadBalancerSourceRanges into the
			// listener's access control list: other clients are never
			// forwarded (left addressed to the LB IP, they are dropped).
			if refuse == "" {
				for _, src := range s.LoadBalancerSourceRanges {
					r.Append("nat", "PREROUTING", fmt.Sprintf(`%s -s %s -m comment --comment "%s listener ACL" -j %s`, match, src, name, chain))
				}
			}
			r.Append("filter", "FORWARD", fmt.Sprintf(`%s -m comment --comment "%s not in the listener ACL" -j DROP`, match, name))
		} else if refuse == "" {
			r.Append("nat", "PREROUTING", fmt.Sprintf(`%s -m comment --comment "%s listener" -j %s`, match, name, chain))
		}
		if refuse != "" {
			// No backend: the listener refuses connections (and its chain,
			// which would be empty, is not written).
			reject := "REJECT"
			if proto == "tcp" {
				reject += " --reject-with tcp-reset"
			}
			r.Append("filter", "FORWARD", fmt.Sprintf(`%s -m comment --comment "%s %s" -j %s`, match, name, refuse, reject))
			continue
		}
		for _, n := range backends {
			if n.Index >= topology.MaxPinnedNodes {
				continue
			}
			r.Append("nat", chain, fmt.Sprintf(`-p %s -m dscp --dscp 0x%02x -m comment --comment "pinned to %s" -j DNAT --to-destination %s:%d`,
				proto, topology.PinDSCP(n.Index), n.Name, n.Addr, sp.NodePort))
		}
		for j, n := range backends {
			stat := ""
			if left := len(backends) - j; left > 1 {
				stat = fmt.Sprintf(" -m statistic --mode random --probability %0.10f", 1/float64(left))
			}
			r.Append("nat", chain, fmt.Sprintf(`-p %s -m comment --comment "backend %s"%s -j DNAT --to-destination %s:%d`, proto, n.Name, stat, n.Addr, sp.NodePort))
		}
	}
}

// listeners forwards the SLB's own listeners to the outside hosts behind
// them, keeping the client's address like the Service listeners; the
// router hands the backend's replies back to the SLB as for a node's.
func listeners(t *topology.Topology, r *plan.Ruleset, route func(string)) {
	for i, l := range t.Cloud.Listeners {
		route(l.Addr.String())
		b := t.Client(l.Backend)
		r.Append("nat", "PREROUTING", fmt.Sprintf(`-d %s/32 -p tcp -m tcp --dport %d -m comment --comment "listener %d: %s" -j DNAT --to-destination %s:%d`,
			l.Addr, l.Port, i, b.Name, b.Addr, l.BackendPort))
	}
}

// returnRules makes the VPC router send every reply of a connection the
// SLB forwarded back through the SLB, and nothing else. The router marks a
// connection (connmark) when its first packet comes out of the SLB: only
// forwarded connections do (the SLB's answers to its clients are replies of
// the client's own connection to the LB IP, never new ones). A packet in
// the reply direction of a marked connection, arriving from anywhere but
// the SLB, is the backend's answer: the router passes a copy to the SLB
// (TEE), where conntrack undoes the DNAT and sends it on to the client as
// LBIP:port, and drops the original.
//
// A copy rather than a route (a connmark restored into a fwmark policy
// rule), because a backend answering a client on the same vSwitch (a node
// reaching an LB IP that points back into the cluster) sends its reply to
// that node's MAC: the vSwitch bridge switches the frame and no route of
// the router is ever asked. br_netfilter shows such frames to the router's
// iptables, which can copy them to the SLB and stop the original, the same
// for switched and routed replies.
//
// Being exact about which packets are replies matters: a rule by source
// port (the NodePort range, say) also catches ordinary traffic whose port
// happens to lie in it, such as a masqueraded flow (random source ports).
func returnRules(vpc *plan.Namespace) {
	vpc.Sysctls = append(vpc.Sysctls, plan.Sysctl{Key: "net.bridge.bridge-nf-call-iptables", Value: "1"})
	if vpc.IPTables == nil {
		vpc.IPTables = &plan.Ruleset{}
	}
	r := vpc.IPTables
	r.Append("mangle", "PREROUTING",
		fmt.Sprintf(`-i %s -m conntrack --ctstate NEW -m comment --comment "a connection the SLB forwarded" -j CONNMARK --set-xmark %s`, SLBPort, forwardedMark),
		fmt.Sprintf(`! -i %s -m conntrack --ctdir REPLY -m connmark --mark %s -m comment --comment "a backend's reply through the SLB" -j %s`, SLBPort, forwardedMark, returnChain))
	r.Append("mangle", returnChain,
		fmt.Sprintf(`-m comment --comment "to the SLB, which undoes its DNAT" -j TEE --gateway %s`, SLBIP),
		`-m comment --comment "not past the SLB" -j DROP`)
}

// returnChain is the VPC router's chain that hands replies to the SLB.
const returnChain = "SLB-RETURN"

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:16]
}
