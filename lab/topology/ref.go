package topology

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Ref kinds: what a probe's from / to names.
const (
	KindPod    = "pod"
	KindNode   = "node"
	KindClient = "client"
	KindIP     = "ip"
	KindSvc    = "svc"
)

// Ways to reach a Service (a probe target's access).
const (
	AccessCluster      = "cluster"
	AccessNodePort     = "nodeport"
	AccessLoadBalancer = "loadbalancer"
	AccessExternal     = "external"
)

// Ref is a resolved probe end: a pod, node or outside client (with its
// address), or a bare IP. Port is 0 for a source.
type Ref struct {
	Kind string     `json:"kind"`
	Name string     `json:"name,omitempty"`
	Addr netip.Addr `json:"addr"`
	Port int        `json:"port,omitempty"`
	// For a Service target: how it is reached, and through which node
	// (the NodePort's node, or the node the load balancer picks).
	Access string `json:"access,omitempty"`
	Via    string `json:"via,omitempty"`
	// Protocol is the Service port's (TCP or UDP); "" for other targets.
	Protocol string `json:"protocol,omitempty"`
}

func (r Ref) String() string {
	s := r.Name
	if r.Kind == KindIP {
		s = r.Addr.String()
	} else {
		s = r.Kind + "/" + s
	}
	if r.Port != 0 {
		s += ":" + strconv.Itoa(r.Port)
	}
	return s
}

// AddrPort is the address and port to dial.
func (r Ref) AddrPort() netip.AddrPort { return netip.AddrPortFrom(r.Addr, uint16(r.Port)) }

// ResolveSource resolves a probe's "from": a pod, node or client name,
// optionally prefixed with its kind ("pod/centos").
func (t *Topology) ResolveSource(s string) (Ref, error) {
	kind, name := splitKind(s)
	if strings.Contains(name, ":") {
		return Ref{}, fmt.Errorf("%q: a probe source takes no port", s)
	}
	return t.lookup(kind, name, s)
}

// ResolveTarget resolves a probe's "to": [pod/|node/|client/]NAME[:port] or
// IP:port. A pod's port defaults to its first declared port.
func (t *Topology) ResolveTarget(s string) (Ref, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Port() != 0 {
		return Ref{Kind: KindIP, Addr: ap.Addr(), Port: int(ap.Port())}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return Ref{}, fmt.Errorf("%q: an IP target needs a port, e.g. %s:80", s, a)
	}
	// An IP with a port out of range must not fall through to a name
	// lookup ("no pod named 1.2.3.4").
	if host, portStr, ok := strings.Cut(s, ":"); ok {
		if a, err := netip.ParseAddr(host); err == nil {
			p, err := strconv.Atoi(portStr)
			if err != nil || p < 1 || p > 65535 {
				return Ref{}, fmt.Errorf("%q: port %q is not a number in 1-65535", s, portStr)
			}
			return Ref{Kind: KindIP, Addr: a, Port: p}, nil
		}
	}
	kind, rest := splitKind(s)
	if kind == KindSvc {
		return t.resolveService(s, rest)
	}
	name, portStr, hasPort := strings.Cut(rest, ":")
	r, err := t.lookup(kind, name, s)
	if err != nil {
		return Ref{}, err
	}
	if hasPort {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			return Ref{}, fmt.Errorf("%q: port %q is not a number in 1-65535", s, portStr)
		}
		r.Port = p
		return r, nil
	}
	if r.Kind == KindPod {
		if p := t.Pod(r.Name); len(p.Ports) > 0 {
			r.Port = p.Ports[0].Port
			return r, nil
		}
		return Ref{}, fmt.Errorf("%q: pod %s declares no ports; name one, e.g. %s:80", s, r.Name, s)
	}
	return Ref{}, fmt.Errorf("%q: name the port, e.g. %s:80", s, s)
}

func splitKind(s string) (kind, rest string) {
	if k, r, ok := strings.Cut(s, "/"); ok {
		return k, r
	}
	return "", s
}

