package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Defaults for fields a scenario may leave out.
const (
	DefaultNodesCIDR    = "10.0.0.0/16"
	DefaultPodsCIDR     = "10.244.0.0/16"
	DefaultServicesCIDR = "10.96.0.0/12"
	DefaultPodCIDRSize  = 24
	MaxNameLen          = 40
)

// Supported CNI plugins and their backends; the first backend is the default.

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// reserved names are namespaces the lab itself uses.
var reserved = map[string]bool{"vpc": true, "slb": true}

// ValidName reports whether s can name a lab, node, pod or client (it
// becomes part of a network namespace name).
func ValidName(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%q is longer than %d characters", s, MaxNameLen)
	}
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%q is not a DNS label (lower-case letters, digits and '-', starting and ending alphanumeric)", s)
	}
	return nil
}

func applyDefaultsAndValidate(c *collector, t *Topology) {
	if err := ValidName(t.Name); err != nil {
		c.add(t.Line, "name", "give the scenario a short name such as flannel-vxlan", "name %v", err)
	}
	validateCNI(c, t)
	validateNetwork(c, t)
	names := map[string]string{} // name -> kind, unique across nodes, pods, clients
	claim := func(line int, field, kind, name string) {
		if err := ValidName(name); err != nil {
			c.add(line, field, "use a name like node-1 or nginx-1", "%s name %v", kind, err)
			return
		}
		if reserved[name] {
			c.add(line, field, "pick another name", "%q is reserved for the lab's VPC / SLB namespaces", name)
			return
		}
		if prev, ok := names[name]; ok {
			c.add(line, field, "names must be unique across nodes, pods and clients (each becomes a namespace)", "%q is already the name of a %s", name, prev)
			return
		}
		names[name] = kind
	}
	if len(t.Nodes) == 0 {
		c.add(t.Line, "nodes", "add at least one node: nodes: [{name: node-1}]", "the scenario has no nodes")
	}
	validateNodes(c, t, claim)
	validatePods(c, t, claim)
	validateClients(c, t, claim)
	validateSecurityGroups(c, t)
	validateKubeProxy(c, t)
	validateServices(c, t)
	validateListeners(c, t)
	if len(c.ps) == 0 {
		validateProbes(c, t)
	}
}

// validateCNI checks the plugin and backend against the registered
// plugins, defaults them, and lets the plugin check its own fields.
func validateCNI(c *collector, t *Topology) {
	if t.CNI.Plugin == "" {
		if def, ok := defaultCNIPlugin(); ok {
			t.CNI.Plugin = def.Name
		}
	}
	pl, ok := CNIPlugin(t.CNI.Plugin)
	if !ok {
		c.add(t.CNI.Line, "cni.plugin", "supported plugins: "+strings.Join(CNIPluginNames(), ", "), "unknown CNI plugin %q", t.CNI.Plugin)
		return
	}
	if t.CNI.Backend == "" && len(pl.Backends) > 0 {
		t.CNI.Backend = pl.Backends[0]
	}
	if pl.Validate != nil {
		pl.Validate(c.add, &t.CNI)
	}
	if why, ok := pl.RefusedBackends[t.CNI.Backend]; ok {
		c.add(t.CNI.Line, "cni.backend", backendsFix(pl), "%s backend %q is not built: %s", t.CNI.Plugin, t.CNI.Backend, why)
		return
	}
	if !slices.Contains(pl.Backends, t.CNI.Backend) {
		c.add(t.CNI.Line, "cni.backend", backendsFix(pl), "unknown %s backend %q", t.CNI.Plugin, t.CNI.Backend)
	}
}

func backendsFix(pl CNIPluginInfo) string {
	return fmt.Sprintf("%s backends: %s", pl.Name, strings.Join(pl.Backends, ", "))
}

