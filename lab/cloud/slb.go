package cloud

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// The SLB (Alibaba Cloud's layer-4 CLB, as in the ACK articles) lives in
// its own namespace behind the VPC router. The router sends every
// LoadBalancer IP to it; it DNATs LBIP:port to nodeIP:NodePort of a backend
// node and keeps the client's address (no SNAT). Replies leave the nodes
// with the NodePort as source port; a policy rule in the router sends those
// back through the SLB, whose conntrack entry turns them back into
// LBIP:port. (Replies of a probe straight to a NodePort take the same
// detour; the SLB has no entry for them and forwards them unchanged.)
// loadBalancerSourceRanges become the listener's ACL, as ACK's cloud
// controller configures it: the SLB, not kube-proxy, drops other clients,
// because the nodes only ever see NodeIP:NodePort from it.
const (
	SLBPort     = "slb" // the router's end of the link
	SLBRouterIP = "100.100.0.1"
	SLBIP       = "100.100.0.2"
	SLBTable    = 100
	// PinBase is the first client source port that pins the SLB's choice:
	// a connection from source port PinBase+PinWidth*i .. +PinWidth-1 goes
	// to node i. Labs keep ephemeral ports below PinBase.
	PinBase  = 60000
	PinWidth = 32
	// EphemeralRange is net.ipv4.ip_local_port_range in every lab
	// namespace, so that no ordinary connection lands in a pin range.
	EphemeralRange = "32768 59999"
)

// PinPorts returns the source port range that makes the SLB pick node i.
func PinPorts(i int) (int, int) { return PinBase + PinWidth*i, PinBase + PinWidth*i + PinWidth - 1 }

// MaxPinnedNodes is how many nodes can be pinned.
const MaxPinnedNodes = (65536 - PinBase) / PinWidth

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

// Backends are the nodes the SLB sends a Service to: every node for
// externalTrafficPolicy Cluster; for Local only nodes with a ready local
// endpoint, because the SLB's health check against healthCheckNodePort
// fails everywhere else.
func Backends(t *topology.Topology, s *topology.Service) []*topology.Node {
	var out []*topology.Node
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if s.ExternalTrafficPolicy != topology.PolicyLocal {
			out = append(out, n)
			continue
		}
		for _, p := range t.Endpoints(s) {
			if p.Node == n.Name && p.IsReady() {
				out = append(out, n)
				break
			}
		}
	}
	return out
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
	vpc.Routes = append(vpc.Routes, plan.Route{Dst: "default", Gw: SLBIP, Dev: SLBPort, Table: SLBTable})
	for i, proto := range []string{"tcp", "udp"} {
		vpc.Rules = append(vpc.Rules, plan.Rule{Priority: 100 + i, IIF: VSwitch, Proto: proto,
			SPort: [2]int{topology.NodePortMin, topology.NodePortMax}, Table: SLBTable})
	}
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
		route(s.LBAddr.String())
		backends := Backends(t, s)
		for _, sp := range s.Ports {
			proto := strings.ToLower(sp.Protocol)
			name := fmt.Sprintf("%s/%s", s.Namespace, s.Name)
			if sp.Name != "" {
				name += ":" + sp.Name
			}
			chain := "SLB-" + hash(name+proto)
			match := fmt.Sprintf("-d %s/32 -p %s -m %s --dport %d", s.LBAddr, proto, proto, sp.Port)
			if len(s.LoadBalancerSourceRanges) == 0 {
				r.Append("nat", "PREROUTING", fmt.Sprintf(`%s -m comment --comment "%s listener" -j %s`, match, name, chain))
			} else {
				// The cloud controller turns loadBalancerSourceRanges into the
				// listener's access control list: other clients are never
				// forwarded (left addressed to the LB IP, they are dropped).
				for _, src := range s.LoadBalancerSourceRanges {
					r.Append("nat", "PREROUTING", fmt.Sprintf(`%s -s %s -m comment --comment "%s listener ACL" -j %s`, match, src, name, chain))
				}
				r.Append("filter", "FORWARD", fmt.Sprintf(`%s -m comment --comment "%s not in the listener ACL" -j DROP`, match, name))
			}
			if len(backends) == 0 {
				// No healthy backend: the listener refuses connections.
				reject := "REJECT"
				if proto == "tcp" {
					reject += " --reject-with tcp-reset"
				}
				r.Append("filter", "FORWARD", fmt.Sprintf(`%s -m comment --comment "%s has no healthy backend" -j %s`, match, name, reject))
				continue
			}
			for _, n := range backends {
				lo, hi := PinPorts(n.Index)
				r.Append("nat", chain, fmt.Sprintf(`-p %s -m %s --sport %d:%d -m comment --comment "pinned to %s" -j DNAT --to-destination %s:%d`,
					proto, proto, lo, hi, n.Name, n.Addr, sp.NodePort))
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
	listeners(t, vpc, r, route)
	slb.IPTables = r
}

// listeners forwards the SLB's own listeners to the outside hosts behind
// them, keeping the client's address like the Service listeners. The
// backend's replies are sent back through the SLB by a policy rule on its
// router port (source port = the backend port), where conntrack turns them
// back into LBIP:port.
func listeners(t *topology.Topology, vpc *plan.Namespace, r *plan.Ruleset, route func(string)) {
	ruled := map[string]bool{}
	for i, l := range t.Cloud.Listeners {
		route(l.Addr.String())
		b := t.Client(l.Backend)
		r.Append("nat", "PREROUTING", fmt.Sprintf(`-d %s/32 -p tcp -m tcp --dport %d -m comment --comment "listener %d: %s" -j DNAT --to-destination %s:%d`,
			l.Addr, l.Port, i, b.Name, b.Addr, l.BackendPort))
		port := plan.Port("client", slices.IndexFunc(t.Cloud.Clients, func(c topology.Client) bool { return c.Name == b.Name }))
		key := fmt.Sprintf("%s/%d", port, l.BackendPort)
		if !ruled[key] {
			ruled[key] = true
			vpc.Rules = append(vpc.Rules, plan.Rule{Priority: 110 + len(ruled) - 1, IIF: port, Proto: "tcp",
				SPort: [2]int{l.BackendPort, l.BackendPort}, Table: SLBTable})
		}
	}
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:16]
}
