package kubeproxy

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Defaults of the oracle's scenario format (docs/testing.md, "The oracle"),
// which are also kube-proxy's: the node name and IP are those of the
// upstream proxier unit tests' fakes (testHostname), the affinity timeout
// the API's default.
const (
	defaultNodeName        = "test-hostname"
	defaultNodeIP          = "192.168.0.2"
	defaultAffinitySeconds = 10800 // API default of sessionAffinityConfig.clientIP.timeoutSeconds
	legacyAffinitySeconds  = 180   // hard-coded stickyMaxAgeSeconds before the API field (1.7)
)

// svcPort is one Service port as kube-proxy's ServicePortMap holds it, with
// its endpoints from the EndpointSlice cache.
type svcPort struct {
	name       string // ServicePortName.String(): "ns/name" or "ns/name:port"
	proto      string // lower case: tcp, udp, sctp
	clusterIP  net.IP
	port       int
	nodePort   int
	externalIP []net.IP
	lbIP       []net.IP
	srcRanges  []string // loadBalancerSourceRanges, trimmed (canonical from 1.31)
	eLocal     bool     // externalTrafficPolicy=Local on a NodePort/LoadBalancer service
	iLocal     bool     // internalTrafficPolicy=Local and the gate is on
	hcNodePort int
	affinity   bool
	stickySecs int
	hash       string // ChainHash(name, proto)
	eps        []*endpoint
}

func (p *svcPort) externallyAccessible() bool {
	return p.nodePort != 0 || len(p.lbIP) != 0 || len(p.externalIP) != 0
}

// usesClusterEndpoints / usesLocalEndpoints are the 1.24+ ServicePort
// methods: the cluster chain is needed unless iTP=Local and nothing is
// external (eTP=Local still short-circuits pod traffic to all endpoints);
// the local chain when iTP=Local or eTP=Local with an external address.
func (p *svcPort) usesClusterEndpoints() bool { return !p.iLocal || p.externallyAccessible() }
func (p *svcPort) usesLocalEndpoints() bool {
	return p.iLocal || (p.eLocal && p.externallyAccessible())
}

// endpoint is one deduplicated "ip:port" of a service port.
type endpoint struct {
	ip                          net.IP
	hostPort                    string // net.JoinHostPort: the DNAT target and hash input
	local                       bool
	ready, serving, terminating bool
	chain                       string // KUBE-SEP-...
}

// model is what the proxier knows after the informers delivered the node's
// Services and EndpointSlices.
type model struct {
	nodeName    string
	nodeIP      net.IP   // first node IP: proxier.nodeIP
	localAddrs  []net.IP // addresses of the node's interfaces (lo, then the node IPs)
	clusterCIDR string
	masqAll     bool
	markBit     int
	npAddrs     []string // --nodeport-addresses
	nfacct      bool
	gates       map[string]bool
	ports       []*svcPort // sorted by name, then protocol
	totalEps    int        // endpoints of all service ports (large-cluster mode)
}

