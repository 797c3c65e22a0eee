package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// NodePort range (kube-apiserver --service-node-port-range default).
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// versionRE is a Kubernetes 1.x version; the digit counts keep the minor
// an int (a 20-digit minor would parse as 0).
var versionRE = regexp.MustCompile(`^v?1\.(\d{1,3})(\.\d{1,4})?$`)

// validateKubeProxy checks the mode and version against the registered
// modes, and defaults them: a scenario with Services and no kubeProxy
// gets the default mode at its default version.
func validateKubeProxy(c *collector, t *Topology) {
	kp := t.KubeProxy
	if kp == nil {
		if def, ok := defaultKubeProxyMode(); ok && len(t.Services) > 0 {
			t.KubeProxy = &KubeProxy{Mode: def.Name, Version: def.DefaultVersion, Line: t.Line}
		}
		return
	}
	if kp.Mode == "" {
		kp.Mode = DefaultKubeProxyMode()
	}
	m, ok := KubeProxyMode(kp.Mode)
	if !ok {
		c.add(kp.Line, "kubeProxy.mode", "use "+orList(KubeProxyModeNames()), "%s", unknownMode(kp.Mode))
		return
	}
	if kp.Version == "" {
		kp.Version = m.DefaultVersion
	}
	if !versionRE.MatchString(kp.Version) {
		c.add(kp.Line, "kubeProxy.version", fmt.Sprintf("write a Kubernetes minor version such as %q", m.DefaultVersion), "%q is not a Kubernetes version", kp.Version)
	} else if err := modeExists(m, kp.Version); err != nil {
		c.add(kp.Line, "kubeProxy.version", "pick a version that has the mode", "%v", err)
	} else if minor, ok := kp.minor(); ok && m.Gates != nil {
		if err := m.Gates(minor, kp.FeatureGates); err != nil {
			c.add(kp.Line, "kubeProxy.featureGates", "set only gates that kube-proxy "+kp.Version+" has and may change", "%v", err)
		}
	}
	validateKubeProxyOptions(c, kp)
}

// minor is the kube-proxy version's minor, if the version is well formed.
func (kp *KubeProxy) minor() (int, bool) {
	if kp == nil {
		return 0, false
	}
	m := versionRE.FindStringSubmatch(kp.Version)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	return n, true
}

// tooOld reports an option that kube-proxy 1.minor does not have: that
// kube-proxy would refuse the flag (or the configuration field) and not
// start, so the scenario is refused too, naming the release that added it.
func tooOld(c *collector, kp *KubeProxy, field, what string, since int, change, fix string) bool {
	minor, ok := kp.minor()
	if !ok || minor >= since {
		return false
	}
	c.add(kp.Line, field, fix, "kube-proxy 1.%d has no %s: it arrived in 1.%d (%s)", minor, what, since, change)
	return true
}

// The IPVS schedulers: those kube-proxy accepted before 1.27 (its
// IPVSSchedulerMethod list, #53973), and those the kernel has (an
// ip_vs_NAME module each), which 1.27 and later accept (#114878, which
// replaced the list by trying the scheduler).
var (
	ipvsSchedulersBefore127 = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq"}
	ipvsSchedulersKernel    = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "fo", "ovf", "mh", "twos"}
)

