package topology

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ConntrackEntry is one conntrack entry a probe's flow must leave on a
// node, written the way conntrack -L and the field articles print it:
//
//	tcp src=198.51.100.10:* dst=10.0.0.180:30875 reply src=172.23.96.82:80 dst=10.0.0.180:*
//
// Each address is HOST:PORT, where HOST is an IPv4 address, the name of a
// pod, node or outside client (its address), "server" (the pod that
// answered) or * (any), and PORT a number or * (any: the client's
// ephemeral port, a masquerade's random one); a lone * is any address and
// port. Node may be "server" too: the node of the pod that answered.
type ConntrackEntry struct {
	Node  string `yaml:"node" json:"node"`
	Entry string `yaml:"entry" json:"entry"`
	Line  int    `yaml:"-" json:"-"`
	// Pattern is Entry parsed (by validation).
	Pattern FlowPattern `yaml:"-" json:"-"`
}

// ServerRef is the word that stands for the answering pod (in an entry's
// addresses) and its node (as the entry's node).
const ServerRef = "server"

// FlowPattern is a parsed conntrack entry expectation.
type FlowPattern struct {
	Proto                                string
	OrigSrc, OrigDst, ReplySrc, ReplyDst EndpointPattern
}

// EndpointPattern is HOST:PORT with either part possibly "any".
type EndpointPattern struct {
	Addr   netip.Addr // not valid (and not Server): any address
	Server bool       // the answering pod's address
	Port   int        // -1: any port
}

const entrySyntax = "PROTO src=HOST:PORT dst=HOST:PORT reply src=HOST:PORT dst=HOST:PORT; HOST is an IP, a pod, node or client name, server or *; PORT a number or *; a lone * is anything"

// ParseFlowPattern parses a conntrack entry expectation (see
// ConntrackEntry); names are resolved in t.
func ParseFlowPattern(t *Topology, s string) (FlowPattern, error) {
	f := strings.Fields(s)
	if len(f) != 6 || f[3] != "reply" {
		return FlowPattern{}, fmt.Errorf("entry %q is not PROTO src=HOST:PORT dst=HOST:PORT reply src=HOST:PORT dst=HOST:PORT", s)
	}
	p := FlowPattern{Proto: strings.ToLower(f[0])}
	if p.Proto != "tcp" && p.Proto != "udp" {
		return FlowPattern{}, fmt.Errorf("entry %q: protocol %q is not tcp or udp", s, f[0])
	}
	for i, spec := range []struct {
		word, key string
		to        *EndpointPattern
	}{{f[1], "src", &p.OrigSrc}, {f[2], "dst", &p.OrigDst}, {f[4], "src", &p.ReplySrc}, {f[5], "dst", &p.ReplyDst}} {
		v, ok := strings.CutPrefix(spec.word, spec.key+"=")
		if !ok {
			return FlowPattern{}, fmt.Errorf("entry %q: word %d is %q, want %s=HOST:PORT", s, []int{2, 3, 5, 6}[i], spec.word, spec.key)
		}
		ep, err := parseEndpoint(t, v)
		if err != nil {
			return FlowPattern{}, fmt.Errorf("entry %q: %s=%s: %v", s, spec.key, v, err)
		}
		*spec.to = ep
	}
	return p, nil
}

func parseEndpoint(t *Topology, s string) (EndpointPattern, error) {
	if s == "*" {
		return EndpointPattern{Port: -1}, nil
	}
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return EndpointPattern{}, fmt.Errorf("want HOST:PORT (HOST:* for any port)")
	}
	ep := EndpointPattern{Port: -1}
	switch host {
	case "*":
	case ServerRef:
		ep.Server = true
	default:
		a, err := netip.ParseAddr(host)
		if err != nil {
			if a, err = t.ResolveAddr(host); err != nil {
				return EndpointPattern{}, fmt.Errorf("%q is neither an IPv4 address nor a pod, node or client of this scenario", host)
			}
		}
		if !a.Is4() {
			return EndpointPattern{}, fmt.Errorf("%q is not an IPv4 address", host)
		}
		ep.Addr = a
	}
	if port != "*" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return EndpointPattern{}, fmt.Errorf("port %q is not 1-65535 or *", port)
		}
		ep.Port = n
	}
	return ep, nil
}

// Match reports whether an endpoint (IP:PORT) fits the pattern; server is
// the answering pod's address.
func (e EndpointPattern) Match(s string, server netip.Addr) bool {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return false
	}
	switch {
	case e.Server && ap.Addr() != server:
		return false
	case e.Addr.IsValid() && ap.Addr() != e.Addr:
		return false
	}
	return e.Port < 0 || int(ap.Port()) == e.Port
}

// UsesServer reports whether the pattern refers to the answering pod.
func (p FlowPattern) UsesServer() bool {
	return p.OrigSrc.Server || p.OrigDst.Server || p.ReplySrc.Server || p.ReplyDst.Server
}

// Match reports whether a conntrack entry fits the pattern; server is the
// answering pod's address (invalid when none answered).
func (p FlowPattern) Match(proto, origSrc, origDst, replySrc, replyDst string, server netip.Addr) bool {
	return proto == p.Proto && p.OrigSrc.Match(origSrc, server) && p.OrigDst.Match(origDst, server) &&
		p.ReplySrc.Match(replySrc, server) && p.ReplyDst.Match(replyDst, server)
}

// validateExpectExtras checks the expectations about what a probe leaves
// behind on the way: conntrack entries and the SLB's choice of backend.
func validateExpectExtras(c *collector, t *Topology, e *Expect, line int, field string) {
	for i := range e.Conntrack {
		ct := &e.Conntrack[i]
		f := fmt.Sprintf("%s.conntrack[%d]", field, i)
		l := ct.Line
		if l == 0 {
			l = line
		}
		switch {
		case ct.Node == "":
			c.add(l, f+".node", "name the node whose conntrack table holds the entry: "+nodeList(t), "no node given")
		case t.Node(ct.Node) == nil && ct.Node != ServerRef:
			c.add(l, f+".node", "use one of: "+nodeList(t)+", or server (the node of the pod that answered)", "node %q does not exist", ct.Node)
		}
		p, err := ParseFlowPattern(t, ct.Entry)
		if err != nil {
			c.add(l, f+".entry", "write "+entrySyntax, "%v", err)
			continue
		}
		ct.Pattern = p
		if e.Result != ResultConnected && (ct.Node == ServerRef || p.UsesServer()) {
			c.add(l, f, "name the node and addresses, or expect connected", "a %s probe has no server for %q to refer to", e.Result, ServerRef)
		}
	}
	for i, b := range e.SLBBackends {
		if t.Node(b) == nil && t.Client(b) == nil {
			c.add(line, fmt.Sprintf("%s.slbBackends[%d]", field, i), "name nodes (or outside hosts behind a listener) of this scenario: "+nodeList(t), "node %q does not exist", b)
		}
	}
}

func nodeList(t *Topology) string {
	names := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		names[i] = n.Name
	}
	return strings.Join(names, ", ")
}
