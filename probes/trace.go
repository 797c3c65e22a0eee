package probes

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// Verdict says how a probe ended and what decided it.
type Verdict struct {
	// Summary is one sentence: delivered to whom, refused by what,
	// dropped where.
	Summary string `json:"summary"`
	// At is the hop where it was decided: the server's device, the device
	// the refusal was sent from, or the last device the request reached.
	At *Hop `json:"at,omitempty"`
	// DecidedBy is the rule (or IPVS / kernel decision) that refused or
	// dropped the flow.
	DecidedBy *Decision `json:"decidedBy,omitempty"`
	// MarkedBy is, for a rule that drops marked packets (kube-proxy's
	// KUBE-FIREWALL before 1.25 or so), the rule that sent the flow to be
	// marked: the real reason.
	MarkedBy *Decision `json:"markedBy,omitempty"`
}

// Matches reports whether s appears in the deciding rule or in the rule
// that marked the flow for it.
func (v *Verdict) Matches(s string) bool {
	if v == nil {
		return false
	}
	for _, d := range []*Decision{v.DecidedBy, v.MarkedBy} {
		if d != nil && strings.Contains(d.String(), s) {
			return true
		}
	}
	return false
}

// Tracer watches a lab while probes run: a packet capture on every
// namespace for the hops, and (with rules) the observers for the
// decisions. Open one per batch of probes; a probe through a tracer must
// be the only traffic in the lab while it runs.
type Tracer struct {
	lab     *lab.Lab
	applied *plan.Wiring // the wiring of the plan the lab was brought up with
	wires   *wiring
	cap     *capture
	decide  bool
}

// NewTracer opens a tracer on a lab, on the namespaces of the plan up
// stored for it (nothing is compiled). rules adds the rule counters, IPVS
// connections and the verdict's deciding rule (netlab trace), at a cost of
// a few iptables-save runs per probe.
func NewTracer(l *lab.Lab, rules bool) (*Tracer, error) {
	w, err := l.Wiring()
	if err != nil {
		return nil, err
	}
	c, err := openCapture(w.Names())
	if err != nil {
		return nil, err
	}
	return &Tracer{lab: l, applied: w, wires: newWiring(w), cap: c, decide: rules}, nil
}

// Close releases the capture.
func (t *Tracer) Close() {
	if t != nil && t.cap != nil {
		t.cap.close()
	}
}

// start starts the observers (if rules, or the tracer always watches
// them) for a probe of proto and empties the capture queues.
func (t *Tracer) start(rules bool, proto string) []observer {
	var obs []observer
	if t.decide || rules {
		for _, f := range observers {
			if o := f(t.applied, proto); o != nil {
				if err := o.before(); err == nil {
					obs = append(obs, o)
				}
			}
		}
	}
	t.cap.drain()
	return obs
}

// stop ends the observers a probe started (after reported, or the probe
// was not explained).
func stop(obs []observer) {
	for _, o := range obs {
		o.close()
	}
}