func (t *Topology) lookup(kind, name, orig string) (Ref, error) {
	var found []Ref
	if kind == "" || kind == KindPod {
		if p := t.Pod(name); p != nil {
			found = append(found, Ref{Kind: KindPod, Name: name, Addr: p.Addr})
		}
	}
	if kind == "" || kind == KindNode {
		if n := t.Node(name); n != nil {
			found = append(found, Ref{Kind: KindNode, Name: name, Addr: n.Addr})
		}
	}
	if kind == "" || kind == KindClient {
		if c := t.Client(name); c != nil {
			found = append(found, Ref{Kind: KindClient, Name: name, Addr: c.Addr})
		}
	}
	switch {
	case kind != "" && kind != KindPod && kind != KindNode && kind != KindClient:
		return Ref{}, fmt.Errorf("%q: unknown kind %q (use pod/, node/ or client/)", orig, kind)
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0:
		return Ref{}, fmt.Errorf("%q: no pod, node or client is named %q", orig, name)
	}
	return found[0], nil // names are unique across kinds (validated)
}

// resolveService resolves svc/NAME[:PORT], svc/NAME:nodeport@NODE,
// svc/NAME:loadbalancer[@NODE] and svc/NAME:external (the first port).
func (t *Topology) resolveService(orig, rest string) (Ref, error) {
	name, access, _ := strings.Cut(rest, ":")
	access, via, _ := strings.Cut(access, "@")
	s := t.Service(name)
	if s == nil {
		return Ref{}, fmt.Errorf("%q: no Service is named %q", orig, name)
	}
	if len(s.Ports) == 0 {
		return Ref{}, fmt.Errorf("%q: Service %s has no ports", orig, name)
	}
	r := Ref{Kind: KindSvc, Name: name, Access: AccessCluster, Addr: s.ClusterAddr, Port: s.Ports[0].Port, Protocol: s.Ports[0].Protocol}
	switch access {
	case "":
	case AccessNodePort:
		if s.Type == TypeClusterIP {
			return Ref{}, fmt.Errorf("%q: Service %s is a ClusterIP Service; it has no NodePort", orig, name)
		}
		if via == "" {
			return Ref{}, fmt.Errorf("%q: name the node whose NodePort to use, e.g. svc/%s:nodeport@%s", orig, name, t.Nodes[0].Name)
		}
		n := t.Node(via)
		if n == nil {
			return Ref{}, fmt.Errorf("%q: no node is named %q (nodes: %s)", orig, via, t.nodeNames())
		}
		if s.Ports[0].NodePort == 0 {
			return Ref{}, fmt.Errorf("%q: Service %s's port %d has no nodePort (allocateLoadBalancerNodePorts is false)", orig, name, s.Ports[0].Port)
		}
		r.Access, r.Via, r.Addr, r.Port = AccessNodePort, via, n.Addr, s.Ports[0].NodePort
	case AccessLoadBalancer:
		if !s.LBAddr.IsValid() {
			return Ref{}, fmt.Errorf("%q: Service %s has no loadBalancerIP", orig, name)
		}
		if via != "" && t.Node(via) == nil {
			return Ref{}, fmt.Errorf("%q: no node is named %q (nodes: %s)", orig, via, t.nodeNames())
		}
		r.Access, r.Via, r.Addr = AccessLoadBalancer, via, s.LBAddr
	case AccessExternal:
		if len(s.ExternalIPs) == 0 {
			return Ref{}, fmt.Errorf("%q: Service %s has no externalIPs", orig, name)
		}
		a, err := netip.ParseAddr(s.ExternalIPs[0])
		if err != nil {
			return Ref{}, err
		}
		r.Access, r.Addr = AccessExternal, a
	default:
		found := false
		for _, p := range s.Ports {
			if p.Name == access || strconv.Itoa(p.Port) == access {
				r.Port, r.Protocol, found = p.Port, p.Protocol, true
			}
		}
		if !found {
			return Ref{}, fmt.Errorf("%q: Service %s has no port %q (use a port name or number, nodeport@NODE, loadbalancer or external)", orig, name, access)
		}
	}
	return r, nil
}

// nodeNames lists the nodes for a message.
func (t *Topology) nodeNames() string {
	names := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		names[i] = n.Name
	}
	return strings.Join(names, ", ")
}