// validateKubeProxyOptions checks the kube-proxy options of the scenario
// against what the version has. The mode-specific ones (scheduler for IPVS,
// localhostNodePorts for iptables) are checked in every mode and ignored by
// the others, as kube-proxy ignores the ipvs / iptables sections of its
// configuration in another mode.
func validateKubeProxyOptions(c *collector, kp *KubeProxy) {
	line := kp.Line
	if kp.ClusterCIDR != nil && *kp.ClusterCIDR != "" {
		parseCIDR(c, line, "kubeProxy.clusterCIDR", *kp.ClusterCIDR)
	}
	validateNodePortAddresses(c, kp)
	if sch := kp.Scheduler; sch != "" {
		const field = "kubeProxy.scheduler"
		minor, ok := kp.minor()
		switch {
		case !slices.Contains(ipvsSchedulersKernel, sch):
			c.add(line, field, "use one of "+strings.Join(ipvsSchedulersKernel, ", "), "the kernel has no IPVS scheduler %q (no module ip_vs_%s)", sch, sch)
		case ok && minor < 27 && !slices.Contains(ipvsSchedulersBefore127, sch):
			c.add(line, field, "use one of "+strings.Join(ipvsSchedulersBefore127, ", ")+", or kube-proxy 1.27 or later",
				"kube-proxy 1.%d accepts only its own list of IPVS schedulers; %s is accepted from 1.27 (#114878)", minor, sch)
		}
	}
	if kp.LocalhostNodePorts != nil {
		tooOld(c, kp, "kubeProxy.localhostNodePorts", "--iptables-localhost-nodeports", 26, "#108250",
			"drop localhostNodePorts (before 1.26 NodePorts always answer on 127.0.0.1 in iptables mode), or use kube-proxy 1.26 or later")
	}
}

// validateNodePortAddresses checks --nodeport-addresses: IPv4 CIDRs (host
// bits allowed, as kube-proxy takes the network of each), or "primary"
// alone.
func validateNodePortAddresses(c *collector, kp *KubeProxy) {
	const field = "kubeProxy.nodePortAddresses"
	if len(kp.NodePortAddresses) == 0 {
		return
	}
	if tooOld(c, kp, field, "--nodeport-addresses", 10, "#58052", "drop nodePortAddresses (NodePorts then answer on every local address), or use kube-proxy 1.10 or later") {
		return
	}
	for i, a := range kp.NodePortAddresses {
		f := fmt.Sprintf("%s[%d]", field, i)
		if a == NodePortAddressesPrimary {
			if len(kp.NodePortAddresses) != 1 {
				c.add(kp.Line, f, `use "primary" alone, or only CIDRs`, `"primary" cannot be combined with CIDRs (kube-proxy refuses the mix)`)
				continue
			}
			tooOld(c, kp, f, `nodePortAddresses value "primary"`, 31, "#123105", "list the CIDR of the node addresses instead, e.g. [10.0.0.0/16], or use kube-proxy 1.31 or later")
			continue
		}
		p, err := netip.ParsePrefix(a)
		switch {
		case err != nil:
			c.add(kp.Line, f, `write a CIDR such as 10.0.0.0/16, or "primary"`, "%q is not a CIDR", a)
		case !p.Addr().Is4():
			c.add(kp.Line, f, "drop it: netlab's cluster is IPv4 only, and kube-proxy's IPv4 rules ignore IPv6 CIDRs", "%q: only IPv4 is supported", a)
		}
	}
}

// modeExists asks the mode whether it exists at a well-formed version.
func modeExists(m KubeProxyModeInfo, version string) error {
	minor, _ := strconv.Atoi(versionRE.FindStringSubmatch(version)[1])
	if m.Exists == nil {
		return nil
	}
	return m.Exists(minor)
}

// ParseKubeProxy parses a command-line override "MODE@VERSION", or "MODE"
// alone for the mode's default version. An empty mode or version, an
// unknown mode and a malformed version are refused, naming the valid ones.
func ParseKubeProxy(s string) (*KubeProxy, error) {
	modes := strings.Join(KubeProxyModeNames(), ", ")
	def, _ := defaultKubeProxyMode()
	example := def.Name + "@" + def.DefaultVersion
	mode, version, hasVersion := strings.Cut(s, "@")
	m, known := KubeProxyMode(mode)
	switch {
	case s == "":
		return nil, fmt.Errorf("--kube-proxy is empty; write MODE@VERSION such as %s (modes: %s)", example, modes)
	case mode == "" && version == "":
		return nil, fmt.Errorf("--kube-proxy %q: no mode and no version; write MODE@VERSION such as %s (modes: %s)", s, example, modes)
	case mode == "":
		return nil, fmt.Errorf("--kube-proxy %q: no mode before \"@\"; write MODE@%s such as %s@%s (modes: %s)", s, version, def.Name, version, modes)
	case !known:
		return nil, fmt.Errorf("--kube-proxy %s: unknown mode %q (modes: %s)", s, mode, modes)
	case hasVersion && version == "":
		return nil, fmt.Errorf("--kube-proxy %s: no version after \"@\"; write %s%s, or %s alone for %s", s, s, m.DefaultVersion, mode, m.DefaultVersion)
	case !hasVersion:
		version = m.DefaultVersion
	}
	kp := &KubeProxy{Mode: mode, Version: version}
	if !versionRE.MatchString(kp.Version) {
		return nil, fmt.Errorf("--kube-proxy %s: %q is not a Kubernetes version; write 1.MINOR such as %s or v%s.15", s, kp.Version, m.DefaultVersion, m.DefaultVersion)
	}
	if err := modeExists(m, kp.Version); err != nil {
		return nil, fmt.Errorf("--kube-proxy %s: %w", s, err)
	}
	return kp, nil
}

