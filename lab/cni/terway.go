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
	// BackendENI is "VPCENI" (ExclusiveENI): each pod gets an ENI of its
	// own, moved into the pod as eth0, and a veth (veth1 / cali) to the
	// node for Services and the node; the terway-masq rules of
	// exclusive-ENI node pools (Terway 1.11+) SNAT what the node forwards.
	BackendENI = "eni"
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
		Backends: []string{BackendENIIP, BackendENI},
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
	switch t.CNI.Backend {
	case BackendENIIP:
		return terwayENIIP(p, t)
	case BackendENI:
		return terwayExclusiveENI(p, t)
	}
	return fmt.Errorf("cni: terway backend %q is not supported", t.CNI.Backend)
}

// terwayHostSysctls are EnsureHostNsConfig's: forwarding on and rp_filter
// off everywhere; "default" covers the links created after them.
func terwayHostSysctls(ns *plan.Namespace) {
	for _, dev := range []string{"all", "default"} {
		ns.Sysctls = append(ns.Sysctls,
			plan.Sysctl{Key: "net.ipv4.conf." + dev + ".forwarding", Value: "1"},
			plan.Sysctl{Key: "net.ipv4.conf." + dev + ".rp_filter", Value: "0"})
	}
}

// attachENI plugs an ENI (the link named dev in namespace ns, MAC mac) into
// the VPC on port: the port answers for the vSwitch gateway, and the VPC
// delivers each of addrs to the ENI's MAC without ARP.
func attachENI(vpc, ns *plan.Namespace, dev, mac, port string, gw string, addrs []string) {
	ns.Links = append(ns.Links, plan.Link{
		Name: dev, Kind: plan.KindVeth, MTU: cloud.NodeMTU, MAC: mac,
		Peer: &plan.Peer{Namespace: vpc.Name, Name: port, MTU: cloud.NodeMTU, MAC: cloud.GatewayMAC},
	})
	vpc.Addrs = append(vpc.Addrs, plan.Addr{Dev: port, CIDR: gw + "/32"})
	for _, a := range addrs {
		vpc.Routes = append(vpc.Routes, plan.Route{Dst: a + "/32", Dev: port, Scope: "link"})
		vpc.Neighs = append(vpc.Neighs, plan.Neigh{Dev: port, IP: a, MAC: mac})
	}
}

