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

	// hiddenExternalIPs: the Service has IPv4 externalIPs that
	// AllowServiceExternalIPs=false keeps out of externalIP (1.36+); they
	// still make the port externally accessible.
	hiddenExternalIPs bool

	// srcCoversNode: a source range contains the node IP (syncProxyRules'
	// allowFromNode; the IPVS proxier's KUBE-LOAD-BALANCER-SOURCE-IP).
	srcCoversNode bool
}

// externallyAccessible is ServicePort.ExternallyAccessible, which reads
// the externalIPs field itself, not the gated ExternalIPs().
func (p *svcPort) externallyAccessible() bool {
	return p.nodePort != 0 || len(p.lbIP) != 0 || len(p.externalIP) != 0 || p.hiddenExternalIPs
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
	localAddrs  []net.IP // addresses of the node's interfaces (Node.Interfaces; else lo, then the node IPs)
	localDevs   []string // the interface of each of localAddrs
	localhostNP bool     // --iptables-localhost-nodeports
	clusterCIDR string
	masqAll     bool
	markBit     int
	npAddrs     []string // --nodeport-addresses
	nfacct      bool
	gates       map[string]bool
	ports       []*svcPort // sorted by name, then protocol
	totalEps    int        // endpoints of all service ports (large-cluster mode)
}

// interfaces fills the node's local addresses from its interfaces, or
// without them from the oracle's fake node: lo with 127.0.0.1, eth0 with
// the node IPs. Only IPv4 addresses count (kube-proxy's family). kube-ipvs0
// is left out: its addresses are the Services' own, and on the fresh node
// of the first sync it has none.
func (m *model) interfaces(ifaces []Interface, nodeIPs []string) error {
	if len(ifaces) == 0 {
		ifaces = []Interface{{Name: "lo", Addrs: []string{"127.0.0.1/8"}}, {Name: "eth0", Addrs: nodeIPs}}
	}
	for _, ifc := range ifaces {
		if ifc.Name == IPVSDummyDevice {
			continue
		}
		for _, a := range ifc.Addrs {
			ip := net.ParseIP(a)
			if ip == nil {
				var err error
				if ip, _, err = net.ParseCIDR(a); err != nil {
					return fmt.Errorf("node %s: interface %s: bad address %q", m.nodeName, ifc.Name, a)
				}
			}
			if ip4 := ip.To4(); ip4 != nil {
				m.localAddrs = append(m.localAddrs, ip4)
				m.localDevs = append(m.localDevs, ifc.Name)
			}
		}
	}
	return nil
}

