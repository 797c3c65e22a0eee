// Package cloud compiles what sits outside the nodes: the VPC (one vSwitch
// segment that every node's eth0 is on, and the VPC router that is every
// node's default gateway) and outside clients that reach the cluster only
// through that router. All of it lives in namespaces of the lab's own.
package cloud

import (
	"fmt"

	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// VSwitch is the bridge in the VPC namespace that joins the node NICs.
const VSwitch = "vswitch"

// GatewayMAC is the MAC Alibaba Cloud's vSwitch gateway answers with (Terway
// pins it as defaultMAC); using it makes neighbour tables look familiar.
const GatewayMAC = "ee:ff:ff:ff:ff:ff"

// NodeMTU is the underlay MTU of the VPC.
const NodeMTU = 1500

// Build adds the VPC namespace, each node's eth0 and default route, and the
// outside clients. p must already hold the nodes' and clients' namespaces.
func Build(p *plan.Plan, t *topology.Topology) {
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	nw := t.Network
	vpc.Sysctls = append(vpc.Sysctls, plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "1"})
	vpc.Links = append(vpc.Links, plan.Link{Name: VSwitch, Kind: plan.KindBridge, MTU: NodeMTU, MAC: GatewayMAC})
	vpc.Addrs = append(vpc.Addrs, plan.Addr{Dev: VSwitch, CIDR: fmt.Sprintf("%s/%d", nw.Gateway, nw.NodesPrefix.Bits())})

	for i := range t.Nodes {
		n := &t.Nodes[i]
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		ns.Links = append(ns.Links, plan.Link{
			Name: "eth0", Kind: plan.KindVeth, MTU: NodeMTU, MAC: plan.MAC("node", n.Name, "eth0"),
			Peer: &plan.Peer{Namespace: vpc.Name, Name: plan.Port("port", i), MTU: NodeMTU, MAC: plan.MAC("vpc", n.Name), Master: VSwitch},
		})
		ns.Addrs = append(ns.Addrs, plan.Addr{Dev: "eth0", CIDR: fmt.Sprintf("%s/%d", n.Addr, nw.NodesPrefix.Bits())})
		ns.Routes = append(ns.Routes, plan.Route{Dst: "default", Gw: nw.Gateway.String(), Dev: "eth0"})
	}

	// An outside client is a /32 behind its own port of the router, like a
	// host on the internet whose traffic the VPC's edge routes.
	for i := range t.Cloud.Clients {
		c := &t.Cloud.Clients[i]
		ns := p.Namespace(plan.NSName(p.Lab, c.Name))
		port := plan.Port("client", i)
		ns.Links = append(ns.Links, plan.Link{
			Name: "eth0", Kind: plan.KindVeth, MTU: NodeMTU, MAC: plan.MAC("client", c.Name, "eth0"),
			Peer: &plan.Peer{Namespace: vpc.Name, Name: port, MTU: NodeMTU, MAC: plan.MAC("vpc", "client", c.Name)},
		})
		ns.Addrs = append(ns.Addrs, plan.Addr{Dev: "eth0", CIDR: c.Addr.String() + "/32"})
		ns.Routes = append(ns.Routes,
			plan.Route{Dst: c.Gateway.String(), Dev: "eth0", Scope: "link"},
			plan.Route{Dst: "default", Gw: c.Gateway.String(), Dev: "eth0"})
		vpc.Addrs = append(vpc.Addrs, plan.Addr{Dev: port, CIDR: c.Gateway.String() + "/32"})
		vpc.Routes = append(vpc.Routes, plan.Route{Dst: c.Addr.String(), Dev: port, Scope: "link"})
	}
}
