package probes

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

// Hop is one device a probe's packet crossed, in order from its source.
type Hop struct {
	Namespace string `json:"namespace"`
	// Owner is the pod, node or client the namespace belongs to, or "vpc" /
	// "slb".
	Owner  string `json:"owner"`
	Device string `json:"device"`
	// Dir is in, out, in+out (the namespace routed it back out of the same
	// device), bridged (a bridge that switched it between two of its
	// ports: its own counters and taps do not see such a frame), or relay
	// (Device "proxy": a proxy in that namespace, kube-proxy's userspace
	// mode, took the connection and opened its own, whose hops follow).
	Dir string `json:"dir"`
	// Src and Dst are the packet's addresses on this device, after any NAT
	// before it.
	Src string `json:"src,omitempty"`
	Dst string `json:"dst,omitempty"`
	// Left is "src > dst" as the packet left again through the same
	// device (Dir in+out), where NAT changed them in between.
	Left string `json:"left,omitempty"`
	// Encap is the outer VXLAN header's addresses where the packet was
	// encapsulated on this device.
	Encap string `json:"encap,omitempty"`
	// VLAN is the 802.1Q VLAN id the frame carried on this device (a
	// Terway trunk ENI's member ENI), 0 when untagged.
	VLAN int `json:"vlan,omitempty"`
}