func buildModel(v Version, n Node) (*model, error) {
	m := &model{
		nodeName:    n.Name,
		clusterCIDR: n.ClusterCIDR,
		masqAll:     n.MasqueradeAll,
		markBit:     14,
		nfacct:      n.NFAcct == nil || *n.NFAcct,
		localhostNP: n.LocalhostNodePorts == nil || *n.LocalhostNodePorts,
	}
	if m.nodeName == "" {
		m.nodeName = defaultNodeName
	}
	ips := n.IPs
	if len(ips) == 0 {
		ips = []string{defaultNodeIP}
	}
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
	}
	if m.nodeIP.To4() == nil {
		return nil, fmt.Errorf("node %s: only IPv4 is modelled, first node IP is %s", m.nodeName, m.nodeIP)
	}
	if err := m.interfaces(n.Interfaces, ips); err != nil {
		return nil, err
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
	npAddrs, err := nodePortAddresses(v, n.NodePortAddresses, m.nodeIP)
	if err != nil {
		return nil, fmt.Errorf("node %s: nodePortAddresses: %v", m.nodeName, err)
	}
	m.npAddrs = npAddrs
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

// nodePortAddresses checks --nodeport-addresses and expands its keywords
// as cmd/kube-proxy does before the proxier sees the list: "primary"
// alone (1.31+) or, from 1.37, "primary", "localhost" and "all" in any
// combination, each once (expandNodePortAddressKeywords). "primary" is
// the node IP as a /32, none when it is a loopback address.
func nodePortAddresses(v Version, in []string, nodeIP net.IP) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i, a := range in {
		switch a {
		case "primary", "localhost", "all":
			switch {
			case v.nodePortAddressKeywords():
				if seen[a] {
					return nil, fmt.Errorf("%q is listed twice", a)
				}
				seen[a] = true
			case a == "primary" && v.nodePortAddressPrimary():
				if i != 0 || len(in) != 1 {
					return nil, fmt.Errorf("kube-proxy %s can't use both 'primary' and CIDRs (mixing keywords and CIDRs needs 1.37)", v)
				}
			case a == "primary":
				return nil, fmt.Errorf("kube-proxy %s has no 'primary' keyword (1.31, #123105); give CIDRs", v)
			default:
				return nil, fmt.Errorf("kube-proxy %s has no %q keyword (1.37, #138427); give CIDRs", v, a)
			}
			switch a {
			case "primary":
				if !nodeIP.IsLoopback() {
					out = append(out, nodeIP.String()+"/32")
				}
			case "localhost":
				out = append(out, "127.0.0.0/8", "::1/128")
			case "all":
				out = append(out, "0.0.0.0/0", "::/0")
			}
		default:
			if _, _, err := net.ParseCIDR(a); err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// epKey is how EndpointSlice ports are matched to Service ports.
type epKey struct{ name, proto string }

// epSets are a Service's endpoints grouped by (port name, protocol) as the
// EndpointSlice cache holds them, each set keyed by "ip:port".
type epSets map[epKey]map[string]*endpoint

// servicePorts is what the proxier's service and EndpointSlice caches make
// of one Service: its ports (newBaseServiceInfo per ServicePort), each with
// its endpoints; none for the Services kube-proxy skips.
func (m *model) servicePorts(v Version, s *Service) ([]*svcPort, error) {
	id := serviceID(s)
	cip, skip, err := checkService(id, s)
	if skip || err != nil {
		return nil, err
	}
	base, err := m.serviceInfo(v, id, s, cip)
	if err != nil {
		return nil, err
	}
	// Owned here so that it can stay on the stack.
	sets := epSets{}
	if err := m.endpointSets(v, id, s, sets); err != nil {
		return nil, err
	}
	var out []*svcPort
	for _, sp := range s.Ports {
		p, err := newSvcPort(v, id, sp, base, sets)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// serviceID is the Service's "ns/name" (namespace "default" when empty).
func serviceID(s *Service) string {
	ns := s.Namespace
	if ns == "" {
		ns = "default"
	}
	return ns + "/" + s.Name
}

// serviceType is the Service's type, ClusterIP when empty.
func serviceType(s *Service) string {
	if s.Type == "" {
		return "ClusterIP"
	}
	return s.Type
}

// checkService validates the fields of a Service that all its ports share
// and returns its IPv4 clusterIP; skip is set for the Services kube-proxy
// ignores (ExternalName, headless or unallocated: ShouldSkipService).
func checkService(id string, s *Service) (cip net.IP, skip bool, err error) {
	switch typ := serviceType(s); typ {
	case "ClusterIP", "NodePort", "LoadBalancer":
	case "ExternalName":
		return nil, true, nil
	default:
		return nil, false, fmt.Errorf("service %s: unknown type %q", id, typ)
	}
	if s.ClusterIP == "" || s.ClusterIP == "None" {
		return nil, true, nil
	}
	cip = net.ParseIP(s.ClusterIP)
	if cip == nil || cip.To4() == nil {
		return nil, false, fmt.Errorf("service %s: clusterIP %q is not an IPv4 address (only IPv4 is modelled)", id, s.ClusterIP)
	}
	for _, p := range []struct{ field, val string }{{"externalTrafficPolicy", s.ExternalTrafficPolicy}, {"internalTrafficPolicy", s.InternalTrafficPolicy}} {
		if p.val != "" && p.val != "Cluster" && p.val != "Local" {
			return nil, false, fmt.Errorf("service %s: %s %q is not Cluster or Local", id, p.field, p.val)
		}
	}
	switch s.SessionAffinity {
	case "", "None", "ClientIP":
	default:
		return nil, false, fmt.Errorf("service %s: sessionAffinity %q is not None or ClientIP", id, s.SessionAffinity)
	}
	return cip.To4(), false, nil
}

// serviceInfo is newBaseServiceInfo: the settings every port of the
// Service shares, as a svcPort without name, protocol, ports and
// endpoints.
func (m *model) serviceInfo(v Version, id string, s *Service, cip net.IP) (svcPort, error) {
	typ := serviceType(s)
	external := typ == "NodePort" || typ == "LoadBalancer"
	p := svcPort{
		clusterIP: cip,
		eLocal:    external && s.ExternalTrafficPolicy == "Local" && v.hasESIPP(),
		iLocal: s.InternalTrafficPolicy == "Local" && v.hasServiceInternalTrafficPolicy() &&
			v.gateOn(m.gates, "ServiceInternalTrafficPolicy"),
		stickySecs: stickySeconds(v, s),
	}
	p.affinity = p.stickySecs != 0
	if typ == "LoadBalancer" && p.eLocal {
		p.hcNodePort = s.HealthCheckNodePort // NeedsHealthCheck
	}
	var err error
	if p.externalIP, err = ipv4s(id, "externalIPs", s.ExternalIPs); err != nil {
		return p, err
	}
	if v.hasExternalIPsGate() && !v.gateOn(m.gates, "AllowServiceExternalIPs") && len(p.externalIP) > 0 {
		p.externalIP, p.hiddenExternalIPs = nil, true
	}
	if p.lbIP, err = ipv4s(id, "loadBalancerIPs", s.LoadBalancerIPs); err != nil {
		return p, err
	}
	p.srcRanges, p.srcCoversNode, err = m.sourceRanges(v, id, s.LoadBalancerSourceRanges)
	return p, err
}

// stickySeconds is the ClientIP affinity timeout (0: no affinity): the
// Service's, or the API default; the hard-coded 180 s before 1.7.
func stickySeconds(v Version, s *Service) int {
	if s.SessionAffinity != "ClientIP" {
		return 0
	}
	if !v.affinityTimeoutConfigurable() {
		return legacyAffinitySeconds
	}
	if s.SessionAffinityTimeoutSeconds != 0 {
		return s.SessionAffinityTimeoutSeconds
	}
	return defaultAffinitySeconds
}

// ipv4s parses the addresses of a Service field, keeping the IPv4 ones
// (the IPv4 proxier ignores the other family).
func ipv4s(id, field string, in []string) ([]net.IP, error) {
	var out []net.IP
	for _, a := range in {
		ip := net.ParseIP(a)
		if ip == nil {
			return nil, fmt.Errorf("service %s: %s: bad IP %q", id, field, a)
		}
		if ip.To4() != nil {
			out = append(out, ip.To4())
		}
	}
	return out, nil
}

// sourceRanges parses loadBalancerSourceRanges: the IPv4 ones, trimmed
// (canonical from 1.31), and whether one contains the node IP. From 1.34
// a /0 among them empties the list (zeroSourceRangeAllowsAll).
func (m *model) sourceRanges(v Version, id string, in []string) (ranges []string, coversNode bool, err error) {
	defer func() {
		if err == nil && v.zeroSourceRangeAllowsAll() && hasZeroCIDR(ranges) {
			ranges, coversNode = nil, false
		}
	}()
	for _, r := range in {
		r = strings.TrimSpace(r)
		_, cidr, err := net.ParseCIDR(r)
		if err != nil {
			return nil, false, fmt.Errorf("service %s: loadBalancerSourceRanges: %v", id, err)
		}
		if cidr.IP.To4() == nil {
			continue
		}
		if v.normalizesSourceRanges() {
			r = cidr.String()
		}
		ranges = append(ranges, r)
		coversNode = coversNode || cidr.Contains(m.nodeIP)
	}
	return ranges, coversNode, nil
}

// hasZeroCIDR reports whether one of the CIDRs has prefix length 0.
func hasZeroCIDR(cidrs []string) bool {
	for _, c := range cidrs {
		if _, n, err := net.ParseCIDR(c); err == nil {
			if ones, _ := n.Mask.Size(); ones == 0 {
				return true
			}
		}
	}
	return false
}

// endpointSets groups the Service's endpoints into sets by (port name,
// protocol) as the EndpointSlice cache does, deduplicated by "ip:port"
// (see epSets.add for which copy wins).
func (m *model) endpointSets(v Version, id string, s *Service, sets epSets) error {
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		ip := net.ParseIP(e.IP)
		if ip == nil {
			return fmt.Errorf("service %s: endpoint %d: bad IP %q", id, i, e.IP)
		}
		if ip.To4() == nil {
			continue
		}
		ports, err := endpointPorts(id, s, e)
		if err != nil {
			return err
		}
		ready := boolOr(e.Ready, true)
		ep := endpoint{
			ip:          ip.To4(),
			local:       e.NodeName != "" && e.NodeName == m.nodeName,
			ready:       ready,
			serving:     boolOr(e.Serving, ready),
			terminating: boolOr(e.Terminating, false),
		}
		sets.add(ep, ports, v.prefersNonTerminatingDuplicate())
	}
	return nil
}

// add puts a copy of ep into the set of each valid port it serves. Of
// duplicates (the same ip:port twice, in scenario order, which is the
// order within one EndpointSlice) the first is kept unless a later one is
// local, or from 1.36 (nonTerminating) the last that is not terminating.
func (sets epSets) add(ep endpoint, ports []EndpointPort, nonTerminating bool) {
	for _, pp := range ports {
		if pp.Port <= 0 {
			continue // kube-proxy ignores invalid endpoint ports
		}
		k := epKey{pp.Name, protoOr(pp.Protocol)}
		set := sets[k]
		if set == nil {
			set = map[string]*endpoint{}
			sets[k] = set
		}
		c := ep
		c.hostPort = net.JoinHostPort(ep.ip.String(), strconv.Itoa(pp.Port))
		_, dup := set[c.hostPort]
		if !dup || (!nonTerminating && c.local) || (nonTerminating && !c.terminating) {
			set[c.hostPort] = &c
		}
	}
}

// endpointPorts are the ports an endpoint serves: its own, or else the
// Service ports' numeric targetPorts.
func endpointPorts(id string, s *Service, e *Endpoint) ([]EndpointPort, error) {
	if len(e.Ports) != 0 {
		return e.Ports, nil
	}
	var ports []EndpointPort
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
	return ports, nil
}

// newSvcPort is one ServicePort on top of the Service's shared settings,
// with its endpoints in the EndpointSlice cache's order (byEndpoint: by
// "ip:port").
func newSvcPort(v Version, id string, sp Port, base svcPort, sets epSets) (*svcPort, error) {
	proto := protoOr(sp.Protocol)
	switch proto {
	case "TCP", "UDP", "SCTP":
	default:
		return nil, fmt.Errorf("service %s port %q: unknown protocol %q", id, sp.Name, sp.Protocol)
	}
	if _, _, err := targetPort(sp); err != nil {
		return nil, fmt.Errorf("service %s port %q: %v", id, sp.Name, err)
	}
	p := base
	p.name = id
	if sp.Name != "" {
		p.name += ":" + sp.Name
	}
	p.proto = strings.ToLower(proto)
	p.port, p.nodePort = sp.Port, sp.NodePort
	p.hash = ChainHash(p.name, p.proto)
	for _, e := range sets[epKey{sp.Name, proto}] {
		if !v.hasTerminatingEndpoints() && !e.ready {
			// Before 1.22 the Endpoints/EndpointSlice caches only
			// carried ready addresses.
			continue
		}
		e2 := *e
		e2.chain = EndpointChainName(p.name, p.proto, e2.hostPort)
		p.eps = append(p.eps, &e2)
	}
	sort.Slice(p.eps, func(i, j int) bool { return p.eps[i].hostPort < p.eps[j].hostPort })
	return &p, nil
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

// categorize1_24 is CategorizeEndpoints as of 1.24-1.37
// (kubernetes/kubernetes pkg/proxy/topology.go, added by #106497):
// cluster endpoints are the ready ones, else (gate) serving+terminating;
// local endpoints the local ready ones, else (gate) local
// serving+terminating. gate is ProxyTerminatingEndpoints (GA from 1.28).
func categorize1_24(p *svcPort, gate bool) categorized {
	var c categorized
	if p.usesClusterEndpoints() {
		c.cluster = selectEndpoints(p.eps, isReady)
		if len(c.cluster) == 0 && gate {
			c.cluster = selectEndpoints(p.eps, isServingTerminating)
		}
		c.hasAny = len(c.cluster) > 0
	}
	if !p.usesLocalEndpoints() {
		c.reachable = c.cluster
		return c
	}
	local, usable, useTerminating := localEndpoints1_24(p.eps, gate)
	c.local = local
	c.hasAny = c.hasAny || usable
	switch {
	case !p.usesClusterEndpoints():
		c.reachable = c.local
	case !useTerminating:
		// No topology hints are modelled, so the cluster endpoints
		// already contain every local ready endpoint.
		c.reachable = c.cluster
	default:
		c.reachable = union(p.eps, c.cluster, c.local)
	}
	return c
}

// localEndpoints1_24 is the local half of CategorizeEndpoints: the local
// ready endpoints, else (gate) the local serving+terminating ones
// (useTerminating); usable says whether any endpoint at all is ready or,
// with the gate, serving+terminating.
func localEndpoints1_24(eps []*endpoint, gate bool) (local []*endpoint, usable, useTerminating bool) {
	usable, localReady, localTerm := scanUsable(eps, gate)
	switch {
	case localReady:
		local = selectEndpoints(eps, isLocalReady)
	case localTerm:
		useTerminating = true
		local = selectEndpoints(eps, isLocalServingTerminating)
	}
	return local, usable, useTerminating
}

// scanUsable walks the endpoints as CategorizeEndpoints (and the 1.22
// eTP=Local loop) do: usable if one is ready or, when terminating ones
// count, serving+terminating; localReady / localTerm if such a one is
// local.
func scanUsable(eps []*endpoint, terminating bool) (usable, localReady, localTerm bool) {
	for _, e := range eps {
		if e.ready {
			usable = true
			localReady = localReady || e.local
		} else if terminating && isServingTerminating(e) {
			usable = true
			localTerm = localTerm || e.local
		}
	}
	return usable, localReady, localTerm
}

// union is the endpoints of a or b in the order of all (kube-proxy builds
// it from a map; the order only affects chain declaration order).
func union(all, a, b []*endpoint) []*endpoint {
	in := make(map[*endpoint]bool, len(a)+len(b))
	for _, e := range a {
		in[e] = true
	}
	for _, e := range b {
		in[e] = true
	}
	return selectEndpoints(all, func(e *endpoint) bool { return in[e] })
}

// filteredEndpoints is FilterEndpoints before 1.24: with
// internalTrafficPolicy=Local (unless eTP=Local, which wins there) only
// this node's endpoints.
func (p *svcPort) filteredEndpoints() []*endpoint {
	if !p.iLocal || p.eLocal {
		return p.eps
	}
	return selectEndpoints(p.eps, isLocal)
}

// selectEndpoints returns the endpoints keep accepts, in order (nil for
// none).
func selectEndpoints(eps []*endpoint, keep func(*endpoint) bool) []*endpoint {
	var out []*endpoint
	for _, e := range eps {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func isReady(e *endpoint) bool                   { return e.ready }
func isLocal(e *endpoint) bool                   { return e.local }
func isLocalReady(e *endpoint) bool              { return e.local && e.ready }
func isServingTerminating(e *endpoint) bool      { return e.serving && e.terminating }
func isLocalServingTerminating(e *endpoint) bool { return e.local && isServingTerminating(e) }