func buildModel(v Version, n Node) (*model, error) {
	m := &model{
		nodeName:    n.Name,
		clusterCIDR: n.ClusterCIDR,
		masqAll:     n.MasqueradeAll,
		markBit:     14,
		npAddrs:     n.NodePortAddresses,
		nfacct:      n.NFAcct == nil || *n.NFAcct,
	}
	if m.nodeName == "" {
		m.nodeName = defaultNodeName
	}
	ips := n.IPs
	if len(ips) == 0 {
		ips = []string{defaultNodeIP}
	}
	m.localAddrs = append(m.localAddrs, net.IPv4(127, 0, 0, 1).To4())
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("node %s: bad node IP %q", m.nodeName, s)
		}
		if ip4 := ip.To4(); ip4 != nil {
			ip = ip4
		}
		if m.nodeIP == nil {
			m.nodeIP = ip
		}
		m.localAddrs = append(m.localAddrs, ip)
	}
	if m.nodeIP.To4() == nil {
		return nil, fmt.Errorf("node %s: only IPv4 is modelled, first node IP is %s", m.nodeName, m.nodeIP)
	}
	if n.MasqueradeBit != nil {
		if *n.MasqueradeBit < 0 || *n.MasqueradeBit > 31 {
			return nil, fmt.Errorf("node %s: masqueradeBit %d not in [0, 31]", m.nodeName, *n.MasqueradeBit)
		}
		m.markBit = *n.MasqueradeBit
	}
	if m.clusterCIDR != "" {
		if _, _, err := net.ParseCIDR(m.clusterCIDR); err != nil {
			return nil, fmt.Errorf("node %s: clusterCIDR: %v", m.nodeName, err)
		}
	}
	for _, c := range m.npAddrs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return nil, fmt.Errorf("node %s: nodePortAddresses: %v", m.nodeName, err)
		}
	}
	gates, err := v.featureGates(n.FeatureGates)
	if err != nil {
		return nil, fmt.Errorf("node %s: %v", m.nodeName, err)
	}
	m.gates = gates

	for i := range n.Services {
		ports, err := m.servicePorts(v, &n.Services[i])
		if err != nil {
			return nil, err
		}
		m.ports = append(m.ports, ports...)
	}
	sort.Slice(m.ports, func(i, j int) bool {
		a, b := m.ports[i], m.ports[j]
		if a.name != b.name {
			return a.name < b.name
		}
		return a.proto < b.proto
	})
	for _, p := range m.ports {
		m.totalEps += len(p.eps)
	}
	return m, nil
}

// epKey is how EndpointSlice ports are matched to Service ports.
type epKey struct{ name, proto string }

