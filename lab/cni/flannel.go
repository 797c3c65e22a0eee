// Flannel, as upstream builds it: flannel-io/flannel (pkg/backend/vxlan,
// pkg/backend/hostgw, pkg/backend/alivpc for the VPC route table, and
// pkg/trafficmngr/iptables for the masquerade and forward rules),
// flannel-io/cni-plugin (flannel_linux.go, which delegates to the bridge
// plugin) and containernetworking/plugins (plugins/main/bridge).

package cni

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/netlab/netlab/lab/cloud"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// Flannel constants (flannel pkg/backend/vxlan, cni-plugin, bridge plugin).
const (
	BridgeName    = "cni0"      // bridge plugin defaultBrName
	DockerBridge  = "docker0"   // flannel <= 0.8: pods are Docker containers
	VXLANDevice   = "flannel.1" // "flannel.<VNI>"
	VXLANVNI      = 1           // defaultVNI
	VXLANPort     = 8472        // dstport unset in flannel: the kernel default
	VXLANOverhead = 50          // encapOverhead: FLANNEL_MTU = NIC MTU - 50
)

// Flannel's backends (the "Type" of its net-conf.json Backend).
const (
	BackendVXLAN    = "vxlan"
	BackendHostGW   = "host-gw"
	BackendVPCRoute = "vpc-route" // alivpc: ACK Flannel on the VPC route table
)

func init() {
	Register(Plugin{Name: "flannel", Default: true,
		Backends: []string{BackendVXLAN, BackendHostGW, BackendVPCRoute},
		Validate: validateFlannel,
		Needs: func(c topology.CNI) []kernel.Feature {
			if c.Backend == BackendVXLAN {
				return []kernel.Feature{kernel.VXLAN}
			}
			return nil
		},
		Build: flannel})
}

// flannelVersionRE is a flannel release (0.7, v0.22.0); the digit counts
// keep each part an int (a 20-digit minor would parse as 0 and pass for
// 0.7's layout).
var flannelVersionRE = regexp.MustCompile(`^v?(\d{1,3})\.(\d{1,3})(\.\d{1,4})?$`)

// legacyFlannel reports the flannel <= 0.8 layout: flannel.1 holding
// <lease>.0/<Network prefix> (one connected route for the whole Network,
// no per-node routes), pods on docker0 behind Docker's masquerade.
func legacyFlannel(c topology.CNI) bool {
	m := flannelVersionRE.FindStringSubmatch(c.Version)
	if m == nil {
		return false
	}
	minor, _ := strconv.Atoi(m[2])
	return m[1] == "0" && minor < 9
}

// validateFlannel checks cni.version: a flannel release, and before 0.9
// only with the vxlan backend (the one layout modelled for it).
func validateFlannel(r topology.Reporter, c *topology.CNI) {
	v := c.Version
	switch {
	case v == "":
	case !flannelVersionRE.MatchString(v):
		r(c.Line, "cni.version", `write a flannel version such as "0.7" or "0.22.0"`, "%q is not a version", v)
	case legacyFlannel(*c) && c.Backend != BackendVXLAN:
		r(c.Line, "cni.version", "use backend vxlan, or leave version out", "only the vxlan backend is modelled for flannel %s (the pre-0.9 layout)", v)
	}
}

func flannel(p *plan.Plan, t *topology.Topology) error {
	mtu := cloud.NodeMTU
	if t.CNI.Backend == BackendVXLAN {
		mtu -= VXLANOverhead
	}
	vpc := p.Namespace(plan.NSName(p.Lab, "vpc"))
	legacy := legacyFlannel(t.CNI)
	br := BridgeName
	if legacy {
		br = DockerBridge
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		// bridge plugin with isGateway (or Docker's --bip): the bridge holds
		// the first address of the node's block; ip_forward is on.
		ns.Sysctls = append(ns.Sysctls, plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "1"})
		ns.Links = append(ns.Links, plan.Link{Name: br, Kind: plan.KindBridge, MTU: mtu, MAC: plan.MAC("node", n.Name, br)})
		ns.Addrs = append(ns.Addrs, plan.Addr{Dev: br, CIDR: fmt.Sprintf("%s/%d", n.Gateway, n.PodNet.Bits())})
		for _, pod := range t.PodsOn(n.Name) {
			if pod.HostNetwork {
				continue
			}
			podPod(p, t, n, ns, pod, mtu, br, !legacy)
		}
		if legacy {
			legacyVXLANNode(t, n, ns)
			ns.IPTables = dockerRules(n)
			continue
		}
		switch t.CNI.Backend {
		case BackendVXLAN:
			vxlanNode(t, n, ns, mtu)
		case BackendHostGW:
			// One route per remote lease through the remote node's NIC;
			// the nodes share the vSwitch segment (hostgw.go).
			for j := range t.Nodes {
				r := &t.Nodes[j]
				if r.Name != n.Name {
					ns.Routes = append(ns.Routes, plan.Route{Dst: r.PodNet.String(), Gw: r.Addr.String(), Dev: "eth0"})
				}
			}
		case BackendVPCRoute:
			// The VPC route table sends each node's block to that node
			// (ACK: one route entry per node, written by CCM); the node
			// itself only has its default route to the VPC router.
			vpc.Routes = append(vpc.Routes, plan.Route{Dst: n.PodNet.String(), Gw: n.Addr.String(), Dev: cloud.VSwitch})
		default:
			return fmt.Errorf("cni: flannel backend %q is not supported", t.CNI.Backend)
		}
		ns.IPTables = flannelRules(t, n)
	}
	return nil
}

