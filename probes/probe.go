package probes

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/apply"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// DefaultTimeout bounds a probe's connect and answer. Everything in a lab is
// on one machine, so a healthy path answers in well under a millisecond.
const DefaultTimeout = time.Second

// Result is one probe's observation. Its JSON is the contract described in
// DESIGN.md ("Probes and their JSON").
type Result struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Target string `json:"target"`
	// Result is connected | refused | timeout | unreachable.
	Result string  `json:"result"`
	Server *Server `json:"server,omitempty"`
	// ClientAddr is the probe socket's own address; ClientAddrSeen what the
	// server saw. They differ when something on the path SNATed.
	ClientAddr        string  `json:"clientAddr,omitempty"`
	ClientAddrSeen    string  `json:"clientAddrSeen,omitempty"`
	ClientIPPreserved *bool   `json:"clientIPPreserved,omitempty"`
	DurationMs        float64 `json:"durationMs"`
	Error             string  `json:"error,omitempty"`
	// Conntrack holds, per node, the entries of this probe's flow.
	Conntrack map[string][]Flow `json:"conntrack"`
	// Hops is the devices the packet crossed (filled by tracing; empty
	// until then).
	Hops []Hop `json:"hops"`
}

// Server is the pod that answered.
type Server struct {
	Pod  string `json:"pod"`
	Node string `json:"node"`
}

// Hop is one device on the path.
type Hop struct {
	Namespace string `json:"namespace"`
	Device    string `json:"device"`
}

// Flow is one conntrack entry, as `conntrack -L` shows it.
type Flow struct {
	Proto string `json:"proto"`
	State string `json:"state,omitempty"`
	Orig  Tuple  `json:"orig"`
	Reply Tuple  `json:"reply"`
	Mark  uint32 `json:"mark,omitempty"`
	// NAT says what the entry rewrote: dnat, snat, both or none.
	NAT string `json:"nat"`
}

// Tuple is one direction of a flow.
type Tuple struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
}

func (f Flow) String() string {
	return fmt.Sprintf("%s %s src=%s dst=%s reply src=%s dst=%s [%s]", f.Proto, f.State, f.Orig.Src, f.Orig.Dst, f.Reply.Src, f.Reply.Dst, f.NAT)
}

// Options tune a probe.
type Options struct {
	Timeout time.Duration
	// NoConntrack skips the conntrack capture (benchmarks).
	NoConntrack bool
}

// Run fires one probe from a pod, node or client of the lab to a target
// (see topology.ResolveTarget for the syntax).
func Run(l *lab.Lab, from, to string, o Options) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	src, err := l.Topology.ResolveSource(from)
	if err != nil {
		return nil, err
	}
	dst, err := l.Topology.ResolveTarget(to)
	if err != nil {
		return nil, err
	}
	ns, err := l.NS(src.Name)
	if err != nil {
		return nil, err
	}
	r := &Result{From: src.String(), To: to, Target: dst.AddrPort().String(), Conntrack: map[string][]Flow{}, Hops: []Hop{}}
	start := time.Now()
	local, ans, err := dial(ns, dst.AddrPort(), o.Timeout)
	r.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	r.Result = classify(err, ans)
	if err != nil {
		r.Error = err.Error()
	}
	if local.IsValid() {
		r.ClientAddr = local.String()
	}
	if ans != nil {
		r.Server = &Server{Pod: ans.Pod, Node: ans.Node}
		r.ClientAddrSeen = ans.Client
		if seen, err := netip.ParseAddrPort(ans.Client); err == nil && local.IsValid() {
			kept := seen.Addr() == local.Addr()
			r.ClientIPPreserved = &kept
		}
	}
	if !o.NoConntrack && local.IsValid() {
		keys := []netip.AddrPort{local}
		if seen, err := netip.ParseAddrPort(r.ClientAddrSeen); err == nil {
			keys = append(keys, seen)
		}
		r.Conntrack = capture(l, keys)
	}
	return r, nil
}