// validateServices checks and defaults every Service in two passes: the
// first reserves the explicit ClusterIPs and node ports, so that a
// default the second hands out never takes one a later Service names.
func validateServices(c *collector, t *Topology) {
	a := reserveExplicit(c, t)
	names := map[string]bool{}
	for i := range t.Services {
		validateService(c, a, &t.Services[i], fmt.Sprintf("services[%d]", i), names)
	}
}

// serviceAlloc hands out the ClusterIPs and node ports Services leave
// out, skipping those in use.
type serviceAlloc struct {
	c            *collector
	prefix       netip.Prefix          // network.services
	usedIP       map[netip.Addr]string // ClusterIP -> Service
	usedNodePort map[int]string        // node port -> Service ("?" when handed out)
	nextIP       netip.Addr
	nextNodePort int
	kp           *KubeProxy // the cluster's version, for fields of the Service API
}

// reserveExplicit is the first pass: the explicit addresses and node
// ports of all Services.
func reserveExplicit(c *collector, t *Topology) *serviceAlloc {
	sp := t.Network.ServicesPrefix
	a := &serviceAlloc{c: c, prefix: sp, usedIP: map[netip.Addr]string{}, usedNodePort: map[int]string{},
		nextIP: addN(sp.Addr(), 10), nextNodePort: NodePortMin, kp: t.KubeProxy}
	for i := range t.Services {
		s := &t.Services[i]
		if s.ClusterIP != "" && s.ClusterIP != "None" {
			if ip, err := netip.ParseAddr(s.ClusterIP); err == nil {
				a.usedIP[ip] = s.Name
			}
		}
		for _, p := range s.Ports {
			if p.NodePort != 0 {
				a.usedNodePort[p.NodePort] = s.Name
			}
		}
		if s.HealthCheckNodePort != 0 {
			a.usedNodePort[s.HealthCheckNodePort] = s.Name
		}
	}
	return a
}

// nodePort picks the next free port of the NodePort range, or reports
// that none is left (and returns 0).
func (a *serviceAlloc) nodePort(line int, field string) int {
	for a.usedNodePort[a.nextNodePort] != "" {
		a.nextNodePort++
	}
	if a.nextNodePort > NodePortMax {
		a.c.add(line, field, "give some ports an explicit nodePort, or use fewer NodePort / LoadBalancer ports", "no free nodePort is left in %d-%d", NodePortMin, NodePortMax)
		return 0
	}
	a.usedNodePort[a.nextNodePort] = "?"
	return a.nextNodePort
}