// podPod builds one pod as the bridge plugin does under flannel: a veth
// whose host end (veth<8 hex>) is a hairpin port of cni0, the pod's eth0
// with its address, the route to the flannel Network and the default
// route, both via the bridge's .1.
//
// A Docker container (flannel <= 0.8) has only the default route.
func podPod(p *plan.Plan, t *topology.Topology, n *topology.Node, ns *plan.Namespace, pod *topology.Pod, mtu int, bridge string, networkRoute bool) {
	podNS := p.Namespace(plan.NSName(p.Lab, pod.Name))
	ns.Links = append(ns.Links, plan.Link{
		Name: plan.VethName(pod.Name), Kind: plan.KindVeth, MTU: mtu, MAC: plan.MAC("node", n.Name, pod.Name),
		Master: bridge, Hairpin: bridge == BridgeName,
		Peer: &plan.Peer{Namespace: podNS.Name, Name: "eth0", MTU: mtu, MAC: plan.MAC("pod", pod.Name, "eth0")},
	})
	podNS.Addrs = append(podNS.Addrs, plan.Addr{Dev: "eth0", CIDR: fmt.Sprintf("%s/%d", pod.Addr, n.PodNet.Bits())})
	if networkRoute {
		podNS.Routes = append(podNS.Routes, plan.Route{Dst: t.Network.PodsPrefix.String(), Gw: n.Gateway.String(), Dev: "eth0"})
	}
	podNS.Routes = append(podNS.Routes, plan.Route{Dst: "default", Gw: n.Gateway.String(), Dev: "eth0"})
}

// legacyVXLANNode is flannel <= 0.8's VXLAN (flannel v0.7.0
// backend/vxlan/{vxlan.go,device.go,network.go}, the layout that commit
// 5d3d6642 "backend/vxlan: simplify vxlan processing" replaced for v0.9.0;
// pods on docker0 as dist/mk-docker-opts.sh's --bip set it up): flannel.1
// holds <lease>.0/<Network prefix>, so one connected route covers the
// whole Network and there are no per-node routes; an FDB entry per remote
// host. flanneld answered ARP misses for remote pods
// (app_solicit=3, L3 miss) with one neighbour entry each; with no miss
// daemon here, the same entries are installed up front, for every remote
// pod and each remote lease's .0 (flannel.1) and .1 (docker0).
func legacyVXLANNode(t *topology.Topology, n *topology.Node, ns *plan.Namespace) {
	ns.Links = append(ns.Links, plan.Link{
		Name: VXLANDevice, Kind: plan.KindVXLAN, MTU: cloud.NodeMTU - VXLANOverhead, MAC: vtepMAC(n),
		VXLAN: &plan.VXLAN{VNI: VXLANVNI, Dev: "eth0", Local: n.Addr.String(), Port: VXLANPort},
	})
	ns.Addrs = append(ns.Addrs, plan.Addr{Dev: VXLANDevice, CIDR: fmt.Sprintf("%s/%d", n.PodNet.Addr(), t.Network.PodsPrefix.Bits())})
	for j := range t.Nodes {
		r := &t.Nodes[j]
		if r.Name == n.Name {
			continue
		}
		ns.FDB = append(ns.FDB, plan.FDB{Dev: VXLANDevice, MAC: vtepMAC(r), Dst: r.Addr.String()})
		ips := []string{r.PodNet.Addr().String(), r.Gateway.String()}
		for _, pod := range t.PodsOn(r.Name) {
			if !pod.HostNetwork {
				ips = append(ips, pod.Addr.String())
			}
		}
		for _, ip := range ips {
			ns.Neighs = append(ns.Neighs, plan.Neigh{Dev: VXLANDevice, IP: ip, MAC: vtepMAC(r)})
		}
	}
}