// dial connects from inside a namespace, sends the probe hello and reads
// the server's answer. local is the socket's own address once connected.
func dial(ns string, target netip.AddrPort, timeout time.Duration) (local netip.AddrPort, ans *Answer, err error) {
	var conn net.Conn
	deadline := time.Now().Add(timeout)
	err = apply.Do(ns, func() error {
		d := net.Dialer{Deadline: deadline}
		c, err := d.Dial("tcp4", target.String())
		conn = c
		return err
	})
	if err != nil {
		return local, nil, err
	}
	defer conn.Close()
	if a, ok := conn.LocalAddr().(*net.TCPAddr); ok {
		local = a.AddrPort()
		local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(ProbeHello)); err != nil {
		return local, nil, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return local, nil, fmt.Errorf("connected, but no answer: %w", err)
	}
	var a Answer
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		return local, nil, fmt.Errorf("connected, but the answer is not netlab's: %q", strings.TrimSpace(line))
	}
	return local, &a, nil
}

// classify maps a dial outcome to a probe result.
func classify(err error, ans *Answer) string {
	switch {
	case ans != nil:
		return topology.ResultConnected
	case err == nil:
		return topology.ResultConnected
	case errors.Is(err, syscall.ECONNREFUSED):
		return topology.ResultRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return topology.ResultUnreachable
	case errors.Is(err, os.ErrDeadlineExceeded):
		return topology.ResultTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return topology.ResultTimeout
	}
	if strings.HasPrefix(err.Error(), "connected") {
		return topology.ResultConnected
	}
	return topology.ResultUnreachable
}

// capture reads each node's conntrack table and keeps the entries of this
// flow: those whose original source, or reply destination, is one of keys
// (the probe's own address, and the address the server saw).
func capture(l *lab.Lab, keys []netip.AddrPort) map[string][]Flow {
	out := map[string][]Flow{}
	for _, n := range l.Topology.Nodes {
		flows, err := dump(plan.NSName(l.State.Lab, n.Name))
		if err != nil {
			continue
		}
		for _, f := range flows {
			if f.matches(keys) {
				out[n.Name] = append(out[n.Name], f.Flow)
			}
		}
	}
	return out
}

type rawFlow struct {
	Flow
	origSrc, replyDst netip.AddrPort
}

func (f rawFlow) matches(keys []netip.AddrPort) bool {
	for _, k := range keys {
		if f.origSrc == k || f.replyDst == k {
			return true
		}
	}
	return false
}

// Conntrack dumps the IPv4 conntrack table of a lab's pod, node, client or
// the VPC ("vpc").
func Conntrack(l *lab.Lab, object string) ([]Flow, error) {
	ns, err := l.NS(object)
	if err != nil {
		return nil, err
	}
	raw, err := dump(ns)
	if err != nil {
		return nil, err
	}
	out := make([]Flow, len(raw))
	for i, f := range raw {
		out[i] = f.Flow
	}
	return out, nil
}

func dump(ns string) ([]rawFlow, error) {
	fd, err := netns.GetFromPath(apply.NetnsPath(ns))
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	flows, err := h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		return nil, err
	}
	out := make([]rawFlow, 0, len(flows))
	for _, f := range flows {
		out = append(out, convert(f))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Orig.Src < out[j].Orig.Src })
	return out, nil
}

var protoNames = map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp", unix.IPPROTO_ICMP: "icmp"}

var tcpStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

func convert(f *netlink.ConntrackFlow) rawFlow {
	ap := func(ip net.IP, port uint16) netip.AddrPort {
		a, _ := netip.AddrFromSlice(ip)
		return netip.AddrPortFrom(a.Unmap(), port)
	}
	osrc, odst := ap(f.Forward.SrcIP, f.Forward.SrcPort), ap(f.Forward.DstIP, f.Forward.DstPort)
	rs, rd := ap(f.Reverse.SrcIP, f.Reverse.SrcPort), ap(f.Reverse.DstIP, f.Reverse.DstPort)
	nat := "none"
	dnat, snat := rs != odst, rd != osrc
	switch {
	case dnat && snat:
		nat = "dnat+snat"
	case dnat:
		nat = "dnat"
	case snat:
		nat = "snat"
	}
	fl := Flow{
		Proto: protoNames[f.Forward.Protocol], Mark: f.Mark, NAT: nat,
		Orig:  Tuple{Src: osrc.String(), Dst: odst.String()},
		Reply: Tuple{Src: rs.String(), Dst: rd.String()},
	}
	if fl.Proto == "" {
		fl.Proto = fmt.Sprint(f.Forward.Protocol)
	}
	if t, ok := f.ProtoInfo.(*netlink.ProtoInfoTCP); ok && int(t.State) < len(tcpStates) {
		fl.State = tcpStates[t.State]
	}
	return rawFlow{Flow: fl, origSrc: osrc, replyDst: rd}
}
