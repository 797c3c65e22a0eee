// Terway, Alibaba Cloud's CNI (AliyunContainerService/terway), as its CNI
// plugin wires a node: plugin/datapath/policy_router_linux.go (ENIIP, the
// veth + policy routing datapath), plugin/driver/veth, plugin/driver/utils
// (table and rule numbers), pkg/link/veth.go (the cali veth names) and
// plugin/datapath/consts_linux.go. The VPC side stands in for Alibaba
// Cloud's SDN: an ENI is a veth pair from the node into the VPC namespace,
// which delivers each of the ENI's addresses to the ENI's MAC without ARP.
//
// Built: the ENIIP backend (pods on a secondary ENI's secondary IPs). Not
// yet: ENI exclusive, ENIIP with ipvlan, ENI trunking and security groups.

package cni

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"

	"github.com/netlab/netlab/lab/cloud"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// Terway's backends (its IPType and datapath).
const (
	// BackendENIIP is "ENIMultiIP" on the veth policy-route datapath: the
	// pods hold secondary IPs of a secondary ENI and reach the host over
	// a cali veth; the rules 512/2048 and the ENI's table route them.
	BackendENIIP = "eniip"
)

// Terway constants.
const (
	// terwayLinkLocal is the pods' gateway, held by no interface: the pod
	// reaches it through a permanent neighbour entry for its cali peer.
	terwayLinkLocal = "169.254.1.1"
	// Rule priorities (policy_router_linux.go toContainerPriority /
	// fromContainerPriority).
	terwayToPodPriority   = 512
	terwayFromPodPriority = 2048
	// terwayTableBase + the ENI's ifindex is the ENI's routing table
	// (utils_linux.go GetRouteTableID).
	terwayTableBase = 1000
	// terwayENI is the pods' ENI on the node (the instance's second NIC;
	// eth0 is the primary ENI) and terwayENIIfindex its ifindex there as
	// on an ECS instance and in netlab's node namespaces: lo 1, eth0 2,
	// eth1 3, each created in that order (TestTerwayENITable checks it).
	terwayENI        = "eth1"
	terwayENIIfindex = 3
)

func init() {
	Register(Plugin{Name: "terway",
		Backends: []string{BackendENIIP},
		Needs: func(topology.CNI) []kernel.Feature {
			return []kernel.Feature{kernel.PolicyRouting}
		},
		Build:          terway,
		SecurityGroups: true})
}

// TerwayVethName is Terway's host veth name for a pod, Calico's scheme:
// "cali" + the first 11 hex digits of sha1("<namespace>.<pod>").
func TerwayVethName(namespace, pod string) string {
	sum := sha1.Sum([]byte(namespace + "." + pod))
	return "cali" + hex.EncodeToString(sum[:])[:11]
}

func terway(p *plan.Plan, t *topology.Topology) error {
	if t.CNI.Backend != BackendENIIP {
		return fmt.Errorf("cni: terway backend %q is not supported", t.CNI.Backend)
	}
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	// The pods' vSwitch is network.pods; every pod ENI is on it.
	podGW := topology.VSwitchGateway(t.Network.PodsPrefix)
	table := terwayTableBase + terwayENIIfindex
	var enis []cloud.ENI
	for i := range t.Nodes {
		n := &t.Nodes[i]
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		// EnsureHostNsConfig: forwarding on and rp_filter off everywhere;
		// "default" covers the links created after it.
		for _, dev := range []string{"all", "default"} {
			ns.Sysctls = append(ns.Sysctls,
				plan.Sysctl{Key: "net.ipv4.conf." + dev + ".forwarding", Value: "1"},
				plan.Sysctl{Key: "net.ipv4.conf." + dev + ".rp_filter", Value: "0"})
		}
		// The pods' ENI holds the node's primary IP as /32: an ARP and
		// source address only, no connected route (nic.go).
		eniMAC := plan.MAC("eni", n.Name, terwayENI)
		port := plan.Port("eni", i)
		ns.Links = append(ns.Links, plan.Link{
			Name: terwayENI, Kind: plan.KindVeth, MTU: cloud.NodeMTU, MAC: eniMAC,
			Peer: &plan.Peer{Namespace: vpc.Name, Name: port, MTU: cloud.NodeMTU, MAC: cloud.GatewayMAC},
		})
		ns.Addrs = append(ns.Addrs, plan.Addr{Dev: terwayENI, CIDR: n.Addr.String() + "/32"})
		ns.Routes = append(ns.Routes, plan.Route{Dst: "default", Gw: podGW.String(), Dev: terwayENI, Onlink: true, Table: table})
		// The VPC side of the ENI answers for the vSwitch gateway.
		vpc.Addrs = append(vpc.Addrs, plan.Addr{Dev: port, CIDR: podGW.String() + "/32"})
		eni := cloud.ENI{Name: n.Name + "/" + terwayENI, Port: port, Addrs: []string{n.Addr.String()}, Groups: n.SecurityGroups}
		for _, pod := range t.PodsOn(n.Name) {
			if pod.HostNetwork {
				continue
			}
			eniipPod(p, ns, pod, table)
			// The VPC delivers the ENI's secondary IP to the ENI's MAC.
			vpc.Routes = append(vpc.Routes, plan.Route{Dst: pod.Addr.String() + "/32", Dev: port, Scope: "link"})
			vpc.Neighs = append(vpc.Neighs, plan.Neigh{Dev: port, IP: pod.Addr.String(), MAC: eniMAC})
			eni.Addrs = append(eni.Addrs, pod.Addr.String())
		}
		enis = append(enis, eni)
	}
	// The ENI inherits the node's security groups (Terway's
	// security_group(s) config is the node's, by default).
	vpc.IPTables = vpc.IPTables.Merge(cloud.SecurityGroupRules(t, enis))
	return nil
}

// eniipPod is GenerateContCfgForPolicy / GenerateHostPeerCfgForPolicy: the
// pod's eth0 with its /32 and a default route to 169.254.1.1, a neighbour
// entry that is the host peer's MAC; on the node the cali veth, the /32
// route to it and the two rules.
func eniipPod(p *plan.Plan, ns *plan.Namespace, pod *topology.Pod, table int) {
	podNS := p.Namespace(plan.NSName(p.Lab, pod.Name))
	cali := TerwayVethName("default", pod.Name)
	caliMAC := plan.MAC("node", pod.Node, cali)
	ns.Links = append(ns.Links, plan.Link{
		Name: cali, Kind: plan.KindVeth, MTU: cloud.NodeMTU, MAC: caliMAC,
		Peer: &plan.Peer{Namespace: podNS.Name, Name: "eth0", MTU: cloud.NodeMTU, MAC: plan.MAC("pod", pod.Name, "eth0")},
	})
	podIP := pod.Addr.String() + "/32"
	podNS.Addrs = append(podNS.Addrs, plan.Addr{Dev: "eth0", CIDR: podIP})
	podNS.Routes = append(podNS.Routes, plan.Route{Dst: "default", Gw: terwayLinkLocal, Dev: "eth0", Onlink: true})
	podNS.Neighs = append(podNS.Neighs, plan.Neigh{Dev: "eth0", IP: terwayLinkLocal, MAC: caliMAC})
	ns.Routes = append(ns.Routes, plan.Route{Dst: podIP, Dev: cali, Scope: "link"})
	ns.Rules = append(ns.Rules,
		plan.Rule{Priority: terwayToPodPriority, To: podIP, Table: plan.TableMain},
		plan.Rule{Priority: terwayFromPodPriority, From: podIP, Table: table})
}