// parseCIDR checks an IPv4 network prefix and says how to fix it.
// On a problem it returns the zero Prefix, so that nothing derives
// addresses from a prefix that was refused (an IPv6 one would panic in
// the IPv4 arithmetic).
func parseCIDR(c *collector, line int, field, s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		c.add(line, field, "write a CIDR such as 10.244.0.0/16", "%q is not a CIDR", s)
	case !p.Addr().Is4():
		c.add(line, field, "use an IPv4 CIDR", "%q: only IPv4 is supported", s)
	case p.Masked() != p:
		c.add(line, field, fmt.Sprintf("write %s", p.Masked()), "%q has host bits set", s)
	default:
		return p, true
	}
	return netip.Prefix{}, false
}

func parseIP(c *collector, line int, field, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		c.add(line, field, "write an IPv4 address such as 10.0.0.10", "%q is not an IPv4 address", s)
		return a, false
	}
	return a, true
}

func validateNetwork(c *collector, t *Topology) {
	n := &t.Network
	if n.Nodes == "" {
		n.Nodes = DefaultNodesCIDR
	}
	if n.Pods == "" {
		n.Pods = DefaultPodsCIDR
	}
	if n.Services == "" {
		n.Services = DefaultServicesCIDR
	}
	if n.PodCIDRSize == 0 {
		n.PodCIDRSize = DefaultPodCIDRSize
	}
	var ok1, ok2, ok3 bool
	n.NodesPrefix, ok1 = parseCIDR(c, n.Line, "network.nodes", n.Nodes)
	n.PodsPrefix, ok2 = parseCIDR(c, n.Line, "network.pods", n.Pods)
	n.ServicesPrefix, ok3 = parseCIDR(c, n.Line, "network.services", n.Services)
	if ok1 {
		if n.NodesPrefix.Bits() > 29 {
			c.add(n.Line, "network.nodes", "use a /29 or larger", "%s is too small for nodes and a gateway", n.Nodes)
		} else {
			n.Gateway = nthFromEnd(n.NodesPrefix, 3)
		}
	}
	validatePodCIDRSize(c, n)
	type named struct {
		field string
		p     netip.Prefix
		ok    bool
	}
	all := []named{{"network.nodes", n.NodesPrefix, ok1}, {"network.pods", n.PodsPrefix, ok2}, {"network.services", n.ServicesPrefix, ok3}}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			// Old flannel clusters often carved the hosts' network out of
			// the flannel Network (seed 003: hosts 172.17.0.0/16 inside
			// 172.16.0.0/12): the hosts' more specific route wins. Allowed
			// as long as no node's pod block overlaps it (validateNodes).
			if i == 0 && j == 1 && ok1 && ok2 && n.PodsPrefix.Bits() < n.NodesPrefix.Bits() && n.PodsPrefix.Contains(n.NodesPrefix.Addr()) {
				continue
			}
			if all[i].ok && all[j].ok && all[i].p.Overlaps(all[j].p) {
				c.add(n.Line, all[j].field, "give nodes, pods and services disjoint CIDRs", "%s overlaps %s %s", all[j].p, all[i].field, all[i].p)
			}
		}
	}
}

// MaxPodCIDRSize is the longest per-node block: flannel refuses a
// SubnetLen above 30 ("SubnetLen must be less than /31"), as a block must
// hold its network and broadcast addresses, the cni0 gateway and a pod.
const MaxPodCIDRSize = 30

// validatePodCIDRSize checks the per-node block size against what
// kube-controller-manager (--node-cidr-mask-size no shorter than the
// cluster CIDR's prefix) and flannel (SubnetLen at most 30) accept. A
// refused size leaves the pods prefix unset, so that no node block is
// derived from it.
func validatePodCIDRSize(c *collector, n *Network) {
	size, least, lo := n.PodCIDRSize, 0, "network.pods' prefix length"
	if n.PodsPrefix.IsValid() {
		least = n.PodsPrefix.Bits()
		lo = strconv.Itoa(least)
	}
	fix := fmt.Sprintf("use %s to %d: kube-controller-manager refuses a --node-cidr-mask-size shorter than the cluster CIDR's prefix, and flannel a SubnetLen above %d, as a block holds its network address, the cni0 gateway, a pod and its broadcast address", lo, MaxPodCIDRSize, MaxPodCIDRSize)
	switch {
	case size < 0 || size > 32:
		c.add(n.Line, "network.podCIDRSize", fix, "%d is not an IPv4 prefix length", size)
	case size > MaxPodCIDRSize:
		c.add(n.Line, "network.podCIDRSize", fix, "a /%d block has no address left for a pod", size)
	case n.PodsPrefix.IsValid() && size < least:
		c.add(n.Line, "network.podCIDRSize", fix, "per-node block /%d is larger than network.pods %s", size, n.PodsPrefix)
	default:
		return
	}
	n.PodsPrefix = netip.Prefix{}
}