// explain fills a probe result's hops, decisions and verdict from what the
// capture and the observers saw.
//
// seen is the answering server's view of the connection (client, server),
// when one answered: it lets the trace follow a proxy's own connection.
func (t *Tracer) explain(r *Result, srcNS, proto string, local netip.AddrPort, seen [2]netip.AddrPort, obs []observer) {
	caps := t.cap.collect()
	// A node's own connection to an address IPVS serves can be refused in
	// OUTPUT, before its SYN reaches any device: then only the answer is
	// seen, and it is recognised by the client's address.
	answers := answersTuple(proto, local)
	target, _ := netip.ParseAddrPort(r.Target)
	// The request as the observers recognise it: the packet the capture
	// followed, else (never seen on a device) the first one opening the
	// connection from the client's socket.
	request := opening(proto, local, target)
	var req []captured
	first, ok := firstOpening(caps[srcNS], true, proto, local, netip.AddrPort{})
	if !ok {
		first, ok = rewrittenAtSource(caps, t.serverNS(r), srcNS, proto, seen)
	}
	if ok {
		request = isRequest(first)
		req = t.wires.follow(caps, isRequest(first), srcNS)
		var server [2]netip.AddrPort
		if len(req) > 0 {
			server = [2]netip.AddrPort{req[len(req)-1].pkt.Src, req[len(req)-1].pkt.Dst}
		}
		answers = answersRequest(first, local, server)
	}
	r.Hops = t.wires.hops(req)
	reqEnd := srcNS
	if len(req) > 0 {
		reqEnd = req[len(req)-1].ns
	}
	relayHops, relayFirst := t.relayed(caps, r, proto, reqEnd, seen)
	legs := []leg{{packet: PacketRequest, nss: legNamespaces(srcNS, r.Hops), match: request}}
	if len(relayHops) > 0 {
		legs = append(legs, leg{packet: PacketRequest, nss: legNamespaces("", relayHops[1:]), match: isRequest(relayFirst)})
	}
	r.Hops = append(r.Hops, relayHops...)
	r.Path = ShortPath(r.Hops)
	// The answer to follow: the first one the client saw, else the first
	// one sent where the request ended.
	var reply []captured
	if first, ok := firstMatch(caps, answers, srcNS, reqEnd); ok {
		same := samePacket(first)
		if from := origin(caps, same, reqEnd); from != "" {
			reply = t.wires.follow(caps, same, from)
			legs = append(legs, leg{packet: PacketReply, nss: legNamespaces("", t.wires.hops(reply)), match: same})
		}
	}
	replyHops := t.wires.hops(reply)
	if !sameReversed(r.Hops, replyHops) {
		r.ReplyHops = replyHops
	}
	f := &flowView{srcNS: srcNS, hops: r.Hops, replyHops: replyHops, onPath: map[string]bool{srcNS: true}, legs: legs,
		tuples: map[string][][2]netip.AddrPort{srcNS: {{local, target}}}}
	for _, h := range append(append([]Hop(nil), r.Hops...), replyHops...) {
		f.onPath[h.Namespace] = true
		for _, pair := range []string{h.Src + " > " + h.Dst, h.Left} {
			s, d, _ := strings.Cut(pair, " > ")
			if s, err := netip.ParseAddrPort(s); err == nil {
				if d, err := netip.ParseAddrPort(d); err == nil {
					f.tuples[h.Namespace] = append(f.tuples[h.Namespace], [2]netip.AddrPort{s, d})
				}
			}
		}
	}
	for _, o := range obs {
		ds, notes := o.after(f)
		r.Decisions = append(r.Decisions, ds...)
		r.Observed = append(r.Observed, notes...)
	}
	r.Rewrites = rewrites(r.Hops, r.Decisions)
	r.Verdict = t.verdict(r, reply, replyHops, srcNS)
}