// Name is the hop as scenario expectations write it: OWNER:DEVICE, with a
// pod's host-side veth, whose name is generated, written by its prefix:
// "veth" for the bridge plugin's veth + 8 hex digits, "cali" for
// Terway's cali + 11 (Calico's scheme).
func (h Hop) Name() string {
	dev := h.Device
	for _, g := range []struct {
		prefix string
		n      int
	}{{"veth", 8}, {"cali", 11}} {
		if len(dev) == len(g.prefix)+g.n && strings.HasPrefix(dev, g.prefix) && isHex(dev[len(g.prefix):]) {
			dev = g.prefix
		}
	}
	return h.Owner + ":" + dev
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ShortPath is the hop list as the field articles draw it: each hop's
// Name, with the VPC's and the SLB's devices each folded into one "vpc" /
// "slb" step.
func ShortPath(hops []Hop) []string {
	var out []string
	for _, h := range hops {
		name := h.Name()
		if h.Owner == "vpc" || h.Owner == "slb" {
			name = h.Owner
		}
		if len(out) > 0 && out[len(out)-1] == name && (name == "vpc" || name == "slb") {
			continue
		}
		out = append(out, name)
	}
	return out
}

// wiring is what tracing needs of the lab's plan (its stored wiring): which device is the far
// end of each veth, each bridge port's bridge, who owns a namespace, and which devices of other
// namespaces share an ipvlan parent with a device (the parent, its slaves: a frame crosses
// between them without a veth).
type wiring struct {
	peer   map[devKey]devKey
	master map[devKey]string
	owner  map[string]string
	ipvlan map[devKey][]devKey
	// ipvlanParent holds the parents: a frame one receives goes on to a
	// slave, while a slave that receives one keeps it.
	ipvlanParent map[devKey]bool
}

type devKey struct{ ns, dev string }

func newWiring(p *plan.Wiring) *wiring {
	w := &wiring{peer: map[devKey]devKey{}, master: map[devKey]string{}, owner: map[string]string{}, ipvlan: map[devKey][]devKey{}, ipvlanParent: map[devKey]bool{}}
	groups := map[devKey][]devKey{} // ipvlan parent -> its slaves
	for _, ns := range p.Namespaces {
		w.owner[ns.Name] = ns.Owner
		for _, l := range ns.Links {
			here := devKey{ns.Name, l.Name}
			if v := l.IPVlan; v != nil {
				parent := devKey{ns.Name, v.Parent}
				if v.ParentNamespace != "" {
					parent.ns = v.ParentNamespace
				}
				groups[parent] = append(groups[parent], here)
			}
			if l.Master != "" {
				w.master[here] = l.Master
			}
			if l.Peer != nil {
				there := devKey{l.Peer.Namespace, l.Peer.Name}
				w.peer[here], w.peer[there] = there, here
				if l.Peer.Master != "" {
					w.master[there] = l.Peer.Master
				}
			}
		}
	}
	for parent, slaves := range groups {
		w.ipvlanParent[parent] = true
		all := append([]devKey{parent}, slaves...)
		for _, d := range all {
			for _, o := range all {
				if o.ns != d.ns {
					w.ipvlan[d] = append(w.ipvlan[d], o)
				}
			}
		}
	}
	return w
}

// follow reconstructs one packet's way through the lab from the namespace
// it started in: the captures matching it, taken in each namespace's
// capture order, crossing to the far namespace whenever the packet left on
// a veth whose far end saw it arrive next.
func (w *wiring) follow(caps map[string][]captured, match func(*packet) bool, start string) []captured {
	mine := map[string][]captured{}
	total := 0
	for ns, cs := range caps {
		for _, c := range cs {
			if match(&c.pkt) {
				mine[ns] = append(mine[ns], c)
				total++
			}
		}
	}
	pos := map[string]int{}
	var out []captured
	ns := start
	for len(out) < total {
		list := mine[ns]
		if pos[ns] >= len(list) {
			break
		}
		c := list[pos[ns]]
		pos[ns]++
		out = append(out, c)
		if far, ok := w.peer[devKey{ns, c.dev}]; ok && c.out {
			if next := mine[far.ns]; pos[far.ns] < len(next) && !next[pos[far.ns]].out && next[pos[far.ns]].dev == far.dev {
				ns = far.ns
			}
			continue
		}
		// An ipvlan parent or slave hands the frame to a device of its
		// group in another namespace: the slave it is for (received on
		// the parent, or sent by a sibling) or the parent (sent by a
		// slave), whose capture comes next there.
		here := devKey{ns, c.dev}
		if !c.out && !w.ipvlanParent[here] {
			continue
		}
		for _, o := range w.ipvlan[here] {
			if next := mine[o.ns]; pos[o.ns] < len(next) && next[pos[o.ns]].dev == o.dev {
				ns = o.ns
				break
			}
		}
	}
	return out
}

// origin is the namespace a packet was sent from: the one whose first
// capture of it is outgoing (everywhere else it first arrives). prefer
// breaks a tie.
func origin(caps map[string][]captured, match func(*packet) bool, prefer string) string {
	var found []string
	for ns, cs := range caps {
		for _, c := range cs {
			if match(&c.pkt) {
				if c.out {
					found = append(found, ns)
				}
				break
			}
		}
	}
	sort.Strings(found)
	for _, ns := range found {
		if ns == prefer {
			return ns
		}
	}
	if len(found) > 0 {
		return found[0]
	}
	return ""
}

// hops turns a packet's captures into hops: one per device (an arrival and
// departure on the same device merge into in+out), with the bridge a frame
// was switched through put between its two ports.
func (w *wiring) hops(cs []captured) []Hop {
	out := []Hop{}
	for i, c := range cs {
		dir := "in"
		if c.out {
			dir = "out"
		}
		if n := len(out); n > 0 && out[n-1].Namespace == c.ns && out[n-1].Device == c.dev {
			h := &out[n-1]
			if h.Dir != dir {
				h.Dir = "in+out"
			}
			if h.VLAN == 0 {
				h.VLAN = int(c.vlan)
			}
			if t := c.pkt.Src.String() + " > " + c.pkt.Dst.String(); c.pkt.Src.IsValid() && t != h.Src+" > "+h.Dst {
				h.Left = t
			}
			continue
		}
		if i > 0 {
			prev := cs[i-1]
			if prev.ns == c.ns && !prev.out && c.out {
				br := w.master[devKey{c.ns, prev.dev}]
				if br != "" && br == w.master[devKey{c.ns, c.dev}] {
					out = append(out, Hop{Namespace: c.ns, Owner: w.owner[c.ns], Device: br, Dir: "bridged"})
				}
			}
		}
		h := Hop{Namespace: c.ns, Owner: w.owner[c.ns], Device: c.dev, Dir: dir, VLAN: int(c.vlan)}
		if c.pkt.Src.IsValid() {
			h.Src, h.Dst = c.pkt.Src.String(), c.pkt.Dst.String()
		}
		if o := c.pkt.Outer; o != nil {
			h.Encap = fmt.Sprintf("%s > %s", o[0], o[1])
		}
		out = append(out, h)
	}
	return out
}

// sameReversed reports whether a reply took the request's devices back.
func sameReversed(req, rep []Hop) bool {
	if len(req) != len(rep) {
		return false
	}
	for i := range req {
		a, b := req[i], rep[len(rep)-1-i]
		if a.Namespace != b.Namespace || a.Device != b.Device {
			return false
		}
	}
	return true
}

// isRequest matches the probe's first packet (a TCP SYN, or the UDP
// datagram) wherever it went: NAT and IPVS rewrite addresses and ports,
// never the IP ID, the length or the TCP sequence number.
func isRequest(req packet) func(*packet) bool {
	return func(p *packet) bool {
		if p.Proto != req.Proto || p.ID != req.ID {
			return false
		}
		if p.Proto == "tcp" {
			return isSYN(p) && p.Seq == req.Seq
		}
		return p.Len == req.Len
	}
}

// answersRequest matches anything that answers the request: an ICMP error
// quoting it; for TCP a SYN-ACK or reset acknowledging the SYN; for UDP a
// datagram back to the client (local, as the client's namespace sees it)
// or from where the request ended (server, as it arrived there).
func answersRequest(req packet, local netip.AddrPort, server [2]netip.AddrPort) func(*packet) bool {
	return func(p *packet) bool {
		switch p.Proto {
		case "icmp":
			// For TCP any transmission of the SYN (a retransmission has a
			// new IP ID, the same sequence number): the first may have
			// gone unanswered, ICMP errors being rate-limited.
			q := p.Quoted
			if q == nil || q.Proto != req.Proto {
				return false
			}
			if q.Proto == "tcp" {
				return q.Seq == req.Seq
			}
			return q.ID == req.ID
		case "tcp":
			return req.Proto == "tcp" && p.Ack == req.Seq+1 && (p.Flags&tcpRST != 0 || isSYNACK(p))
		case "udp":
			return req.Proto == "udp" && (p.Dst == local || p.Src == server[1] && p.Dst == server[0])
		}
		return false
	}
}

// answersTuple matches what answers a connection from local when its
// first packet was not seen: a SYN-ACK, reset or datagram sent to it, or
// an ICMP error quoting a packet from it.
func answersTuple(proto string, local netip.AddrPort) func(*packet) bool {
	return func(p *packet) bool {
		switch p.Proto {
		case "tcp":
			return proto == "tcp" && p.Dst == local && (p.Flags&tcpRST != 0 || isSYNACK(p))
		case "udp":
			return proto == "udp" && p.Dst == local
		case "icmp":
			return p.Quoted != nil && p.Quoted.Proto == proto && p.Quoted.Src == local
		}
		return false
	}
}

// isSYN is a connection's first segment; isSYNACK its acceptance.
func isSYN(p *packet) bool    { return p.Flags&(tcpSYN|tcpACK) == tcpSYN }
func isSYNACK(p *packet) bool { return p.Flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK }

// samePacket matches captures of exactly the packet p (its copies on every
// device, whatever NAT did to its addresses).
func samePacket(p packet) func(*packet) bool {
	return func(q *packet) bool {
		return q.Proto == p.Proto && q.ID == p.ID && q.Len == p.Len && q.Seq == p.Seq && q.Ack == p.Ack && q.Flags == p.Flags && q.ICMP == p.ICMP
	}
}

// firstOpening finds, in one namespace's captures, the first packet that
// opens a connection (a TCP SYN, or a UDP datagram) from src, in the given
// direction, to dst (any destination if dst is not valid).
func firstOpening(caps []captured, out bool, proto string, src, dst netip.AddrPort) (packet, bool) {
	for _, c := range caps {
		p := c.pkt
		if c.out == out && p.Proto == proto && p.Src == src && (!dst.IsValid() || p.Dst == dst) && (proto != "tcp" || isSYN(&p)) {
			return p, true
		}
	}
	return packet{}, false
}