// clusterIP checks a Service's explicit ClusterIP, or gives it the next
// free address of network.services (none when that is not valid: it was
// reported already).
func (a *serviceAlloc) clusterIP(s *Service, field string) {
	c, line, sp := a.c, s.Line, a.prefix
	switch {
	case s.ClusterIP == "" && !sp.IsValid():
	case s.ClusterIP == "":
		for a.usedIP[a.nextIP] != "" {
			a.nextIP = a.nextIP.Next()
		}
		if !sp.Contains(a.nextIP) {
			c.add(line, field, "widen network.services", "network.services %s is full", sp)
			return
		}
		s.ClusterAddr = a.nextIP
		a.usedIP[a.nextIP] = s.Name
	case s.ClusterIP == "None":
		c.add(line, field+".clusterIP", "give the Service a ClusterIP or leave it out", "headless Services are not supported (kube-proxy ignores them)")
	default:
		ip, ok := parseIP(c, line, field+".clusterIP", s.ClusterIP)
		if !ok {
			return
		}
		s.ClusterAddr = ip
		if sp.IsValid() && !sp.Contains(ip) {
			c.add(line, field+".clusterIP", fmt.Sprintf("pick an address in %s", sp), "%s is outside network.services %s", ip, sp)
		} else if a.usedIP[ip] != s.Name {
			c.add(line, field+".clusterIP", "give each Service its own ClusterIP", "%s is already Service %s's ClusterIP", ip, a.usedIP[ip])
		}
	}
}

// validateService is the second pass for one Service; the order of the
// checks is the order its problems are reported in.
func validateService(c *collector, a *serviceAlloc, s *Service, field string, names map[string]bool) {
	validateServiceName(c, s, field, names)
	validateServiceType(c, s, field)
	a.clusterIP(s, field)
	validateServicePorts(c, a, s, field)
	validatePolicy(c, s.Line, field+".externalTrafficPolicy", &s.ExternalTrafficPolicy, s.Type != TypeClusterIP)
	validatePolicy(c, s.Line, field+".internalTrafficPolicy", &s.InternalTrafficPolicy, true)
	validateHealthCheckNodePort(c, a, s, field)
	validateSessionAffinity(c, s, field)
	for _, e := range s.ExternalIPs {
		parseIP(c, s.Line, field+".externalIPs", e)
	}
	validateLoadBalancer(c, s, field)
	validateAllocateNodePorts(c, a.kp, s, field)
}

// validateAllocateNodePorts checks allocateLoadBalancerNodePorts: only on a
// LoadBalancer (the API server clears it on other types), and only in a
// cluster that has the field.
func validateAllocateNodePorts(c *collector, kp *KubeProxy, s *Service, field string) {
	if s.AllocateLoadBalancerNodePorts == nil {
		return
	}
	field += ".allocateLoadBalancerNodePorts"
	if s.Type != TypeLoadBalancer {
		c.add(s.Line, field, "drop it, or make the Service type LoadBalancer", "only a LoadBalancer Service has allocateLoadBalancerNodePorts")
		return
	}
	if minor, ok := kp.minor(); ok && minor < 20 {
		c.add(s.Line, field, "drop it (every LoadBalancer port then gets a nodePort), or use kube-proxy 1.20 or later: the scenario's version is the cluster's",
			"Kubernetes 1.%d has no allocateLoadBalancerNodePorts: it arrived in 1.20 (KEP-1864, alpha behind ServiceLBNodePortControl; on by default from 1.22)", minor)
	}
}