// VSwitchGateway is the gateway of an Alibaba Cloud vSwitch with CIDR p:
// its third-from-last address (Terway's pkg/ip DeriveGatewayIP).
func VSwitchGateway(p netip.Prefix) netip.Addr { return nthFromEnd(p, 3) }

// nthFromEnd returns the n-th address counted back from the end of p (1 is
// the broadcast address). The VPC gateway is the third from the end.
func nthFromEnd(p netip.Prefix, n int) netip.Addr {
	a := lastAddr(p)
	for i := 1; i < n; i++ {
		a = a.Prev()
	}
	return a
}

func addN(a netip.Addr, n int) netip.Addr {
	for i := 0; i < n && a.IsValid(); i++ {
		a = a.Next()
	}
	return a
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1<<hostBits - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// nthSubnet returns the i-th /bits block of p.
func nthSubnet(p netip.Prefix, bits, i int) (netip.Prefix, bool) {
	if bits < p.Bits() || bits > 32 || i < 0 || i >= 1<<(bits-p.Bits()) {
		return netip.Prefix{}, false
	}
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits), true
}

func validateNodes(c *collector, t *Topology, claim func(int, string, string, string)) {
	n := &t.Network
	usedIP := map[netip.Addr]string{}
	next := addN(n.NodesPrefix.Addr(), 10) // leave the low addresses free, as clouds do
	var blocks []netip.Prefix
	for i := range t.Nodes {
		nd := &t.Nodes[i]
		nd.Index = i
		field := fmt.Sprintf("nodes[%d]", i)
		claim(nd.Line, field+".name", "node", nd.Name)
		if nd.IP == "" {
			for usedIP[next] != "" {
				next = next.Next()
			}
			nd.Addr = next
			next = next.Next()
		} else if a, ok := parseIP(c, nd.Line, field+".ip", nd.IP); ok {
			nd.Addr = a
		}
		if nd.Addr.IsValid() && n.NodesPrefix.IsValid() {
			switch {
			case !n.NodesPrefix.Contains(nd.Addr):
				c.add(nd.Line, field+".ip", "pick an address inside network.nodes or widen it", "%s is outside network.nodes %s", nd.Addr, n.NodesPrefix)
			case nd.Addr == n.NodesPrefix.Addr() || nd.Addr == lastAddr(n.NodesPrefix):
				c.add(nd.Line, field+".ip", "pick a host address", "%s is the network or broadcast address of %s", nd.Addr, n.NodesPrefix)
			case nd.Addr == n.Gateway:
				c.add(nd.Line, field+".ip", "pick another address", "%s is the VPC gateway (third-from-last address of %s)", nd.Addr, n.NodesPrefix)
			case usedIP[nd.Addr] != "":
				c.add(nd.Line, field+".ip", "give each node its own address", "%s is already node %s's address", nd.Addr, usedIP[nd.Addr])
			default:
				usedIP[nd.Addr] = nd.Name
			}
		}
		if !n.PodsPrefix.IsValid() {
			continue
		}
		if nd.PodCIDR == "" {
			p, ok := nthSubnet(n.PodsPrefix, n.PodCIDRSize, i)
			if !ok {
				c.add(nd.Line, field, "widen network.pods or use a larger podCIDRSize", "network.pods %s has no /%d block left for this node", n.PodsPrefix, n.PodCIDRSize)
				continue
			}
			nd.PodNet = p
		} else if p, ok := parseCIDR(c, nd.Line, field+".podCIDR", nd.PodCIDR); ok {
			nd.PodNet = p
			switch {
			case !n.PodsPrefix.Contains(p.Addr()) || p.Bits() < n.PodsPrefix.Bits():
				c.add(nd.Line, field+".podCIDR", "pick a block inside network.pods", "%s is outside network.pods %s", p, n.PodsPrefix)
			case p.Bits() > MaxPodCIDRSize:
				c.add(nd.Line, field+".podCIDR", fmt.Sprintf("use a /%d or larger block: it holds its network address, the cni0 gateway, a pod and its broadcast address", MaxPodCIDRSize), "a /%d block has no address left for a pod", p.Bits())
			}
		}
		if carved := n.NodesPrefix.IsValid() && n.PodsPrefix.Bits() < n.NodesPrefix.Bits() && n.PodsPrefix.Contains(n.NodesPrefix.Addr()); carved && nd.PodNet.IsValid() && nd.PodNet.Overlaps(n.NodesPrefix) {
			c.add(nd.Line, field+".podCIDR", "give the node a pod block outside network.nodes", "%s overlaps network.nodes %s", nd.PodNet, n.NodesPrefix)
		}
		if nd.PodNet.IsValid() {
			for j, b := range blocks {
				if b.Overlaps(nd.PodNet) {
					c.add(nd.Line, field+".podCIDR", "give each node its own block", "%s overlaps node %s's pod CIDR %s", nd.PodNet, t.Nodes[j].Name, b)
				}
			}
			nd.Gateway = nd.PodNet.Addr().Next()
		}
		blocks = append(blocks, nd.PodNet)
	}
}

