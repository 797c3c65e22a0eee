package topology

import (
	"fmt"
	"net/netip"
	"regexp"
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

func validateServices(c *collector, t *Topology) {
	sp := t.Network.ServicesPrefix
	usedIP := map[netip.Addr]string{}
	usedNodePort := map[int]string{}
	names := map[string]bool{}
	// First pass: explicit addresses and node ports, so that defaults
	// never take one a later Service names.
	for i := range t.Services {
		s := &t.Services[i]
		if s.ClusterIP != "" && s.ClusterIP != "None" {
			if a, err := netip.ParseAddr(s.ClusterIP); err == nil {
				usedIP[a] = s.Name
			}
		}
		for _, p := range s.Ports {
			if p.NodePort != 0 {
				usedNodePort[p.NodePort] = s.Name
			}
		}
		if s.HealthCheckNodePort != 0 {
			usedNodePort[s.HealthCheckNodePort] = s.Name
		}
	}
	nextIP := addN(sp.Addr(), 10)
	nextNodePort := NodePortMin
	// allocNodePort picks the next free port of the NodePort range, or
	// reports that none is left (and returns 0).
	allocNodePort := func(line int, field string) int {
		for usedNodePort[nextNodePort] != "" {
			nextNodePort++
		}
		if nextNodePort > NodePortMax {
			c.add(line, field, "give some ports an explicit nodePort, or use fewer NodePort / LoadBalancer ports", "no free nodePort is left in %d-%d", NodePortMin, NodePortMax)
			return 0
		}
		usedNodePort[nextNodePort] = "?"
		return nextNodePort
	}
	for i := range t.Services {
		s := &t.Services[i]
		field := fmt.Sprintf("services[%d]", i)
		line := s.Line
		if err := ValidName(s.Name); err != nil {
			c.add(line, field+".name", "use a name like nginx1", "service name %v", err)
		}
		if s.Namespace == "" {
			s.Namespace = "default"
		}
		if err := ValidName(s.Namespace); err != nil {
			c.add(line, field+".namespace", "use a namespace like default", "namespace %v", err)
		}
		if names[s.Name] {
			c.add(line, field+".name", "give each Service its own name", "service %q is defined twice", s.Name)
		}
		names[s.Name] = true
		if s.Type == "" {
			s.Type = TypeClusterIP
		}
		if s.Type != TypeClusterIP && s.Type != TypeNodePort && s.Type != TypeLoadBalancer {
			c.add(line, field+".type", "use ClusterIP, NodePort or LoadBalancer", "unknown service type %q", s.Type)
		}
		external := s.Type != TypeClusterIP
		switch {
		case s.ClusterIP == "" && !sp.IsValid():
		case s.ClusterIP == "":
			for usedIP[nextIP] != "" {
				nextIP = nextIP.Next()
			}
			if !sp.Contains(nextIP) {
				c.add(line, field, "widen network.services", "network.services %s is full", sp)
				break
			}
			s.ClusterAddr = nextIP
			usedIP[nextIP] = s.Name
		case s.ClusterIP == "None":
			c.add(line, field+".clusterIP", "give the Service a ClusterIP or leave it out", "headless Services are not supported (kube-proxy ignores them)")
		default:
			a, ok := parseIP(c, line, field+".clusterIP", s.ClusterIP)
			if !ok {
				break
			}
			s.ClusterAddr = a
			if sp.IsValid() && !sp.Contains(a) {
				c.add(line, field+".clusterIP", fmt.Sprintf("pick an address in %s", sp), "%s is outside network.services %s", a, sp)
			} else if usedIP[a] != s.Name {
				c.add(line, field+".clusterIP", "give each Service its own ClusterIP", "%s is already Service %s's ClusterIP", a, usedIP[a])
			}
		}
		if len(s.Ports) == 0 {
			c.add(line, field+".ports", "add ports: [{port: 80}]", "service %s has no ports", s.Name)
		}
		portNames := map[string]bool{}
		for j := range s.Ports {
			p := &s.Ports[j]
			pf := fmt.Sprintf("%s.ports[%d]", field, j)
			pl := max(p.Line, line)
			if p.Port < 1 || p.Port > 65535 {
				c.add(pl, pf+".port", "use a port in 1-65535", "port %d is out of range", p.Port)
			}
			if len(s.Ports) > 1 && p.Name == "" {
				c.add(pl, pf+".name", "name every port of a multi-port Service", "port %d has no name", p.Port)
			}
			if portNames[p.Name] && p.Name != "" {
				c.add(pl, pf+".name", "give each port its own name", "port name %q is used twice", p.Name)
			}
			portNames[p.Name] = true
			if p.TargetPort == "" {
				p.TargetPort = strconv.Itoa(p.Port)
			} else {
				validateTargetPort(c, pl, pf+".targetPort", p.TargetPort)
			}
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
			if p.Protocol != "TCP" && p.Protocol != "UDP" {
				c.add(pl, pf+".protocol", "use TCP or UDP", "unsupported protocol %q", p.Protocol)
			}
			switch {
			case !external && p.NodePort != 0:
				c.add(pl, pf+".nodePort", "drop nodePort or make the Service a NodePort / LoadBalancer", "a ClusterIP Service has no nodePort")
			case external && p.NodePort == 0:
				p.NodePort = allocNodePort(pl, pf+".nodePort")
			case external && (p.NodePort < NodePortMin || p.NodePort > NodePortMax):
				c.add(pl, pf+".nodePort", fmt.Sprintf("use %d-%d", NodePortMin, NodePortMax), "nodePort %d is outside the NodePort range", p.NodePort)
			case external && usedNodePort[p.NodePort] != s.Name:
				c.add(pl, pf+".nodePort", "give each port its own nodePort", "nodePort %d is already used by Service %s", p.NodePort, usedNodePort[p.NodePort])
			}
		}
		validatePolicy(c, line, field+".externalTrafficPolicy", &s.ExternalTrafficPolicy, external)
		validatePolicy(c, line, field+".internalTrafficPolicy", &s.InternalTrafficPolicy, true)
		validateHealthCheckNodePort(c, s, line, field, usedNodePort)
		if s.Type == TypeLoadBalancer && s.ExternalTrafficPolicy == PolicyLocal && s.HealthCheckNodePort == 0 {
			s.HealthCheckNodePort = allocNodePort(line, field+".healthCheckNodePort")
		}
		switch s.SessionAffinity {
		case "":
			s.SessionAffinity = "None"
		case "None", "ClientIP":
		default:
			c.add(line, field+".sessionAffinity", "use None or ClientIP", "unknown session affinity %q", s.SessionAffinity)
		}
		if s.SessionAffinity == "ClientIP" && s.SessionAffinityTimeout == 0 {
			s.SessionAffinityTimeout = 10800
		}
		if s.SessionAffinityTimeout < 0 || s.SessionAffinityTimeout > 86400 {
			c.add(line, field+".sessionAffinityTimeoutSeconds", "use 1-86400", "timeout %d is out of range", s.SessionAffinityTimeout)
		}
		for _, e := range s.ExternalIPs {
			parseIP(c, line, field+".externalIPs", e)
		}
		if s.LoadBalancerIP != "" {
			if s.Type != TypeLoadBalancer {
				c.add(line, field+".loadBalancerIP", "make the Service type LoadBalancer", "only a LoadBalancer Service has a loadBalancerIP")
			} else if a, ok := parseIP(c, line, field+".loadBalancerIP", s.LoadBalancerIP); ok {
				s.LBAddr = a
			}
		} else if s.Type == TypeLoadBalancer {
			c.add(line, field+".loadBalancerIP", "give the load balancer an address, e.g. 203.0.113.10", "LoadBalancer Service %s has no loadBalancerIP", s.Name)
		}
		switch s.LoadBalancerIPMode {
		case "":
			if s.Type == TypeLoadBalancer {
				s.LoadBalancerIPMode = IPModeVIP
			}
		case IPModeVIP, IPModeProxy:
			if s.Type != TypeLoadBalancer {
				c.add(line, field+".loadBalancerIPMode", "drop it, or make the Service type LoadBalancer", "only a LoadBalancer Service has an ipMode")
			}
		default:
			c.add(line, field+".loadBalancerIPMode", "use VIP or Proxy", "unknown load balancer ipMode %q", s.LoadBalancerIPMode)
		}
		if s.LoadBalancerHostname != "" && s.Type != TypeLoadBalancer {
			c.add(line, field+".loadBalancerHostname", "drop it, or make the Service type LoadBalancer", "only a LoadBalancer Service has a load balancer hostname")
		}
		for _, r := range s.LoadBalancerSourceRanges {
			parseCIDR(c, line, field+".loadBalancerSourceRanges", r)
		}
	}
}

// validateHealthCheckNodePort checks an explicit healthCheckNodePort: as
// in Kubernetes, only a LoadBalancer Service with externalTrafficPolicy
// Local has one, in the NodePort range and not another port's nodePort.
func validateHealthCheckNodePort(c *collector, s *Service, line int, field string, used map[int]string) {
	hc := s.HealthCheckNodePort
	field += ".healthCheckNodePort"
	switch {
	case hc == 0:
	case s.Type != TypeLoadBalancer || s.ExternalTrafficPolicy != PolicyLocal:
		c.add(line, field, "drop it, or make the Service a LoadBalancer with externalTrafficPolicy: Local", "only a LoadBalancer Service with externalTrafficPolicy Local has a healthCheckNodePort")
	case hc < NodePortMin || hc > NodePortMax:
		c.add(line, field, fmt.Sprintf("use %d-%d", NodePortMin, NodePortMax), "healthCheckNodePort %d is outside the NodePort range", hc)
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