// legNamespaces is the namespaces a packet's hops visit, in order, one
// entry per visit (the consecutive hops in one namespace are one visit),
// starting at start if given.
func legNamespaces(start string, hops []Hop) []string {
	var out []string
	if start != "" {
		out = append(out, start)
	}
	for _, h := range hops {
		if h.Dir == "relay" {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != h.Namespace {
			out = append(out, h.Namespace)
		}
	}
	return out
}

// opening matches the first packet of a connection from local to target
// as the client's namespace made it (before any NAT): a SYN, or a
// datagram.
func opening(proto string, local, target netip.AddrPort) func(*packet) bool {
	return func(p *packet) bool {
		return p.Proto == proto && p.Src == local && p.Dst == target && (proto != "tcp" || isSYN(p))
	}
}

// Rewrite is a change of the request's addresses inside one namespace:
// the tuple it arrived with, the one it left with, and the observed
// decisions there that rewrite addresses (NAT rules, IPVS).
type Rewrite struct {
	Owner     string     `json:"owner"`
	Namespace string     `json:"namespace"`
	Before    string     `json:"before"`
	After     string     `json:"after"`
	NAT       string     `json:"nat"` // dnat, snat or dnat+snat
	By        []Decision `json:"by,omitempty"`
}

// rewrites compares the request's addresses where it entered and where it
// left each namespace it passed through.
func rewrites(hops []Hop, ds []Decision) []Rewrite {
	var out []Rewrite
	for i := 0; i < len(hops); {
		// A proxy's relay starts a new connection: no rewrite spans it.
		if hops[i].Dir == "relay" {
			i++
			continue
		}
		j := i
		var first, last *Hop
		for ; j < len(hops) && hops[j].Namespace == hops[i].Namespace && hops[j].Dir != "relay"; j++ {
			if hops[j].Src == "" {
				continue
			}
			if first == nil {
				first = &hops[j]
			}
			last = &hops[j]
		}
		if first == nil {
			i = j
			continue
		}
		before, after := first.Src+" > "+first.Dst, last.Src+" > "+last.Dst
		if last.Left != "" {
			after = last.Left
		}
		if before != after {
			rw := Rewrite{Owner: first.Owner, Namespace: first.Namespace, Before: before, After: after}
			bs, bd, _ := strings.Cut(before, " > ")
			as, ad, _ := strings.Cut(after, " > ")
			switch {
			case bs != as && bd != ad:
				rw.NAT = "dnat+snat"
			case bd != ad:
				rw.NAT = "dnat"
			default:
				rw.NAT = "snat"
			}
			// Only rules that make this kind of rewrite: other NAT rules
			// may have moved for other flows of the same probe (a userspace
			// proxy's own connection, say).
			for _, d := range ds {
				kind := natTargets[d.target()]
				if d.Namespace == rw.Namespace && (d.Kind == DecisionIPVS || kind != "" && strings.Contains(rw.NAT, kind)) {
					rw.By = append(rw.By, d)
				}
			}
			out = append(out, rw)
		}
		i = j
	}
	return out
}

// natTargets says which rewrite each NAT target makes.
var natTargets = map[string]string{"DNAT": "dnat", "REDIRECT": "dnat", "SNAT": "snat", "MASQUERADE": "snat"}

// relayed follows a proxy's own connection: when the request ended in a
// namespace that is not the server's (kube-proxy's userspace mode accepted
// it there) and a connection with the addresses the server saw started
// from that namespace, its hops continue the path after a "relay" hop.
//
// It returns the relay's hops (the relay hop first) and the first packet
// of the proxy's connection.
func (t *Tracer) relayed(caps map[string][]captured, r *Result, proto, reqEnd string, seen [2]netip.AddrPort) ([]Hop, packet) {
	serverNS := t.serverNS(r)
	if serverNS == "" || !seen[0].IsValid() || !seen[1].IsValid() || serverNS == reqEnd {
		return nil, packet{}
	}
	first, found := firstOpening(caps[serverNS], false, proto, seen[0], seen[1])
	if !found || origin(caps, isRequest(first), reqEnd) != reqEnd {
		return nil, packet{}
	}
	relay := Hop{Namespace: reqEnd, Owner: t.wires.owner[reqEnd], Device: "proxy", Dir: "relay"}
	return append([]Hop{relay}, t.wires.hops(t.wires.follow(caps, isRequest(first), reqEnd))...), first
}

// serverNS is the namespace of the pod (or outside host) that answered,
// or "".
func (t *Tracer) serverNS(r *Result) string {
	if r.Server == nil {
		return ""
	}
	ns, err := lab.Namespace(t.lab.Topology, t.lab.State.Lab, r.Server.Pod)
	if err != nil {
		return ""
	}
	return ns
}

// rewrittenAtSource finds a request that NAT rewrote before any device of
// the client's namespace saw it: a node's own connection to an address
// IPVS or an OUTPUT DNAT serves, masqueraded on the way out, first shows
// up on the node's eth0 with neither its own source nor its target. It is
// the opening that reached the server with the addresses the server saw,
// when the client's namespace sent it. The same packet, not a proxy's own
// connection: its hops start at the client's node, with no relay step.
func rewrittenAtSource(caps map[string][]captured, serverNS, srcNS, proto string, seen [2]netip.AddrPort) (packet, bool) {
	if serverNS == "" || !seen[0].IsValid() || !seen[1].IsValid() {
		return packet{}, false
	}
	p, ok := firstOpening(caps[serverNS], false, proto, seen[0], seen[1])
	if !ok || origin(caps, isRequest(p), srcNS) != srcNS {
		return packet{}, false
	}
	return p, true
}

// firstMatch returns the first capture matching m in the first of nss that
// has one.
func firstMatch(caps map[string][]captured, m func(*packet) bool, nss ...string) (packet, bool) {
	for _, ns := range nss {
		for _, c := range caps[ns] {
			if m(&c.pkt) {
				return c.pkt, true
			}
		}
	}
	return packet{}, false
}

// verdict says how a probe ended and what decided it, by the kind of
// ending: delivered, refused, or lost (timeout, unreachable).
func (t *Tracer) verdict(r *Result, reply []captured, replyHops []Hop, srcNS string) *Verdict {
	switch r.Result {
	case topology.ResultConnected:
		return delivered(r)
	case topology.ResultRefused:
		return refused(r, reply, replyHops, srcNS)
	case topology.ResultTimeout, topology.ResultUnreachable:
		return lost(r, reply, replyHops, srcNS)
	}
	return &Verdict{}
}

// lastHop is a copy of the last hop, or nil.
func lastHop(hs []Hop) *Hop {
	if len(hs) == 0 {
		return nil
	}
	h := hs[len(hs)-1]
	return &h
}

// delivered names the server that answered and the client address it saw.
func delivered(r *Result) *Verdict {
	v := &Verdict{At: lastHop(r.Hops)}
	if r.Server == nil {
		v.Summary = "connected"
		return v
	}
	v.Summary = fmt.Sprintf("delivered to %s", r.Server.Pod)
	if r.Server.Node != "" {
		v.Summary += " on " + r.Server.Node
	}
	v.Summary += fmt.Sprintf("; it saw the client as %s", r.ClientAddrSeen)
	return v
}

// refused names the refusal (a TCP reset, a datagram, an ICMP error),
// where it was sent from, and what sent it when that is known.
func refused(r *Result, reply []captured, replyHops []Hop, srcNS string) *Verdict {
	if len(replyHops) == 0 {
		return &Verdict{Summary: "refused, but the refusal was not seen on any lab device"}
	}
	v := &Verdict{At: &replyHops[0]}
	ans := reply[0].pkt
	v.Summary = fmt.Sprintf("refused by %s from %s", refusalKind(ans), v.At.Owner)
	if v.DecidedBy = refusedBy(r, ans, v.At, srcNS); v.DecidedBy != nil {
		v.Summary += " (" + v.DecidedBy.String() + ")"
	}
	return v
}

// refusalKind names the answer that refused a probe.
func refusalKind(ans packet) string {
	switch ans.Proto {
	case "udp":
		return "a datagram"
	case "icmp":
		return fmt.Sprintf("ICMP type %d code %d", ans.ICMP[0], ans.ICMP[1])
	}
	return "a TCP reset"
}

// refusedBy finds what refused a probe in the namespace at sent the
// answer from: a REJECT rule, else IPVS with no real server for the
// address, else the stack itself, with nothing bound to the port (a TCP
// reset, or for UDP a port unreachable). nil when none of them fits.
func refusedBy(r *Result, ans packet, at *Hop, srcNS string) *Decision {
	if d := deciding(r.Decisions, at.Namespace, "REJECT"); d != nil {
		return d
	}
	// Where the request arrived in the refusing namespace, or, refused
	// before it left its own, as it was dialled.
	arrived := arrivalIn(r.Hops, at.Namespace)
	if arrived == nil && at.Namespace == srcNS {
		arrived = &Hop{Src: r.ClientAddr, Dst: r.Target}
	}
	if arrived == nil {
		return nil
	}
	if ans.Proto == "icmp" {
		dst, _ := netip.ParseAddrPort(arrived.Dst)
		if n := ipvsRealServers(at.Namespace, r.Protocol, dst); n == 0 {
			return &Decision{Owner: at.Owner, Namespace: at.Namespace, Kind: DecisionIPVS,
				Rule: fmt.Sprintf("virtual server %s %s has no real servers", strings.ToUpper(r.Protocol), dst)}
		}
	}
	if ans.Proto == "tcp" || ans.ICMP == [2]uint8{3, 3} {
		return &Decision{Owner: at.Owner, Namespace: at.Namespace, Kind: DecisionKernel, Rule: fmt.Sprintf("nothing listens on %s/%s", arrived.Dst, r.Protocol)}
	}
	return nil
}

// lost explains a probe that got no answer the client took: dropped
// before it left the client's namespace, answered but the answer lost on
// the way, or the request last seen somewhere.
func lost(r *Result, reply []captured, replyHops []Hop, srcNS string) *Verdict {
	end := lastHop(r.Hops)
	if end == nil {
		v := &Verdict{Summary: r.Result + ": the first packet was not seen on any device (dropped in the client's own namespace)"}
		v.droppedIn(r.Decisions, srcNS)
		return v
	}
	if len(replyHops) > 0 {
		return answerLost(r, reply[0].pkt, replyHops, srcNS)
	}
	return lastSeen(r, end)
}

// answerLost explains an answer the client did not take: an ICMP error
// from the way, an answer whose NAT nothing undid, or one that stopped
// on the way back.
func answerLost(r *Result, ans packet, replyHops []Hop, srcNS string) *Verdict {
	back := replyHops[len(replyHops)-1]
	if ans.Proto == "icmp" {
		return icmpOnTheWay(r, ans, &replyHops[0])
	}
	if back.Namespace == srcNS && back.Src != r.Target {
		return &Verdict{
			Summary: fmt.Sprintf("%s: the answer came back from %s, but the client dialled %s; nothing on the way back undid the NAT, so the client reset it", r.Result, back.Src, r.Target),
			At:      &back,
			DecidedBy: &Decision{Owner: back.Owner, Namespace: back.Namespace, Kind: DecisionKernel,
				Rule: fmt.Sprintf("the answer from %s does not match the connection to %s: reset", back.Src, r.Target)},
		}
	}
	return &Verdict{Summary: fmt.Sprintf("%s: the answer from %s ended at %s %s", r.Result, replyHops[0].Owner, back.Owner, back.Device), At: &back}
}

// icmpOnTheWay explains an ICMP error from the way: a router with no
// route, say. TCP reports it (unreachable); a UDP socket without
// IP_RECVERR ignores all but port unreachable.
func icmpOnTheWay(r *Result, ans packet, at *Hop) *Verdict {
	what := icmpName(ans.ICMP)
	v := &Verdict{At: at, DecidedBy: &Decision{Owner: at.Owner, Namespace: at.Namespace, Kind: DecisionKernel,
		Rule: fmt.Sprintf("ICMP %s for %s from %s", what, r.Target, ans.Src.Addr())}}
	v.Summary = fmt.Sprintf("%s: %s answered with ICMP %s", r.Result, at.Owner, what)
	if r.Result == topology.ResultTimeout {
		v.Summary += ", which the client's socket does not report"
	}
	return v
}

// lastSeen names where the request was last seen and what dropped it
// there: a DROP rule (and the rule that marked the flow for it), or the
// kernel dropping a martian (the SLB loopback among them).
func lastSeen(r *Result, end *Hop) *Verdict {
	v := &Verdict{At: end, Summary: fmt.Sprintf("%s: the request was last seen on %s %s (%s > %s)", r.Result, end.Owner, end.Device, end.Src, end.Dst)}
	if v.droppedIn(r.Decisions, end.Namespace) {
		if strings.Contains(v.DecidedBy.Rule, "-m mark --mark") {
			if m := marker(r.Decisions, end.Namespace); m != nil {
				v.MarkedBy = m
				v.Summary += "; marked for it by " + m.String()
			}
		}
		return v
	}
	if d := martian(r.Hops, end); d != nil {
		v.DecidedBy = d
		v.Summary += "; " + d.Rule
		return v
	}
	v.Summary += "; no rule counted it"
	return v
}

// droppedIn makes the DROP rule (or DROP policy) that counted the flow in
// ns the verdict's deciding rule, if one did.
func (v *Verdict) droppedIn(ds []Decision, ns string) bool {
	d := deciding(ds, ns, "DROP")
	if d == nil {
		return false
	}
	v.DecidedBy = d
	v.Summary += "; dropped by " + d.String()
	return true
}

// martian is the kernel dropping a request at end whose source is one of
// end's own addresses, or nil. When end is the backend an SLB picked for
// its own connection, that is the SLB loopback.
func martian(hops []Hop, end *Hop) *Decision {
	src, err := netip.ParseAddrPort(end.Src)
	if err != nil || !isLocalAddr(end.Namespace, src.Addr()) {
		return nil
	}
	rule := fmt.Sprintf("source %s is one of %s's own addresses: dropped as a martian", src.Addr(), end.Owner)
	if slbBackend(hops) == end.Owner {
		rule += loopbackNote(end.Owner)
	}
	return &Decision{Owner: end.Owner, Namespace: end.Namespace, Kind: DecisionKernel, Rule: rule}
}

// deciding finds the rule that ended a flow in a namespace: the last
// traced (or moved) rule with that target (REJECT, DROP); for DROP also a
// dropping chain policy.
func deciding(ds []Decision, ns, target string) *Decision {
	var found *Decision
	for i := range ds {
		d := &ds[i]
		if d.Namespace != ns || d.Kind != DecisionIPTables && d.Kind != DecisionNFTables {
			continue
		}
		if d.target() == target || (target == "DROP" && strings.EqualFold(d.Rule, "policy drop")) {
			found = d
		}
	}
	return viaElement(ds, found)
}

// viaElement names, on an nftables rule in a helper chain (kube-proxy's
// reject-chain, a firewall- chain), the verdict map element that sent the
// packet there: the element says which Service, the helper's rule only
// what was done.
func viaElement(ds []Decision, d *Decision) *Decision {
	if d == nil || d.Kind != DecisionNFTables || d.Element != "" {
		return d
	}
	var via *Decision
	for i := range ds {
		p := &ds[i]
		if p == d {
			break
		}
		if p.Namespace == d.Namespace && p.Kind == DecisionNFTables && p.Table == d.Table && p.Element != "" && p.target() == d.Chain {
			via = p
		}
	}
	if via == nil {
		return d
	}
	out := *d
	out.Element = "via " + via.Chain + " " + via.Element
	return &out
}

// icmpName names the ICMP errors a probe can meet.
func icmpName(tc [2]uint8) string {
	if tc[0] == 3 {
		if n, ok := map[uint8]string{0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable",
			9: "net prohibited", 10: "host prohibited", 13: "administratively prohibited"}[tc[1]]; ok {
			return n
		}
	}
	if tc[0] == 11 {
		return "time exceeded"
	}
	return fmt.Sprintf("type %d code %d", tc[0], tc[1])
}

// marker finds the rule that sent a flow to be marked: the moved rule
// jumping to the chain whose moved MARK rule set the mark.
func marker(ds []Decision, ns string) *Decision {
	for _, m := range ds {
		if m.Namespace != ns || m.target() != "MARK" {
			continue
		}
		for i := range ds {
			if d := &ds[i]; d.Namespace == ns && d.target() == m.Chain {
				return d
			}
		}
	}
	return nil
}

// arrivalIn is the request's first hop into a namespace.
func arrivalIn(hs []Hop, ns string) *Hop {
	for i := range hs {
		if hs[i].Namespace == ns && hs[i].Src != "" {
			return &hs[i]
		}
	}
	return nil
}

func isLocalAddr(ns string, a netip.Addr) bool {
	local := false
	_ = netns.Do(ns, func() error {
		addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, x := range addrs {
			if ip, ok := netip.AddrFromSlice(x.IP.To4()); ok && ip == a {
				local = true
			}
		}
		return nil
	})
	return local
}

// FormatHops prints hops one per line, for the CLI.
func FormatHops(hs []Hop) string {
	var b strings.Builder
	for i, h := range hs {
		fmt.Fprintf(&b, "  %2d  %-16s %-14s %-7s", i+1, h.Owner, h.Device, h.Dir)
		if h.Src != "" {
			fmt.Fprintf(&b, " %s > %s", h.Src, h.Dst)
		}
		if h.Left != "" {
			fmt.Fprintf(&b, "  left as %s", h.Left)
		}
		if h.Encap != "" {
			fmt.Fprintf(&b, "  (vxlan %s)", h.Encap)
		}
		if h.VLAN != 0 {
			fmt.Fprintf(&b, "  (vlan %d)", h.VLAN)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// loopbackNote names the layer-4 load balancer's loopback problem: a
// backend that connects to its own listener and is picked to serve it gets
// its own connection back with its own address as the source (the SLB
// keeps the client's address), and drops it.
func loopbackNote(node string) string {
	return fmt.Sprintf(" (SLB loopback: the SLB picked the client's own node %s as the backend and kept the client's address)", node)
}