func terwayENIIP(p *plan.Plan, t *topology.Topology) error {
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	// The pods' vSwitch is network.pods; every pod ENI is on it.
	podGW := topology.VSwitchGateway(t.Network.PodsPrefix)
	table := terwayTableBase + terwayENIIfindex
	var enis []cloud.ENI
	for i := range t.Nodes {
		n := &t.Nodes[i]
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		terwayHostSysctls(ns)
		// The pods' ENI holds the node's primary IP as /32: an ARP and
		// source address only, no connected route (nic.go).
		eniMAC := plan.MAC("eni", n.Name, terwayENI)
		port := plan.Port("eni", i)
		eni := cloud.ENI{Name: n.Name + "/" + terwayENI, Port: port, Addrs: []string{n.Addr.String()}, Groups: n.SecurityGroups}
		var pods []*topology.Pod
		for _, pod := range t.PodsOn(n.Name) {
			if !pod.HostNetwork {
				pods = append(pods, pod)
				eni.Addrs = append(eni.Addrs, pod.Addr.String())
			}
		}
		// eth1 first, for its ifindex; the VPC delivers the ENI's
		// secondary IPs to it (the node's IP stays on the vSwitch).
		attachENI(vpc, ns, terwayENI, eniMAC, port, podGW.String(), eni.Addrs[1:])
		ns.Addrs = append(ns.Addrs, plan.Addr{Dev: terwayENI, CIDR: n.Addr.String() + "/32"})
		ns.Routes = append(ns.Routes, plan.Route{Dst: "default", Gw: podGW.String(), Dev: terwayENI, Onlink: true, Table: table})
		for _, pod := range pods {
			eniipPod(p, ns, pod, table)
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

// terwayExclusiveENI is the exclusive-ENI datapath (exclusive_eni_linux.go): the
// pod's eth0 is its own ENI (podIP/32, default via the vSwitch gateway,
// straight into the VPC, where the ENI's security groups apply); veth1,
// with the same address, and the node's cali peer carry what goes to
// Services, the node and (none here) host-stack CIDRs; the node has a /32
// route to the pod on cali and no rules. What the node forwards for a pod
// (a Service's DNATed connection) leaves through the node's own eth0,
// SNATed by terway-masq so that the reply comes back to the node and not
// to the pod's ENI.
func terwayExclusiveENI(p *plan.Plan, t *topology.Topology) error {
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	podGW := topology.VSwitchGateway(t.Network.PodsPrefix).String()
	var enis []cloud.ENI
	pods := 0
	for i := range t.Nodes {
		n := &t.Nodes[i]
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		terwayHostSysctls(ns)
		// The node's primary ENI is in its groups too: the pods' ENIs
		// reach it, and what it SNATs, as a member.
		enis = append(enis, cloud.ENI{Name: n.Name + "/eth0", Addrs: []string{n.Addr.String()}, Groups: n.SecurityGroups})
		for _, pod := range t.PodsOn(n.Name) {
			if pod.HostNetwork {
				continue
			}
			podNS := p.Namespace(plan.NSName(p.Lab, pod.Name))
			podIP := pod.Addr.String()
			port := plan.Port("eni", pods)
			pods++
			attachENI(vpc, podNS, "eth0", plan.MAC("eni", pod.Name), port, podGW, []string{podIP})
			enis = append(enis, cloud.ENI{Name: pod.Name + "/eth0", Port: port, Addrs: []string{podIP}, Groups: n.SecurityGroups})
			cali := TerwayVethName("default", pod.Name)
			caliMAC := plan.MAC("node", pod.Node, cali)
			ns.Links = append(ns.Links, plan.Link{
				Name: cali, Kind: plan.KindVeth, MTU: cloud.NodeMTU, MAC: caliMAC,
				Peer: &plan.Peer{Namespace: podNS.Name, Name: "veth1", MTU: cloud.NodeMTU, MAC: plan.MAC("pod", pod.Name, "veth1")},
			})
			ns.Routes = append(ns.Routes, plan.Route{Dst: podIP + "/32", Dev: cali, Scope: "link"})
			podNS.Addrs = append(podNS.Addrs, plan.Addr{Dev: "eth0", CIDR: podIP + "/32"}, plan.Addr{Dev: "veth1", CIDR: podIP + "/32"})
			podNS.Routes = append(podNS.Routes,
				plan.Route{Dst: "default", Gw: podGW, Dev: "eth0", Onlink: true},
				plan.Route{Dst: terwayLinkLocal, Dev: "veth1", Scope: "link"},
				plan.Route{Dst: t.Network.ServicesPrefix.String(), Gw: terwayLinkLocal, Dev: "veth1", Onlink: true},
				plan.Route{Dst: n.Addr.String() + "/32", Gw: terwayLinkLocal, Dev: "veth1"})
			podNS.Neighs = append(podNS.Neighs, plan.Neigh{Dev: "veth1", IP: terwayLinkLocal, MAC: caliMAC})
		}
		// policy.go runExclusiveENI / uninstall_policy.sh masq_eni_only.
		r := &plan.Ruleset{}
		r.Append("nat", "POSTROUTING", `-m comment --comment "terway:masq-outgoing" ! -o lo -j terway-masq`)
		r.Append("nat", "terway-masq", "-j MASQUERADE")
		ns.IPTables = r
	}
	vpc.IPTables = vpc.IPTables.Merge(cloud.SecurityGroupRules(t, enis))
	return nil
}
