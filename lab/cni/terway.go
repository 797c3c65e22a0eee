// Terway, Alibaba Cloud's CNI (AliyunContainerService/terway), as its CNI
// plugin wires a node: plugin/datapath/policy_router_linux.go (ENIIP, the
// veth + policy routing datapath), plugin/driver/veth, plugin/driver/utils
// (table and rule numbers), pkg/link/veth.go (the cali veth names) and
// plugin/datapath/consts_linux.go. The VPC side stands in for Alibaba
// Cloud's SDN: an ENI is a veth pair from the node into the VPC namespace,
// which delivers each of the ENI's addresses to the ENI's MAC without ARP.
//
// Built: ENIIP (pods on a secondary ENI's secondary IPs), ENI exclusive
// and ENI trunking (member ENIs by VLAN on a trunk ENI). Not yet: ENIIP
// with ipvlan.

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
	// BackendTrunking is ENIIP on a trunk ENI with member ENIs: the pods
	// with security groups of their own (a PodNetworking's) get a member
	// ENI each, reached through a VLAN on the trunk.
	BackendTrunking = "trunking"
	// BackendIPVlan is ENIIP on the IPvlan L2 datapath without eBPF
	// (eniip_virtual_type ipvlan, Terway's ipvlan_linux.go): pods are
	// ipvlan slaves of the ENI; the ServiceCIDR reaches kube-proxy by a tc
	// redirect into the node's own slave.
	BackendIPVlan = "ipvlan"
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
	// tc priorities of the trunk ENI's filters (utils_linux.go).
	terwayPopPrio  = 20000
	terwayPushPrio = 50001
	// terwayFirstVLAN is the VLAN of a node's first member ENI, the next
	// ones counting up. Terway uses the member ENI's DeviceIndex on the
	// trunk, which the cloud assigns; seed 001's pod has 1027.
	terwayFirstVLAN = 1027
	// terwayRedirectPrio is the ServiceCIDR redirect filter's (ipvlan).
	terwayRedirectPrio = 40000
)

// terwayEBPF are Terway's datapaths that need Cilium's eBPF programs.
var terwayEBPF = map[string]string{
	"datapathv2":  "Terway's DataPath V2 is veth + policy routing with chained Cilium eBPF (Service load balancing, NetworkPolicy), which netlab does not run; use eniip for the veth datapath",
	"ipvlan-ebpf": "Terway's IPvlan + eBPF runs Cilium's eBPF Service load balancing inside each pod, which netlab does not run; use ipvlan for the IPvlan L2 datapath with the tc ServiceCIDR redirect",
}