// validateServiceName checks the name and namespace (default "default"),
// and that no earlier Service has the name.
func validateServiceName(c *collector, s *Service, field string, names map[string]bool) {
	if err := ValidName(s.Name); err != nil {
		c.add(s.Line, field+".name", "use a name like nginx1", "service name %v", err)
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	if err := ValidName(s.Namespace); err != nil {
		c.add(s.Line, field+".namespace", "use a namespace like default", "namespace %v", err)
	}
	if names[s.Name] {
		c.add(s.Line, field+".name", "give each Service its own name", "service %q is defined twice", s.Name)
	}
	names[s.Name] = true
}

// validateServiceType defaults the type to ClusterIP and refuses others
// kube-proxy does not serve.
func validateServiceType(c *collector, s *Service, field string) {
	if s.Type == "" {
		s.Type = TypeClusterIP
	}
	if s.Type != TypeClusterIP && s.Type != TypeNodePort && s.Type != TypeLoadBalancer {
		c.add(s.Line, field+".type", "use ClusterIP, NodePort or LoadBalancer", "unknown service type %q", s.Type)
	}
}

// validateServicePorts checks and defaults every port of a Service; a
// port without a line of its own is reported at the Service's.
func validateServicePorts(c *collector, a *serviceAlloc, s *Service, field string) {
	if len(s.Ports) == 0 {
		c.add(s.Line, field+".ports", "add ports: [{port: 80}]", "service %s has no ports", s.Name)
	}
	portNames := map[string]bool{}
	for j := range s.Ports {
		p := &s.Ports[j]
		pf := fmt.Sprintf("%s.ports[%d]", field, j)
		pl := max(p.Line, s.Line)
		validateServicePort(c, p, pl, pf, len(s.Ports) > 1, portNames)
		a.portNodePort(s, p, pl, pf+".nodePort")
	}
}

// validateServicePort checks one port's number, name (required when the
// Service has several, and unique), targetPort (default: the port) and
// protocol (default TCP).
func validateServicePort(c *collector, p *ServicePort, line int, field string, multi bool, names map[string]bool) {
	if !validPort(p.Port) {
		c.add(line, field+".port", "use a port in 1-65535", "port %d is out of range", p.Port)
	}
	if multi && p.Name == "" {
		c.add(line, field+".name", "name every port of a multi-port Service", "port %d has no name", p.Port)
	}
	if names[p.Name] && p.Name != "" {
		c.add(line, field+".name", "give each port its own name", "port name %q is used twice", p.Name)
	}
	names[p.Name] = true
	if p.TargetPort == "" {
		p.TargetPort = strconv.Itoa(p.Port)
	} else {
		validateTargetPort(c, line, field+".targetPort", p.TargetPort)
	}
	if p.Protocol == "" {
		p.Protocol = "TCP"
	}
	if p.Protocol != "TCP" && p.Protocol != "UDP" {
		c.add(line, field+".protocol", "use TCP or UDP", "unsupported protocol %q", p.Protocol)
	}
}

// portNodePort checks a port's explicit nodePort, or gives a NodePort /
// LoadBalancer Service's port the next free one.
func (a *serviceAlloc) portNodePort(s *Service, p *ServicePort, line int, field string) {
	np := p.NodePort
	switch {
	case s.Type == TypeClusterIP:
		if np != 0 {
			a.c.add(line, field, "drop nodePort or make the Service a NodePort / LoadBalancer", "a ClusterIP Service has no nodePort")
		}
	case np == 0 && !allocatesNodePorts(s):
		// allocateLoadBalancerNodePorts: false: only an explicit one.
	case np == 0:
		p.NodePort = a.nodePort(line, field)
	case !inNodePortRange(np):
		a.c.add(line, field, nodePortRangeFix, "nodePort %d is outside the NodePort range", np)
	case a.usedNodePort[np] != s.Name:
		a.c.add(line, field, "give each port its own nodePort", "nodePort %d is already used by Service %s", np, a.usedNodePort[np])
	}
}

// allocatesNodePorts reports whether the API server gives the Service's
// ports a nodePort of their own: a NodePort Service always, a LoadBalancer
// unless allocateLoadBalancerNodePorts is false.
func allocatesNodePorts(s *Service) bool {
	return s.Type != TypeLoadBalancer || s.AllocateLoadBalancerNodePorts == nil || *s.AllocateLoadBalancerNodePorts
}

// inNodePortRange reports whether n is in the NodePort range, which a
// nodePort and a healthCheckNodePort share.
func inNodePortRange(n int) bool { return n >= NodePortMin && n <= NodePortMax }

// nodePortRangeFix is the fix for a port outside the NodePort range.
var nodePortRangeFix = fmt.Sprintf("use %d-%d", NodePortMin, NodePortMax)

// healthChecked reports whether a Service has a healthCheckNodePort: as in
// Kubernetes, only a LoadBalancer Service with externalTrafficPolicy Local.
func healthChecked(s *Service) bool {
	return s.Type == TypeLoadBalancer && s.ExternalTrafficPolicy == PolicyLocal
}

// validateHealthCheckNodePort checks an explicit healthCheckNodePort (only
// on a Service that has one, in the NodePort range and not another port's
// nodePort), or gives a Service that has one and names none the next free
// port.
func validateHealthCheckNodePort(c *collector, a *serviceAlloc, s *Service, field string) {
	hc, line, used := s.HealthCheckNodePort, s.Line, a.usedNodePort
	field += ".healthCheckNodePort"
	switch {
	case hc == 0:
		if healthChecked(s) {
			s.HealthCheckNodePort = a.nodePort(line, field)
		}
	case !healthChecked(s):
		c.add(line, field, "drop it, or make the Service a LoadBalancer with externalTrafficPolicy: Local", "only a LoadBalancer Service with externalTrafficPolicy Local has a healthCheckNodePort")
	case !inNodePortRange(hc):
		c.add(line, field, nodePortRangeFix, "healthCheckNodePort %d is outside the NodePort range", hc)
	case used[hc] != s.Name:
		c.add(line, field, "give it a port no other Service uses", "healthCheckNodePort %d is already used by Service %s", hc, used[hc])
	default:
		for _, p := range s.Ports {
			if p.NodePort == hc {
				c.add(line, field, "give it a port of its own", "healthCheckNodePort %d is also this Service's nodePort", hc)
			}
		}
	}
}

// validateSessionAffinity checks sessionAffinity (default None) and its
// timeout (default, for ClientIP, kube-proxy's three hours).
func validateSessionAffinity(c *collector, s *Service, field string) {
	switch s.SessionAffinity {
	case "":
		s.SessionAffinity = "None"
	case "None", "ClientIP":
	default:
		c.add(s.Line, field+".sessionAffinity", "use None or ClientIP", "unknown session affinity %q", s.SessionAffinity)
	}
	if s.SessionAffinity == "ClientIP" && s.SessionAffinityTimeout == 0 {
		s.SessionAffinityTimeout = 10800
	}
	if s.SessionAffinityTimeout < 0 || s.SessionAffinityTimeout > 86400 {
		c.add(s.Line, field+".sessionAffinityTimeoutSeconds", "use 1-86400", "timeout %d is out of range", s.SessionAffinityTimeout)
	}
}

// validateLoadBalancer checks the load balancer fields: a LoadBalancer
// Service needs its addresses, as loadBalancerIP (with loadBalancerIPMode,
// default VIP) or as loadBalancerIngress (each with its ipMode); no other
// Service may have an address, ipMode or hostname. LBIngress and LBAddr
// get the addresses.
func validateLoadBalancer(c *collector, s *Service, field string) {
	if len(s.LoadBalancerIngress) > 0 {
		validateLoadBalancerIngress(c, s, field)
	} else {
		validateLoadBalancerIP(c, s, field)
		validateLoadBalancerIPMode(c, s, field)
		if s.LBAddr.IsValid() {
			s.LBIngress = []LBIngress{{IP: s.LoadBalancerIP, IPMode: s.LoadBalancerIPMode, Line: s.Line, Addr: s.LBAddr}}
		}
	}
	if s.LoadBalancerHostname != "" && s.Type != TypeLoadBalancer {
		c.add(s.Line, field+".loadBalancerHostname", "drop it, or make the Service type LoadBalancer", "only a LoadBalancer Service has a load balancer hostname")
	}
	for _, r := range s.LoadBalancerSourceRanges {
		parseCIDR(c, s.Line, field+".loadBalancerSourceRanges", r)
	}
}

func validateLoadBalancerIP(c *collector, s *Service, field string) {
	field += ".loadBalancerIP"
	lb := s.Type == TypeLoadBalancer
	switch {
	case s.LoadBalancerIP == "" && lb:
		c.add(s.Line, field, "give the load balancer an address, e.g. 203.0.113.10", "LoadBalancer Service %s has no loadBalancerIP", s.Name)
	case s.LoadBalancerIP == "":
	case !lb:
		c.add(s.Line, field, "make the Service type LoadBalancer", "only a LoadBalancer Service has a loadBalancerIP")
	default:
		if a, ok := parseIP(c, s.Line, field, s.LoadBalancerIP); ok {
			s.LBAddr = a
		}
	}
}

func validateLoadBalancerIPMode(c *collector, s *Service, field string) {
	field += ".loadBalancerIPMode"
	switch s.LoadBalancerIPMode {
	case "":
		if s.Type == TypeLoadBalancer {
			s.LoadBalancerIPMode = IPModeVIP
		}
	case IPModeVIP, IPModeProxy:
		if s.Type != TypeLoadBalancer {
			c.add(s.Line, field, "drop it, or make the Service type LoadBalancer", "only a LoadBalancer Service has an ipMode")
		}
	default:
		c.add(s.Line, field, "use VIP or Proxy", "unknown load balancer ipMode %q", s.LoadBalancerIPMode)
	}
}

// validateLoadBalancerIngress checks a load balancer with several
// addresses: each an IPv4 address of its own, with ipMode VIP (default)
// or Proxy.
func validateLoadBalancerIngress(c *collector, s *Service, field string) {
	f := field + ".loadBalancerIngress"
	switch {
	case s.Type != TypeLoadBalancer:
		c.add(s.Line, f, "drop it, or make the Service type LoadBalancer", "only a LoadBalancer Service has load balancer ingress addresses")
		return
	case s.LoadBalancerIP != "":
		c.add(s.Line, f, "list every address under loadBalancerIngress and drop loadBalancerIP", "give the load balancer's addresses either as loadBalancerIP or as loadBalancerIngress, not both")
		return
	case s.LoadBalancerIPMode != "":
		c.add(s.Line, field+".loadBalancerIPMode", "give each loadBalancerIngress entry its ipMode", "loadBalancerIPMode is for loadBalancerIP; with loadBalancerIngress each address has its own ipMode")
		return
	}
	seen := map[netip.Addr]int{}
	for i := range s.LoadBalancerIngress {
		in := &s.LoadBalancerIngress[i]
		ef := fmt.Sprintf("%s[%d]", f, i)
		line := max(in.Line, s.Line)
		if in.IP == "" {
			c.add(line, ef+".ip", "give each entry its address: {ip: 203.0.113.10}", "load balancer ingress %d has no ip", i)
			continue
		}
		a, ok := parseIP(c, line, ef+".ip", in.IP)
		if !ok {
			continue
		}
		if j, dup := seen[a]; dup {
			c.add(line, ef+".ip", "list each address once", "%s is already loadBalancerIngress[%d]", a, j)
			continue
		}
		seen[a] = i
		switch in.IPMode {
		case "":
			in.IPMode = IPModeVIP
		case IPModeVIP, IPModeProxy:
		default:
			c.add(line, ef+".ipMode", "use VIP or Proxy", "unknown load balancer ipMode %q", in.IPMode)
			continue
		}
		in.Addr = a
		s.LBIngress = append(s.LBIngress, *in)
	}
	if len(s.LBIngress) > 0 {
		s.LBAddr = s.LBIngress[0].Addr
	}
}

// portNameRE is a Kubernetes port name (IANA_SVC_NAME): lower-case
// letters, digits and single '-' between them; isPortName adds the rest.
var portNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9]|-[a-z0-9])*$`)

// isPortName reports whether s can name a port: at most 15 characters of
// portNameRE, at least one a letter.
func isPortName(s string) bool {
	return len(s) <= 15 && portNameRE.MatchString(s) && strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz")
}

// validateTargetPort checks a targetPort: a port number, or the name of a
// pod port (YAML turns 80.5 or a huge number into text, which must not
// pass for a name).
func validateTargetPort(c *collector, line int, field, tp string) {
	const fix = "use a port in 1-65535 or a pod port's name (up to 15 lower-case letters, digits and '-', e.g. http)"
	n, err := strconv.Atoi(tp)
	switch {
	case err == nil && !validPort(n):
		c.add(line, field, fix, "targetPort %d is out of range", n)
	case err == nil:
	case intLiteralRE.MatchString(tp):
		c.add(line, field, fix, "targetPort %s is out of range", tp)
	case !isPortName(tp):
		c.add(line, field, fix, "targetPort %q is neither a port number nor a port name", tp)
	}
}

func validatePolicy(c *collector, line int, field string, v *string, allowed bool) {
	switch {
	case *v == "":
		*v = PolicyCluster
	case *v != PolicyCluster && *v != PolicyLocal:
		c.add(line, field, "use Cluster or Local", "unknown traffic policy %q", *v)
	case !allowed && *v == PolicyLocal:
		c.add(line, field, "drop it, or make the Service a NodePort / LoadBalancer", "a ClusterIP Service has no external traffic policy")
	}
}

// MatchKubeProxy reports whether kube-proxy kp matches a pattern "MODE",
// "MODE@V", "MODE@<V", "MODE@<=V", "MODE@>V" or "MODE@>=V" (V a minor
// version such as 1.24). A nil kp (no kube-proxy) matches nothing.
func MatchKubeProxy(pattern string, kp *KubeProxy) (bool, error) {
	mode, cond, hasCond := strings.Cut(pattern, "@")
	if _, ok := KubeProxyMode(mode); !ok {
		return false, fmt.Errorf("%q: %s", pattern, unknownMode(mode))
	}
	op := "="
	for _, o := range []string{"<=", ">=", "<", ">", "="} {
		if strings.HasPrefix(cond, o) {
			op, cond = o, cond[len(o):]
			break
		}
	}
	want := 0
	if hasCond {
		m := versionRE.FindStringSubmatch(cond)
		if m == nil {
			return false, fmt.Errorf("%q: %q is not a version such as 1.24", pattern, cond)
		}
		want, _ = strconv.Atoi(m[1])
	}
	if kp == nil || kp.Mode != mode {
		return false, nil
	}
	if !hasCond {
		return true, nil
	}
	m := versionRE.FindStringSubmatch(kp.Version)
	if m == nil {
		return false, nil
	}
	have, _ := strconv.Atoi(m[1])
	switch op {
	case "<":
		return have < want, nil
	case "<=":
		return have <= want, nil
	case ">":
		return have > want, nil
	case ">=":
		return have >= want, nil
	}
	return have == want, nil
}

// WithKubeProxy is the scenario's kube-proxy with --kube-proxy's mode and
// version (kp, from ParseKubeProxy): the scenario's options stay, as a
// kube-proxy upgrade keeps its flags and configuration (a Terway
// cluster's clusterCIDR "" above all), except those the new mode or
// version would refuse: each of those is dropped, and named in the notes.
func (t *Topology) WithKubeProxy(kp *KubeProxy) (*KubeProxy, []string) {
	old := t.KubeProxy
	if old == nil {
		return kp, nil
	}
	merged := *old
	merged.Mode, merged.Version = kp.Mode, kp.Version
	var notes []string
	refused := func(drop func(*KubeProxy), field string) {
		probe := merged
		drop(&probe)
		c := &collector{}
		validateKubeProxy(c, &Topology{KubeProxy: &merged})
		before := len(c.ps)
		c = &collector{}
		validateKubeProxy(c, &Topology{KubeProxy: &probe})
		if len(c.ps) < before {
			notes = append(notes, fmt.Sprintf("--kube-proxy %s@%s: the scenario's kubeProxy.%s does not apply to it, dropped", kp.Mode, kp.Version, field))
			merged = probe
		}
	}
	refused(func(k *KubeProxy) { k.FeatureGates = nil }, "featureGates")
	refused(func(k *KubeProxy) { k.NodePortAddresses = nil }, "nodePortAddresses")
	refused(func(k *KubeProxy) { k.Scheduler = "" }, "scheduler")
	refused(func(k *KubeProxy) { k.LocalhostNodePorts = nil }, "localhostNodePorts")
	return &merged, notes
}