func validatePods(c *collector, t *Topology, claim func(int, string, string, string)) {
	used := map[netip.Addr]string{}
	hostPorts := map[string]string{} // node/port -> hostNetwork pod
	for i := range t.Pods {
		p := &t.Pods[i]
		field := fmt.Sprintf("pods[%d]", i)
		claim(p.Line, field+".name", "pod", p.Name)
		nd := t.Node(p.Node)
		if nd == nil {
			known := make([]string, len(t.Nodes))
			for j, n := range t.Nodes {
				known[j] = n.Name
			}
			fix := "add the node under nodes, or use one of: " + strings.Join(known, ", ")
			if p.Node == "" {
				c.add(p.Line, field+".node", fix, "pod %s has no node", p.Name)
			} else {
				c.add(p.Line, field+".node", fix, "node %q does not exist", p.Node)
			}
			continue
		}
		validatePorts(c, p.Line, field, p.Ports)
		if p.HostNetwork {
			for _, pp := range p.Ports {
				key := fmt.Sprintf("%s/%d", nd.Name, pp.Port)
				if prev := hostPorts[key]; prev != "" {
					c.add(p.Line, field+".ports", "hostNetwork pods on one node share its ports; pick another", "port %d on node %s is already hostNetwork pod %s's", pp.Port, nd.Name, prev)
				}
				hostPorts[key] = p.Name
			}
			if p.IP != "" && p.IP != nd.Addr.String() {
				c.add(p.Line, field+".ip", "leave ip out: a hostNetwork pod has its node's address", "hostNetwork pod %s cannot have its own IP %s", p.Name, p.IP)
			}
			p.Addr = nd.Addr
			continue
		}
		if !nd.PodNet.IsValid() {
			continue
		}
		if p.IP == "" {
			a := nd.Gateway.Next()
			for used[a] != "" {
				a = a.Next()
			}
			if !nd.PodNet.Contains(a) || a == lastAddr(nd.PodNet) {
				c.add(p.Line, field, "use a larger podCIDRSize", "node %s's pod CIDR %s is full", nd.Name, nd.PodNet)
				continue
			}
			p.Addr = a
		} else if a, ok := parseIP(c, p.Line, field+".ip", p.IP); ok {
			p.Addr = a
			switch {
			case !nd.PodNet.Contains(a):
				c.add(p.Line, field+".ip", fmt.Sprintf("pick an address in %s", nd.PodNet), "%s is outside node %s's pod CIDR %s", a, nd.Name, nd.PodNet)
				continue
			case a == nd.PodNet.Addr() || a == nd.Gateway || a == lastAddr(nd.PodNet):
				c.add(p.Line, field+".ip", fmt.Sprintf("pick an address from %s upward", nd.Gateway.Next()), "%s is the network, gateway or broadcast address of %s", a, nd.PodNet)
				continue
			}
		}
		if prev := used[p.Addr]; prev != "" {
			c.add(p.Line, field+".ip", "give each pod its own address", "%s is already pod %s's address", p.Addr, prev)
			continue
		}
		used[p.Addr] = p.Name
	}
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

// validatePorts checks the ports a pod or outside host serves.
func validatePorts(c *collector, ownerLine int, field string, ports []PodPort) {
	seen, seenName := map[int]bool{}, map[string]bool{}
	for i := range ports {
		pp := &ports[i]
		line := max(pp.Line, ownerLine)
		if pp.Protocol == "" {
			pp.Protocol = "TCP"
		}
		switch {
		case pp.Protocol != "TCP" && pp.Protocol != "UDP":
			c.add(line, fmt.Sprintf("%s.ports[%d].protocol", field, i), "use TCP or UDP", "unknown protocol %q", pp.Protocol)
		case !validPort(pp.Port):
			c.add(line, field+".ports", "use ports in 1-65535", "port %d is out of range", pp.Port)
		case seen[pp.Port]:
			c.add(line, field+".ports", "list each port once", "port %d is listed twice", pp.Port)
		case pp.Name != "" && seenName[pp.Name]:
			c.add(line, field+".ports", "give each port its own name", "port name %q is used twice", pp.Name)
		}
		seen[pp.Port], seenName[pp.Name] = true, pp.Name != ""
	}
}

func validateClients(c *collector, t *Topology, claim func(int, string, string, string)) {
	for i := range t.Cloud.Clients {
		cl := &t.Cloud.Clients[i]
		field := fmt.Sprintf("cloud.clients[%d]", i)
		claim(cl.Line, field+".name", "client", cl.Name)
		if cl.IP == "" {
			if 10+i > 254 {
				c.add(cl.Line, field+".ip", "give the client an ip", "no default address is left (the defaults are 198.51.100.10 to 198.51.100.254)")
				continue
			}
			cl.IP = fmt.Sprintf("198.51.100.%d", 10+i)
		}
		a, ok := parseIP(c, cl.Line, field+".ip", cl.IP)
		if !ok {
			continue
		}
		cl.Addr = a
		for _, p := range []struct {
			f string
			p netip.Prefix
		}{{"network.nodes", t.Network.NodesPrefix}, {"network.pods", t.Network.PodsPrefix}, {"network.services", t.Network.ServicesPrefix}} {
			if p.p.IsValid() && p.p.Contains(a) {
				c.add(cl.Line, field+".ip", "a client is a host behind the VPC router (on the internet, or a VM on another vSwitch): give it an address outside the cluster's networks, e.g. 198.51.100.10 or 10.1.3.100", "%s is inside %s %s", a, p.f, p.p)
			}
		}
		cl.Gateway = nthFromEnd(netip.PrefixFrom(a, 24).Masked(), 3)
		if cl.Gateway == a {
			cl.Gateway = cl.Gateway.Next()
		}
	}
	for i := range t.Cloud.Clients {
		cl := &t.Cloud.Clients[i]
		validatePorts(c, cl.Line, fmt.Sprintf("cloud.clients[%d]", i), cl.Ports)
	}
}

// validateSecurityGroups checks cloud.securityGroups and the nodes'
// references to them.
func validateSecurityGroups(c *collector, t *Topology) {
	seen := map[string]bool{}
	for i := range t.Cloud.SecurityGroups {
		g := &t.Cloud.SecurityGroups[i]
		field := fmt.Sprintf("cloud.securityGroups[%d]", i)
		switch {
		case g.Name == "":
			c.add(g.Line, field+".name", "name it, e.g. sg-shared", "the security group has no name")
		case seen[g.Name]:
			c.add(g.Line, field+".name", "give each group its own name", "security group %q is defined twice", g.Name)
		}
		seen[g.Name] = true
		for _, d := range []struct {
			dir   string
			rules []SGRule
		}{{"ingress", g.Ingress}, {"egress", g.Egress}} {
			for j := range d.rules {
				validateSGRule(c, &d.rules[j], fmt.Sprintf("%s.%s[%d]", field, d.dir, j))
			}
		}
	}
	pl, _ := CNIPlugin(t.CNI.Plugin)
	vlans := map[string]map[int]bool{} // node -> member ENI VLANs taken
	for i := range t.Pods {
		pod := &t.Pods[i]
		if pod.VLAN != 0 {
			field := fmt.Sprintf("pods[%d].vlan", i)
			switch {
			case !slices.Contains(pl.VLANBackends, t.CNI.Backend):
				c.add(pod.Line, field, "drop the field, or use a backend with member ENIs (terway trunking)", "%s %s gives a pod no member ENI on a VLAN", t.CNI.Plugin, t.CNI.Backend)
			case len(pod.SecurityGroups) == 0:
				c.add(pod.Line, field, "give the pod securityGroups (its PodNetworking's), or drop the field", "the pod has no member ENI: it has no securityGroups of its own")
			case pod.VLAN < 1 || pod.VLAN > 4094:
				c.add(pod.Line, field, "use a VLAN id from 1 to 4094", "VLAN id %d is out of range", pod.VLAN)
			case vlans[pod.Node][pod.VLAN]:
				c.add(pod.Line, field, "give each member ENI of a node its own VLAN", "VLAN %d is taken by another member ENI on node %s", pod.VLAN, pod.Node)
			default:
				if vlans[pod.Node] == nil {
					vlans[pod.Node] = map[int]bool{}
				}
				vlans[pod.Node][pod.VLAN] = true
			}
		}
		if len(pod.SecurityGroups) == 0 {
			continue
		}
		field := fmt.Sprintf("pods[%d].securityGroups", i)
		switch {
		case !slices.Contains(pl.PodENIBackends, t.CNI.Backend):
			fix := "drop the field: the pod uses its node's ENI and groups"
			if len(pl.PodENIBackends) > 0 {
				fix = "use backend " + strings.Join(pl.PodENIBackends, " or ") + ", or drop the field"
			}
			c.add(pod.Line, field, fix, "%s %s gives a pod no ENI of its own", t.CNI.Plugin, t.CNI.Backend)
			continue
		case pod.HostNetwork:
			c.add(pod.Line, field, "drop the field, or hostNetwork", "a hostNetwork pod has no ENI of its own")
			continue
		}
		for _, name := range pod.SecurityGroups {
			if !seen[name] {
				c.add(pod.Line, field, "define it under cloud.securityGroups", "no security group is named %q", name)
			}
		}
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		for _, name := range n.SecurityGroups {
			field := fmt.Sprintf("nodes[%d].securityGroups", i)
			switch {
			case !pl.SecurityGroups:
				c.add(n.Line, field, "use cni plugin terway, whose ENIs are in security groups, or drop the field", "the %s plugin gives the node no ENI that a security group applies to", t.CNI.Plugin)
			case !seen[name]:
				c.add(n.Line, field, "define it under cloud.securityGroups", "no security group is named %q", name)
			}
		}
	}
}

// validateSGRule checks and defaults one security group rule.
func validateSGRule(c *collector, r *SGRule, field string) {
	if r.Priority == 0 {
		r.Priority = 1
	}
	if r.Priority < 1 || r.Priority > 100 {
		c.add(r.Line, field+".priority", "use 1 (first) to 100", "priority %d is out of range", r.Priority)
	}
	if r.Action == "" {
		r.Action = "accept"
	}
	if r.Action != "accept" && r.Action != "drop" {
		c.add(r.Line, field+".action", "use accept or drop", "unknown action %q", r.Action)
	}
	if r.Protocol == "" {
		r.Protocol = "all"
	}
	switch r.Protocol {
	case "tcp", "udp":
	case "icmp", "all":
		if r.Ports != "" {
			c.add(r.Line, field+".ports", "drop ports, or use protocol tcp or udp", "protocol %s has no ports", r.Protocol)
		}
	default:
		c.add(r.Line, field+".protocol", "use tcp, udp, icmp or all", "unknown protocol %q", r.Protocol)
	}
	if r.Ports != "" {
		lo, hi, ok := strings.Cut(r.Ports, "/")
		if !ok {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || !validPort(a) || !validPort(b) || a > b {
			c.add(r.Line, field+".ports", `write a port, "80", or a range, "8000/8080"`, "%q is not a port or port range", r.Ports)
		} else {
			r.PortMin, r.PortMax = a, b
		}
	}
	if r.CIDR == "" {
		r.CIDR = "0.0.0.0/0"
	}
	p, err := netip.ParsePrefix(r.CIDR)
	if err != nil || !p.Addr().Is4() {
		c.add(r.Line, field+".cidr", "write an IPv4 CIDR such as 192.168.0.0/16", "%q is not an IPv4 CIDR", r.CIDR)
		return
	}
	r.Prefix = p.Masked()
}

// validateListeners checks the SLB listeners that are not a Service's:
// each forwards IP:port to a port an outside host serves, and no Service
// may listen on the same IP and port. It runs after validateServices.
func validateListeners(c *collector, t *Topology) {
	taken := map[netip.AddrPort]string{}
	for _, s := range t.Services {
		for _, in := range s.LBIngress {
			for _, p := range s.Ports {
				if validPort(p.Port) { // else already reported; uint16 would wrap it
					taken[netip.AddrPortFrom(in.Addr, uint16(p.Port))] = "Service " + s.Name
				}
			}
		}
	}
	for i := range t.Cloud.Listeners {
		l := &t.Cloud.Listeners[i]
		field := fmt.Sprintf("cloud.listeners[%d]", i)
		a, ok := parseIP(c, l.Line, field+".ip", l.IP)
		if !ok {
			continue
		}
		l.Addr = a
		if !validPort(l.Port) {
			c.add(l.Line, field+".port", "use a port in 1-65535", "port %d is out of range", l.Port)
			continue
		}
		if l.BackendPort == 0 {
			l.BackendPort = l.Port
		}
		if !validPort(l.BackendPort) {
			c.add(l.Line, field+".backendPort", "use a port in 1-65535", "port %d is out of range", l.BackendPort)
			continue
		}
		key := netip.AddrPortFrom(a, uint16(l.Port))
		if prev := taken[key]; prev != "" {
			c.add(l.Line, field, "give the listener another port or IP", "%s is already %s's listener", key, prev)
		}
		taken[key] = field
		b := t.Client(l.Backend)
		switch {
		case l.Backend == "":
			c.add(l.Line, field+".backend", "name the outside host (cloud.clients) that serves it", "the listener on %s has no backend", key)
		case b == nil:
			c.add(l.Line, field+".backend", "add the host under cloud.clients with ports: ["+fmt.Sprint(l.BackendPort)+"]", "no outside host is named %q", l.Backend)
		case !slices.Contains(b.PortNumbers(), l.BackendPort):
			c.add(l.Line, field+".backendPort", fmt.Sprintf("add %d to %s's ports", l.BackendPort, b.Name), "%s does not serve port %d", b.Name, l.BackendPort)
		}
	}
}

var results = map[string]bool{ResultConnected: true, ResultRefused: true, ResultTimeout: true, ResultUnreachable: true}

func validateProbes(c *collector, t *Topology) {
	for i := range t.Probes {
		pr := &t.Probes[i]
		field := fmt.Sprintf("probes[%d]", i)
		if pr.Name == "" {
			pr.Name = pr.From + " -> " + pr.To
		}
		if pr.From == "" {
			c.add(pr.Line, field+".from", "name a pod, node or client", "probe %q has no source", pr.Name)
		} else if _, err := t.ResolveSource(pr.From); err != nil {
			c.add(pr.Line, field+".from", "name a pod, node or outside client of this scenario", "%v", err)
		}
		if pr.To == "" {
			c.add(pr.Line, field+".to", "write pod/NAME[:port], node/NAME:port or IP:port", "probe %q has no target", pr.Name)
		} else if _, err := t.ResolveTarget(pr.To); err != nil {
			c.add(pr.Line, field+".to", "write pod/NAME[:port], svc/NAME[:port|:nodeport@NODE|:loadbalancer|:external], node/NAME:port or IP:port", "%v", err)
		}
		switch strings.ToUpper(pr.Protocol) {
		case "", "TCP", "UDP":
			pr.Protocol = strings.ToUpper(pr.Protocol)
		default:
			c.add(pr.Line, field+".protocol", "use TCP or UDP", "unknown protocol %q", pr.Protocol)
		}
		validateExpect(c, t, &pr.Expect, pr.Line, field+".expect")
		for j := range pr.When {
			w := &pr.When[j]
			wf := fmt.Sprintf("%s.when[%d]", field, j)
			if _, err := MatchKubeProxy(w.KubeProxy, nil); err != nil && w.KubeProxy != "" || w.KubeProxy == "" && w.CNI == "" {
				c.add(max(w.Line, pr.Line), wf+".kubeProxy", `write MODE, MODE@1.22, MODE@<1.24 or MODE@>=1.24 (or give cni: BACKEND)`, "bad kube-proxy pattern %q", w.KubeProxy)
			}
			if pl, _ := CNIPlugin(t.CNI.Plugin); w.CNI != "" && !slices.Contains(pl.Backends, w.CNI) {
				c.add(max(w.Line, pr.Line), wf+".cni", backendsFix(pl), "unknown %s backend %q", t.CNI.Plugin, w.CNI)
			}
			validateExpect(c, t, &w.Expect, max(w.Line, pr.Line), wf+".expect")
		}
	}
}

func validateExpect(c *collector, t *Topology, e *Expect, probeLine int, field string) {
	line := e.Line
	if line == 0 {
		line = probeLine
	}
	if e.Result == "" {
		e.Result = ResultConnected
	}
	if !results[e.Result] {
		c.add(line, field+".result", "use connected, refused, timeout or unreachable", "unknown result %q", e.Result)
	}
	if e.Server != "" && t.Pod(e.Server) == nil && t.Client(e.Server) == nil {
		c.add(line, field+".server", "name a pod (or outside host) of this scenario", "no pod is named %q", e.Server)
	}
	if e.ClientIP != "" {
		if _, err := t.ResolveAddr(e.ClientIP); err != nil {
			c.add(line, field+".clientIP", "write an IP or the name of a pod, node or client", "%v", err)
		}
	}
	if e.Repeat == 0 {
		e.Repeat = 1
	}
	if e.Repeat < 0 || e.Repeat > 1000 {
		c.add(line, field+".repeat", "use 1-1000", "repeat %d is out of range", e.Repeat)
	}
	if e.Servers < 0 || e.Servers > e.Repeat {
		c.add(line, field+".servers", "use at most repeat distinct servers", "servers %d with repeat %d", e.Servers, e.Repeat)
	}
	if e.DecidedBy != "" && e.Result == ResultConnected {
		c.add(line, field+".decidedBy", "drop decidedBy, or expect refused or timeout", "a connected probe has no deciding rule")
	}
	for _, h := range e.Hops {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " \t") {
			c.add(line, field+".hops", "write each hop as OWNER:DEVICE (centos:eth0, node-1:veth, node-1:cni0) or vpc / slb", "bad hop %q", h)
		}
	}
	if e.Result != ResultConnected && (e.Server != "" || e.ClientIP != "" || e.ClientIPPreserved != nil || e.Servers != 0) {
		c.add(line, field, "drop server / clientIP / clientIPPreserved / servers, or expect connected", "a %s probe has no server to check", e.Result)
	}
	validateExpectExtras(c, t, e, line, field)
}

// ResolveAddr turns an IP or the name of a pod, node or client into an
// address.
func (t *Topology) ResolveAddr(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, nil
	}
	r, err := t.ResolveSource(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return r.Addr, nil
}