func (m *model) servicePorts(v Version, s *Service) ([]*svcPort, error) {
	ns := s.Namespace
	if ns == "" {
		ns = "default"
	}
	id := ns + "/" + s.Name
	typ := s.Type
	if typ == "" {
		typ = "ClusterIP"
	}
	switch typ {
	case "ClusterIP", "NodePort", "LoadBalancer":
	case "ExternalName":
		return nil, nil // kube-proxy skips it
	default:
		return nil, fmt.Errorf("service %s: unknown type %q", id, typ)
	}
	if s.ClusterIP == "" || s.ClusterIP == "None" {
		return nil, nil // headless or unallocated: ShouldSkipService
	}
	cip := net.ParseIP(s.ClusterIP)
	if cip == nil || cip.To4() == nil {
		return nil, fmt.Errorf("service %s: clusterIP %q is not an IPv4 address (only IPv4 is modelled)", id, s.ClusterIP)
	}
	etp, itp := s.ExternalTrafficPolicy, s.InternalTrafficPolicy
	for _, p := range []struct{ field, val string }{{"externalTrafficPolicy", etp}, {"internalTrafficPolicy", itp}} {
		if p.val != "" && p.val != "Cluster" && p.val != "Local" {
			return nil, fmt.Errorf("service %s: %s %q is not Cluster or Local", id, p.field, p.val)
		}
	}
	switch s.SessionAffinity {
	case "", "None", "ClientIP":
	default:
		return nil, fmt.Errorf("service %s: sessionAffinity %q is not None or ClientIP", id, s.SessionAffinity)
	}
	external := typ == "NodePort" || typ == "LoadBalancer"
	eLocal := external && etp == "Local" && v.hasESIPP()
	iLocal := itp == "Local" && v.hasServiceInternalTrafficPolicy() && v.gateOn(m.gates, "ServiceInternalTrafficPolicy")
	hc := 0
	if typ == "LoadBalancer" && eLocal {
		hc = s.HealthCheckNodePort // NeedsHealthCheck
	}
	sticky := 0
	if s.SessionAffinity == "ClientIP" {
		sticky = defaultAffinitySeconds
		if s.SessionAffinityTimeoutSeconds != 0 {
			sticky = s.SessionAffinityTimeoutSeconds
		}
		if !v.affinityTimeoutConfigurable() {
			sticky = legacyAffinitySeconds
		}
	}
	var extIPs, lbIPs []net.IP
	for _, list := range []struct {
		field string
		in    []string
		out   *[]net.IP
	}{{"externalIPs", s.ExternalIPs, &extIPs}, {"loadBalancerIPs", s.LoadBalancerIPs, &lbIPs}} {
		for _, a := range list.in {
			ip := net.ParseIP(a)
			if ip == nil {
				return nil, fmt.Errorf("service %s: %s: bad IP %q", id, list.field, a)
			}
			if ip.To4() == nil {
				continue // the IPv4 proxier ignores the other family
			}
			*list.out = append(*list.out, ip.To4())
		}
	}
	var ranges []string
	for _, r := range s.LoadBalancerSourceRanges {
		r = strings.TrimSpace(r)
		_, cidr, err := net.ParseCIDR(r)
		if err != nil {
			return nil, fmt.Errorf("service %s: loadBalancerSourceRanges: %v", id, err)
		}
		if cidr.IP.To4() == nil {
			continue
		}
		if v.normalizesSourceRanges() {
			r = cidr.String()
		}
		ranges = append(ranges, r)
	}

	// Endpoints grouped by (port name, protocol) as the EndpointSlice cache
	// does, deduplicated by "ip:port" (a local copy wins).
	byKey := map[epKey]map[string]*endpoint{}
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		ip := net.ParseIP(e.IP)
		if ip == nil {
			return nil, fmt.Errorf("service %s: endpoint %d: bad IP %q", id, i, e.IP)
		}
		if ip.To4() == nil {
			continue
		}
		ip = ip.To4()
		ready := boolOr(e.Ready, true)
		ep := endpoint{
			ip:          ip,
			local:       e.NodeName != "" && e.NodeName == m.nodeName,
			ready:       ready,
			serving:     boolOr(e.Serving, ready),
			terminating: boolOr(e.Terminating, false),
		}
		ports := e.Ports
		if len(ports) == 0 {
			for _, sp := range s.Ports {
				tp, named, err := targetPort(sp)
				if err != nil {
					return nil, fmt.Errorf("service %s port %q: %v", id, sp.Name, err)
				}
				if named {
					return nil, fmt.Errorf("service %s port %q has a named targetPort; give the endpoint ports explicitly", id, sp.Name)
				}
				ports = append(ports, EndpointPort{Name: sp.Name, Port: tp, Protocol: sp.Protocol})
			}
		}
		for _, pp := range ports {
			if pp.Port <= 0 {
				continue // kube-proxy ignores invalid endpoint ports
			}
			k := epKey{pp.Name, protoOr(pp.Protocol)}
			set := byKey[k]
			if set == nil {
				set = map[string]*endpoint{}
				byKey[k] = set
			}
			c := ep
			c.hostPort = net.JoinHostPort(ip.String(), strconv.Itoa(pp.Port))
			if _, ok := set[c.hostPort]; !ok || c.local {
				set[c.hostPort] = &c
			}
		}
	}

	var out []*svcPort
	for _, sp := range s.Ports {
		proto := protoOr(sp.Protocol)
		switch proto {
		case "TCP", "UDP", "SCTP":
		default:
			return nil, fmt.Errorf("service %s port %q: unknown protocol %q", id, sp.Name, sp.Protocol)
		}
		if _, _, err := targetPort(sp); err != nil {
			return nil, fmt.Errorf("service %s port %q: %v", id, sp.Name, err)
		}
		name := id
		if sp.Name != "" {
			name += ":" + sp.Name
		}
		p := &svcPort{
			name:       name,
			proto:      strings.ToLower(proto),
			clusterIP:  cip.To4(),
			port:       sp.Port,
			nodePort:   sp.NodePort,
			externalIP: extIPs,
			lbIP:       lbIPs,
			srcRanges:  ranges,
			eLocal:     eLocal,
			iLocal:     iLocal,
			hcNodePort: hc,
			affinity:   sticky != 0,
			stickySecs: sticky,
		}
		p.hash = ChainHash(p.name, p.proto)
		for _, e := range byKey[epKey{sp.Name, proto}] {
			if !v.hasTerminatingEndpoints() && !e.ready {
				// Before 1.22 the Endpoints/EndpointSlice caches only
				// carried ready addresses.
				continue
			}
			e2 := *e
			e2.chain = EndpointChainName(p.name, p.proto, e2.hostPort)
			p.eps = append(p.eps, &e2)
		}
		// The EndpointSlice cache sorts by endpoint string (byEndpoint).
		sort.Slice(p.eps, func(i, j int) bool { return p.eps[i].hostPort < p.eps[j].hostPort })
		out = append(out, p)
	}
	return out, nil
}

