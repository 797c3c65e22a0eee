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
)

// Ref is a resolved probe end: a pod, node or outside client (with its
// address), or a bare IP. Port is 0 for a source.
type Ref struct {
	Kind string     `json:"kind"`
	Name string     `json:"name,omitempty"`
	Addr netip.Addr `json:"addr"`
	Port int        `json:"port,omitempty"`
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
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return Ref{Kind: KindIP, Addr: ap.Addr(), Port: int(ap.Port())}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return Ref{}, fmt.Errorf("%q: an IP target needs a port, e.g. %s:80", s, a)
	}
	kind, rest := splitKind(s)
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
			r.Port = p.Ports[0]
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