func init() {
	Register(Plugin{Name: "terway",
		Backends:        []string{BackendENIIP, BackendENI, BackendTrunking, BackendIPVlan},
		PodENIBackends:  []string{BackendENI, BackendTrunking},
		VLANBackends:    []string{BackendTrunking},
		RefusedBackends: terwayEBPF,
		Needs: func(c topology.CNI) []kernel.Feature {
			switch c.Backend {
			case BackendTrunking:
				return []kernel.Feature{kernel.PolicyRouting, kernel.VLAN, kernel.ActVlan}
			case BackendIPVlan:
				return []kernel.Feature{kernel.Ipvlan, kernel.ActMirred}
			}
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
	case BackendTrunking:
		return terwayVethPolicy(p, t, true)
	case BackendIPVlan:
		return terwayIPVlan(p, t)
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

func terwayENIIP(p *plan.Plan, t *topology.Topology) error { return terwayVethPolicy(p, t, false) }

// terwayVethPolicy wires ENIIP's veth + policy routing datapath on each
// node's eth1; with trunk, eth1 is the trunk ENI (§ENI trunking, the
// default "filter" vlan_strip_type: utils_linux.go EnsureVlanTag /
// EnsureVlanUntagger): a pod with security groups of its own has a member
// ENI, and its frames leave eth1 tagged with the member's VLAN (a tc u32
// filter per pod source, prio 50001) and come back untagged (one filter
// popping every tag, prio 20000); in the VPC the member ENI is an 802.1Q
// sub-interface of the trunk's port, under the pod's groups. Untagged
// frames (ARP for the gateway, the node's own and other pods' traffic)
// stay the trunk's.
func terwayVethPolicy(p *plan.Plan, t *topology.Topology, trunk bool) error {
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	// The pods' vSwitch is network.pods; every pod ENI is on it.
	podGW := topology.VSwitchGateway(t.Network.PodsPrefix).String()
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
		var pods, members []*topology.Pod
		for _, pod := range t.PodsOn(n.Name) {
			switch {
			case pod.HostNetwork:
			case trunk && len(pod.SecurityGroups) > 0:
				pods, members = append(pods, pod), append(members, pod)
			default:
				pods = append(pods, pod)
				eni.Addrs = append(eni.Addrs, pod.Addr.String())
			}
		}
		// eth1 first, for its ifindex; the VPC delivers the ENI's
		// secondary IPs to it (the node's IP stays on the vSwitch).
		attachENI(vpc, ns, terwayENI, eniMAC, port, podGW, eni.Addrs[1:])
		ns.Addrs = append(ns.Addrs, plan.Addr{Dev: terwayENI, CIDR: n.Addr.String() + "/32"})
		ns.Routes = append(ns.Routes, plan.Route{Dst: "default", Gw: podGW, Dev: terwayENI, Onlink: true, Table: table})
		for _, pod := range pods {
			eniipPod(p, ns, pod, table)
		}
		enis = append(enis, eni)
		if trunk {
			ns.TC = append(ns.TC, plan.TCFilter{Dev: terwayENI, Dir: "ingress", Prio: terwayPopPrio, Protocol: "802.1Q"})
		}
		vids := memberVLANs(members)
		for k, pod := range members {
			vid := vids[k]
			member := fmt.Sprintf("%s.%d", port, vid)
			podIP := pod.Addr.String()
			ns.TC = append(ns.TC, plan.TCFilter{Dev: terwayENI, Dir: "egress", Prio: terwayPushPrio, Protocol: "ip", Src: podIP + "/32", PushVLAN: vid})
			vpc.Links = append(vpc.Links, plan.Link{Name: member, Kind: plan.KindVLAN, MTU: cloud.NodeMTU, MAC: cloud.GatewayMAC, VLAN: &plan.VLAN{Parent: port, ID: vid}})
			vpc.Addrs = append(vpc.Addrs, plan.Addr{Dev: member, CIDR: podGW + "/32"})
			vpc.Routes = append(vpc.Routes, plan.Route{Dst: podIP + "/32", Dev: member, Scope: "link"})
			vpc.Neighs = append(vpc.Neighs, plan.Neigh{Dev: member, IP: podIP, MAC: eniMAC})
			enis = append(enis, cloud.ENI{Name: fmt.Sprintf("%s's member ENI (VLAN %d)", pod.Name, vid), Port: member, Addrs: []string{podIP}, Groups: pod.SecurityGroups})
		}
	}
	// The shared ENI inherits the node's security groups (Terway's
	// security_group(s) config is the node's, by default).
	vpc.IPTables = vpc.IPTables.Merge(cloud.SourceCheckRules(enis)).Merge(cloud.SecurityGroupRules(t, enis))
	return nil
}

// memberVLANs gives each member ENI of a node its VLAN: the pod's own
// (vlan: in the scenario, from its PodENI), else the next free one from
// terwayFirstVLAN up, in pod order. Validation keeps a node's VLANs
// distinct.
func memberVLANs(members []*topology.Pod) []int {
	taken := map[int]bool{}
	for _, pod := range members {
		taken[pod.VLAN] = pod.VLAN != 0
	}
	vids := make([]int, len(members))
	next := terwayFirstVLAN
	for k, pod := range members {
		if vids[k] = pod.VLAN; vids[k] == 0 {
			for taken[next] {
				next++
			}
			vids[k], taken[next] = next, true
		}
	}
	return vids
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
			groups := n.SecurityGroups
			if len(pod.SecurityGroups) > 0 {
				groups = pod.SecurityGroups // the pod's own ENI, its own groups
			}
			enis = append(enis, cloud.ENI{Name: pod.Name + "/eth0", Port: port, Addrs: []string{podIP}, Groups: groups})
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
	vpc.IPTables = vpc.IPTables.Merge(cloud.SourceCheckRules(enis)).Merge(cloud.SecurityGroupRules(t, enis))
	return nil
}

// terwayIPVlan wires ENIIP's IPvlan L2 datapath (ipvlan_linux.go, no
// eBPF) on each node's ENI eth1: the node's own slave ipvl_3 (3: eth1's
// ifindex), NOARP, holding the node IP with scope host; each pod's eth0 a
// slave too, with its address on the vSwitch prefix, its default route
// via the vSwitch gateway and the node's IP on-link with the shared MAC
// (the slaves all have eth1's), so that ipvlan hands a frame for the node
// to ipvl_3. On the node, a /32 route per pod via ipvl_3, no rules. The
// ENI's clsact egress redirects the ServiceCIDR into ipvl_3's ingress as
// the host's packets, where kube-proxy sees them; the reply of a pod
// that a Service sent elsewhere goes from slave to slave, or into the
// VPC, past the client's node (why real clusters add Cilium's eBPF). The
// VPC answers ARP for its addresses (a vSwitch does), since pods reach
// the vSwitch prefix on-link.
func terwayIPVlan(p *plan.Plan, t *topology.Topology) error {
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	vpc.Sysctls = append(vpc.Sysctls, plan.Sysctl{Key: "net.ipv4.conf.default.proxy_arp", Value: "1"})
	podGW := topology.VSwitchGateway(t.Network.PodsPrefix).String()
	bits := t.Network.PodsPrefix.Bits()
	ipvl := fmt.Sprintf("ipvl_%d", terwayENIIfindex)
	var enis []cloud.ENI
	for i := range t.Nodes {
		n := &t.Nodes[i]
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		terwayHostSysctls(ns)
		nodeIP := n.Addr.String()
		eniMAC := plan.MAC("eni", n.Name, terwayENI)
		port := plan.Port("eni", i)
		eni := cloud.ENI{Name: n.Name + "/" + terwayENI, Port: port, Addrs: []string{nodeIP}, Groups: n.SecurityGroups}
		var pods []*topology.Pod
		for _, pod := range t.PodsOn(n.Name) {
			if !pod.HostNetwork {
				pods = append(pods, pod)
				eni.Addrs = append(eni.Addrs, pod.Addr.String())
			}
		}
		attachENI(vpc, ns, terwayENI, eniMAC, port, podGW, eni.Addrs[1:])
		enis = append(enis, eni)
		ns.Links = append(ns.Links, plan.Link{Name: ipvl, Kind: plan.KindIPVlan, MTU: cloud.NodeMTU, NoARP: true, IPVlan: &plan.IPVlan{Parent: terwayENI}})
		ns.Addrs = append(ns.Addrs, plan.Addr{Dev: ipvl, CIDR: nodeIP + "/32", Scope: "host"})
		ns.TC = append(ns.TC, plan.TCFilter{Dev: terwayENI, Dir: "egress", Prio: terwayRedirectPrio, Protocol: "ip", Dst: t.Network.ServicesPrefix.String(), Redirect: ipvl})
		for _, pod := range pods {
			podNS := p.Namespace(plan.NSName(p.Lab, pod.Name))
			podIP := pod.Addr.String()
			podNS.Links = append(podNS.Links, plan.Link{Name: "eth0", Kind: plan.KindIPVlan, MTU: cloud.NodeMTU, IPVlan: &plan.IPVlan{Parent: terwayENI, ParentNamespace: ns.Name, CreateAs: TerwayVethName("default", pod.Name)}})
			podNS.Addrs = append(podNS.Addrs, plan.Addr{Dev: "eth0", CIDR: fmt.Sprintf("%s/%d", podIP, bits)})
			podNS.Routes = append(podNS.Routes,
				plan.Route{Dst: "default", Gw: podGW, Dev: "eth0", Onlink: true},
				plan.Route{Dst: nodeIP + "/32", Dev: "eth0", Scope: "link"})
			podNS.Neighs = append(podNS.Neighs, plan.Neigh{Dev: "eth0", IP: nodeIP, MAC: eniMAC})
			ns.Routes = append(ns.Routes, plan.Route{Dst: podIP + "/32", Dev: ipvl, Scope: "link"})
		}
	}
	vpc.IPTables = vpc.IPTables.Merge(cloud.SourceCheckRules(enis)).Merge(cloud.SecurityGroupRules(t, enis))
	return nil
}
