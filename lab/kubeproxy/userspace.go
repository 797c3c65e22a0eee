package kubeproxy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

// The userspace proxier (kubernetes/kubernetes pkg/proxy/userspace at commit
// 0096f4a4, about 1.21-1.23; the rule text matches seed 003's iptables-save,
// from the 1.1 era). kube-proxy itself accepts every Service connection on a
// proxy port of its own and copies the bytes to an endpoint it picks
// round-robin; iptables only steers VIP traffic to that port. Removed in
// 1.26 (#112133).
const (
	chainPortalsContainer  = "KUBE-PORTALS-CONTAINER"
	chainPortalsHost       = "KUBE-PORTALS-HOST"
	chainNodePortContainer = "KUBE-NODEPORT-CONTAINER"
	chainNodePortHost      = "KUBE-NODEPORT-HOST"
	chainNodePortNonLocal  = "KUBE-NODEPORT-NON-LOCAL"

	// UserspaceProxyPortBase is the first proxy port. kube-proxy takes
	// random free ports (--proxy-port-range unset); netlab numbers them
	// from here in Service order, the same on every node, so rules and
	// traces read the same every time.
	UserspaceProxyPortBase = 20000
)

var userspaceRemoved = Version{1, 26}

// UserspaceResult is what the userspace proxier installs on one node: its
// iptables rules and the proxy sockets it opens.
type UserspaceResult struct {
	Rules   *plan.Ruleset
	Proxies []plan.Proxy
}

// Userspace renders the userspace proxier's rules for node n at version v.
// It binds to 0.0.0.0 (no --bind-address), so traffic from pods is
// REDIRECTed and the node's own traffic DNATed to the node IP.
func Userspace(v Version, n Node) (*UserspaceResult, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if !v.less(userspaceRemoved) {
		return nil, fmt.Errorf("kube-proxy %s has no userspace mode: it was removed in 1.26 (#112133); use 1.25 or older", v)
	}
	if len(n.IPs) == 0 {
		return nil, fmt.Errorf("node %s has no IP", n.Name)
	}
	hostIP := n.IPs[0]
	r := &plan.Ruleset{}
	portals := `-m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules"`
	nodePorts := `-m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain"`
	r.Append("nat", "PREROUTING", portals+" -j "+chainPortalsContainer, nodePorts+" -j "+chainNodePortContainer)
	r.Append("nat", "OUTPUT", portals+" -j "+chainPortalsHost, nodePorts+" -j "+chainNodePortHost)
	r.Append("filter", "INPUT", `-m comment --comment "Ensure that non-local NodePort traffic can flow" -j `+chainNodePortNonLocal)
	for _, c := range []string{chainPortalsContainer, chainPortalsHost, chainNodePortContainer, chainNodePortHost} {
		r.Table("nat").Chain(c)
	}
	r.Table("filter").Chain(chainNodePortNonLocal)

	res := &UserspaceResult{Rules: r}
	for _, sp := range userspacePorts(n.Services) {
		s, p, name := sp.svc, sp.port, sp.name
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		proxyPort := UserspaceProxyPortBase + len(res.Proxies)
		px := plan.Proxy{Service: name, Protocol: strings.ToUpper(proto), Port: proxyPort, Endpoints: readyEndpoints(s, p)}
		if s.SessionAffinity == "ClientIP" {
			px.AffinitySeconds = s.SessionAffinityTimeoutSeconds
			if px.AffinitySeconds == 0 {
				px.AffinitySeconds = 10800
			}
		}
		res.Proxies = append(res.Proxies, px)
		match := func(ip string, port int) string {
			d := ""
			if ip != "" {
				d = "-d " + ip + "/32 "
			}
			return fmt.Sprintf(`%s-p %s -m comment --comment "%s" -m %s --dport %d`, d, proto, name, proto, port)
		}
		vips := append([]string{s.ClusterIP}, s.ExternalIPs...)
		vips = append(vips, s.LoadBalancerIPs...)
		for _, ip := range vips {
			r.Append("nat", chainPortalsContainer, fmt.Sprintf("%s -j REDIRECT --to-ports %d", match(ip, p.Port), proxyPort))
			r.Append("nat", chainPortalsHost, fmt.Sprintf("%s -j DNAT --to-destination %s:%d", match(ip, p.Port), hostIP, proxyPort))
		}
		if p.NodePort != 0 && s.Type != "ClusterIP" {
			r.Append("nat", chainNodePortContainer, fmt.Sprintf("%s -j REDIRECT --to-ports %d", match("", p.NodePort), proxyPort))
			r.Append("nat", chainNodePortHost, fmt.Sprintf("%s -j DNAT --to-destination %s:%d", match("", p.NodePort), hostIP, proxyPort))
			r.Append("filter", chainNodePortNonLocal, match("", proxyPort)+" -m state --state NEW -j ACCEPT")
		}
	}
	return res, nil
}

type servicePort struct {
	svc  *Service
	port Port
	name string // the ServicePortName, "namespace/name:port"
}

// userspacePorts lists every port of every Service with a ClusterIP, by
// ServicePortName: the order proxy ports are numbered in.
func userspacePorts(svcs []Service) []servicePort {
	var out []servicePort
	for i := range svcs {
		s := &svcs[i]
		if s.ClusterIP == "" || s.ClusterIP == "None" {
			continue
		}
		for _, p := range s.Ports {
			out = append(out, servicePort{s, p, fmt.Sprintf("%s/%s:%s", nsOf(s), s.Name, p.Name)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func nsOf(s *Service) string {
	if s.Namespace == "" {
		return "default"
	}
	return s.Namespace
}

// readyEndpoints are the endpoints the proxier balances over: ready ones
// with a port of the Service port's name.
func readyEndpoints(s *Service, p Port) []string {
	var out []string
	for _, ep := range s.Endpoints {
		if ep.Ready != nil && !*ep.Ready {
			continue
		}
		for _, q := range ep.Ports {
			if q.Name == p.Name {
				out = append(out, fmt.Sprintf("%s:%d", ep.IP, q.Port))
			}
		}
	}
	return out
}

// The userspace mode: the first proxier, removed in 1.26
// (kubernetes#112133). Its proxy sockets are the lab daemon's.
func init() {
	Register(Mode{Name: "userspace", Since: MinVersion.Minor, Until: 26, UntilPR: "#112133", Proxies: true,
		Render: func(v Version, n Node, _ Options) (*NodeState, error) {
			res, err := Userspace(v, n)
			if err != nil {
				return nil, err
			}
			return &NodeState{Rules: res.Rules, Proxies: res.Proxies}, nil
		}})
}