// dockerRules is Docker's nat setup for its bridge (pre-1.13 Docker,
// FORWARD left to ACCEPT): the DOCKER chain for published ports (none
// here) and the bridge network's masquerade, which also catches pod
// traffic leaving through flannel.1 (flanneld ran without --ip-masq, so
// Docker's own rule stayed: seed 003).
func dockerRules(n *topology.Node) *plan.Ruleset {
	r := &plan.Ruleset{}
	r.Append("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j DOCKER")
	r.Append("nat", "OUTPUT", "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER")
	r.Append("nat", "POSTROUTING", fmt.Sprintf("-s %s ! -o %s -j MASQUERADE", n.PodNet, DockerBridge))
	r.Append("nat", "DOCKER", "-i "+DockerBridge+" -j RETURN")
	return r
}

// vxlanNode builds flannel.1 (VNI 1, nolearning, MTU NIC-50, the lease's
// .0/32) and, for every other node in flanneld's order, the permanent
// neighbour for its .0, the FDB entry for its VTEP and the onlink route.
func vxlanNode(t *topology.Topology, n *topology.Node, ns *plan.Namespace, mtu int) {
	ns.Links = append(ns.Links, plan.Link{
		Name: VXLANDevice, Kind: plan.KindVXLAN, MTU: mtu, MAC: vtepMAC(n),
		VXLAN: &plan.VXLAN{VNI: VXLANVNI, Dev: "eth0", Local: n.Addr.String(), Port: VXLANPort},
	})
	ns.Addrs = append(ns.Addrs, plan.Addr{Dev: VXLANDevice, CIDR: n.PodNet.Addr().String() + "/32"})
	for j := range t.Nodes {
		r := &t.Nodes[j]
		if r.Name == n.Name {
			continue
		}
		ns.Neighs = append(ns.Neighs, plan.Neigh{Dev: VXLANDevice, IP: r.PodNet.Addr().String(), MAC: vtepMAC(r)})
		ns.FDB = append(ns.FDB, plan.FDB{Dev: VXLANDevice, MAC: vtepMAC(r), Dst: r.Addr.String()})
		ns.Routes = append(ns.Routes, plan.Route{Dst: r.PodNet.String(), Gw: r.PodNet.Addr().String(), Dev: VXLANDevice, Onlink: true})
	}
}

func vtepMAC(n *topology.Node) string { return plan.MAC("node", n.Name, VXLANDevice) }

// flannelRules is flanneld's --ip-masq and forward rules (v0.20.0+ layout,
// pkg/trafficmngr/iptables): pod-to-pod and pod-to-cluster traffic keeps its
// source; pod-to-outside is masqueraded; kube-proxy's 0x4000 mark is left to
// kube-proxy.
func flannelRules(t *topology.Topology, n *topology.Node) *plan.Ruleset {
	c, pn := t.Network.PodsPrefix.String(), n.PodNet.String()
	const masq = `-m comment --comment "flanneld masq"`
	const fwd = `-m comment --comment "flanneld forward"`
	r := &plan.Ruleset{}
	r.Append("nat", "POSTROUTING", masq+" -j FLANNEL-POSTRTG")
	r.Append("nat", "FLANNEL-POSTRTG",
		"-m mark --mark 0x4000/0x4000 "+masq+" -j RETURN",
		fmt.Sprintf("-s %s -d %s %s -j RETURN", pn, c, masq),
		fmt.Sprintf("-s %s -d %s %s -j RETURN", c, pn, masq),
		fmt.Sprintf("! -s %s -d %s %s -j RETURN", c, pn, masq),
		fmt.Sprintf("-s %s ! -d 224.0.0.0/4 %s -j MASQUERADE --random-fully", c, masq),
		fmt.Sprintf("! -s %s -d %s %s -j MASQUERADE --random-fully", c, c, masq))
	r.Append("filter", "FORWARD", fwd+" -j FLANNEL-FWD")
	r.Append("filter", "FLANNEL-FWD",
		fmt.Sprintf("-s %s %s -j ACCEPT", c, fwd),
		fmt.Sprintf("-d %s %s -j ACCEPT", c, fwd))
	return r
}