func boolOr(p *bool, d bool) bool {
	if p == nil {
		return d
	}
	return *p
}

func protoOr(p string) string {
	if p == "" {
		return "TCP"
	}
	return strings.ToUpper(p)
}

// targetPort returns a port's numeric targetPort (defaulting to port), or
// named=true for a named one.
func targetPort(p Port) (port int, named bool, err error) {
	switch t := p.TargetPort.(type) {
	case nil:
		return p.Port, false, nil
	case string:
		if n, err := strconv.Atoi(t); err == nil {
			return orPort(n, p.Port), false, nil
		}
		if t == "" {
			return p.Port, false, nil
		}
		return 0, true, nil
	case int:
		return orPort(t, p.Port), false, nil
	case int32:
		return orPort(int(t), p.Port), false, nil
	case int64:
		return orPort(int(t), p.Port), false, nil
	case float64:
		if t != math.Trunc(t) {
			return 0, false, fmt.Errorf("targetPort %v is not an integer", t)
		}
		return orPort(int(t), p.Port), false, nil
	case json.Number:
		n, err := t.Int64()
		if err != nil {
			return 0, false, fmt.Errorf("targetPort %v: %v", t, err)
		}
		return orPort(int(n), p.Port), false, nil
	}
	return 0, false, fmt.Errorf("targetPort %v (%T) is neither a number nor a name", p.TargetPort, p.TargetPort)
}

func orPort(n, d int) int {
	if n == 0 {
		return d
	}
	return n
}

// ---- endpoint categorisation ------------------------------------------

// categorized is which endpoints a version of kube-proxy uses for a port.
type categorized struct {
	cluster, local []*endpoint
	// reachable are the endpoints that get a KUBE-SEP- chain.
	reachable []*endpoint
	// hasAny: the port has usable endpoints somewhere (no REJECT).
	hasAny bool
}

// categorize1_24 is CategorizeEndpoints as of 1.24-1.31
// (kubernetes/kubernetes pkg/proxy/topology.go, added by #106497):
// cluster endpoints are the ready ones, else (gate) serving+terminating;
// local endpoints the local ready ones, else (gate) local
// serving+terminating. gate is ProxyTerminatingEndpoints (GA from 1.28).
func categorize1_24(p *svcPort, gate bool) categorized {
	var c categorized
	useTerminating := false
	if p.usesClusterEndpoints() {
		for _, e := range p.eps {
			if e.ready {
				c.cluster = append(c.cluster, e)
			}
		}
		if len(c.cluster) == 0 && gate {
			for _, e := range p.eps {
				if e.serving && e.terminating {
					c.cluster = append(c.cluster, e)
				}
			}
		}
		c.hasAny = len(c.cluster) > 0
	}
	if !p.usesLocalEndpoints() {
		c.reachable = c.cluster
		return c
	}
	var localReady, localTerm bool
	for _, e := range p.eps {
		if e.ready {
			c.hasAny = true
			localReady = localReady || e.local
		} else if gate && e.serving && e.terminating {
			c.hasAny = true
			localTerm = localTerm || e.local
		}
	}
	switch {
	case localReady:
		for _, e := range p.eps {
			if e.local && e.ready {
				c.local = append(c.local, e)
			}
		}
	case localTerm:
		useTerminating = true
		for _, e := range p.eps {
			if e.local && e.serving && e.terminating {
				c.local = append(c.local, e)
			}
		}
	}
	if !p.usesClusterEndpoints() {
		c.reachable = c.local
		return c
	}
	if !useTerminating {
		// No topology hints are modelled, so the cluster endpoints
		// already contain every local ready endpoint.
		c.reachable = c.cluster
		return c
	}
	// The union, in the endpoints' sorted order (kube-proxy builds it from
	// a map; the order only affects chain declaration order).
	in := map[*endpoint]bool{}
	for _, e := range c.cluster {
		in[e] = true
	}
	for _, e := range c.local {
		in[e] = true
	}
	for _, e := range p.eps {
		if in[e] {
			c.reachable = append(c.reachable, e)
		}
	}
	return c
}
