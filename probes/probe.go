// Package probes fires real connections through a lab and reports what they
// showed: dials, captures on every namespace crossed, hops, traces,
// conntrack, and the scenario's expectations. It observes only: the servers
// that answer are the lab daemon's (lab/daemon).
package probes

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/daemon/wire"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// DefaultTimeout bounds a probe's connect and answer. A healthy path in a
// lab answers in well under a millisecond, but TCP retransmits a lost SYN
// only after one second (the initial RTO): the timeout must outlast one
// retransmission, or a single dropped packet on a busy machine would be
// reported as a path that drops everything.
const DefaultTimeout = 2 * time.Second

// Result is one probe's observation. Its JSON is the contract described in
// docs/json.md ("probe, trace").
type Result struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Target string `json:"target"`
	// Protocol is tcp or udp.
	Protocol string `json:"protocol"`
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
	// Hops is the devices the probe's first packet (its SYN, or its UDP
	// datagram) crossed, in order, as a packet capture on every lab
	// namespace saw it; Path is the same as the field articles draw it
	// (ShortPath). ReplyHops is the answer's way back, given only where it
	// differs from Hops reversed.
	Hops      []Hop    `json:"hops"`
	Path      []string `json:"path,omitempty"`
	ReplyHops []Hop    `json:"replyHops,omitempty"`
	// Decisions and Verdict come with a tracer that watches rules (netlab
	// trace, or a scenario that expects decidedBy). Where the rules were
	// traced (Observed), Decisions are in the order the flow met them:
	// the request's first packet namespace by namespace along its hops
	// (Packet "request"), the answer's first packet along its way back
	// ("reply"), then rules later packets met that neither did ("later").
	// Counted namespaces follow, by table then as iptables-save lists
	// them; IPVS entries come last.
	Decisions []Decision `json:"decisions,omitempty"`
	// Observed says how the rules of each namespace on the path were
	// watched: traced, or by counters, and why.
	Observed []Observation `json:"observed,omitempty"`
	Rewrites []Rewrite     `json:"rewrites,omitempty"`
	Verdict  *Verdict      `json:"verdict,omitempty"`
	// Pinned is the node the probe asked the SLB for (svc/NAME:loadbalancer@NODE);
	// SLBBackend the node (or outside host) the SLB really forwarded the
	// request to, as the hops show it ("" if it never passed the SLB).
	Pinned     string `json:"pinned,omitempty"`
	SLBBackend string `json:"slbBackend,omitempty"`
}

// Server is the pod that answered.
type Server struct {
	Pod  string `json:"pod"`
	Node string `json:"node"`
}

// Options tune a probe.
type Options struct {
	Timeout time.Duration
	// NoConntrack skips the conntrack capture (benchmarks).
	NoConntrack bool
	// NoHops skips the packet capture that fills Hops.
	NoHops bool
	// Tracer, if set, is used instead of a capture opened for this probe
	// alone (a batch of probes opens one); Rules asks a tracer opened for
	// this probe to watch rule counters too.
	Tracer *Tracer
	Rules  bool
	// Protocol is tcp or udp; "" takes the target's (a Service port's
	// protocol), else tcp.
	Protocol string
	// SourcePorts, if set, binds the client's socket to a free port of this
	// range (inclusive), e.g. to send from a port in the NodePort range.
	SourcePorts [2]int
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
	proto := strings.ToLower(topology.ProtocolOf(strings.ToUpper(o.Protocol), dst))
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("protocol %q: use tcp or udp", o.Protocol)
	}
	r := &Result{From: src.String(), To: to, Target: dst.AddrPort().String(), Protocol: proto, Conntrack: map[string][]Flow{}, Hops: []Hop{}}
	tos := 0
	if dst.Access == topology.AccessLoadBalancer && dst.Via != "" {
		d, err := pinDSCP(l.Topology, dst.Name, dst.Via)
		if err != nil {
			return nil, err
		}
		tos = d << 2 // DSCP is the upper six bits of the TOS byte
		r.Pinned = dst.Via
	}
	tr := o.Tracer
	if tr == nil && !o.NoHops {
		if tr, err = NewTracer(l, o.Rules); err != nil {
			return nil, err
		}
		defer tr.Close()
	}
	var obs []observer
	if tr != nil {
		obs = tr.start(o.Rules, proto)
		defer stop(obs)
	}
	start := time.Now()
	dialer := dial
	if proto == "udp" {
		dialer = dialUDP
	}
	local, ans, err := dialer(ns, dst.AddrPort(), sockOpts{ports: o.SourcePorts, tos: tos}, o.Timeout)
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
	if tr != nil && local.IsValid() {
		var seen [2]netip.AddrPort
		if ans != nil {
			seen[0], _ = netip.ParseAddrPort(ans.Client)
			seen[1], _ = netip.ParseAddrPort(ans.Local)
		}
		tr.explain(r, ns, proto, local, seen, obs)
		r.SLBBackend = slbBackend(r.Hops)
	}
	if !o.NoConntrack && local.IsValid() {
		tuples := [][2]netip.AddrPort{{local, dst.AddrPort()}}
		// Every address pair the request had on its way (after each NAT)
		// is the original direction on the node it entered.
		for _, h := range r.Hops {
			s, err1 := netip.ParseAddrPort(h.Src)
			d, err2 := netip.ParseAddrPort(h.Dst)
			if err1 == nil && err2 == nil && !slices.Contains(tuples, [2]netip.AddrPort{s, d}) {
				tuples = append(tuples, [2]netip.AddrPort{s, d})
			}
		}
		if ans != nil {
			seen, err1 := netip.ParseAddrPort(ans.Client)
			server, err2 := netip.ParseAddrPort(ans.Local)
			if err1 == nil && err2 == nil {
				// Forward on the server's node; as a reply tuple on a node
				// that SNATed the flow on the way (NodePort, eTP Cluster).
				tuples = append(tuples, [2]netip.AddrPort{seen, server}, [2]netip.AddrPort{server, seen})
			}
		}
		r.Conntrack = captureConntrack(l, protoNumber(proto), tuples, pathOwners(r))
	}
	return r, nil
}

// dial connects from inside a namespace, sends the probe hello and reads
// the server's answer. local is the socket's own address, known as soon as
// the SYN is sent, so a refused or timed-out probe still has its tuple (for
// conntrack and tracing).
func dial(ns string, target netip.AddrPort, so sockOpts, timeout time.Duration) (local netip.AddrPort, ans *wire.Answer, err error) {
	deadline := time.Now().Add(timeout)
	var fd int
	err = netns.Do(ns, func() error {
		return tryPorts(so.ports, func(port int) (err error) {
			fd, local, err = connectFrom(port, so.tos, target)
			return err
		})
	})
	if err != nil {
		return local, nil, err
	}
	conn, err := waitConnected(fd, deadline)
	if err != nil {
		return local, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(wire.Hello)); err != nil {
		return local, nil, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return local, nil, fmt.Errorf("connected, but no answer: %w", err)
	}
	var a wire.Answer
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		return local, nil, fmt.Errorf("connected, but the answer is not netlab's: %q", strings.TrimSpace(line))
	}
	return local, &a, nil
}

// dialUDP sends the probe hello in one datagram from a connected UDP
// socket and waits for the answer. An ICMP port unreachable on the way
// comes back as ECONNREFUSED on the read (refused); silence is a timeout.
// There is no retransmission: one lost datagram is a timeout.
func dialUDP(ns string, target netip.AddrPort, so sockOpts, timeout time.Duration) (local netip.AddrPort, ans *wire.Answer, err error) {
	deadline := time.Now().Add(timeout)
	var conn net.Conn
	err = netns.Do(ns, func() error {
		return tryPorts(so.ports, func(port int) (err error) {
			d := net.Dialer{LocalAddr: &net.UDPAddr{Port: port}, Control: func(_, _ string, c syscall.RawConn) error {
				var serr error
				if err := c.Control(func(fd uintptr) { serr = setTOS(int(fd), so.tos) }); err != nil {
					return err
				}
				return serr
			}}
			conn, err = d.Dial("udp4", target.String())
			return err
		})
	})
	if err != nil {
		return local, nil, err
	}
	defer conn.Close()
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		local = a.AddrPort()
		local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(wire.Hello)); err != nil {
		return local, nil, err
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		return local, nil, err
	}
	var a wire.Answer
	if err := json.Unmarshal(buf[:n], &a); err != nil {
		return local, nil, fmt.Errorf("connected, but the answer is not netlab's: %q", strings.TrimSpace(string(buf[:n])))
	}
	return local, &a, nil
}

func protoNumber(proto string) uint8 {
	if proto == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

// sockOpts are what a probe's socket is given before it connects: a
// source port range ({0, 0}: any port) and the TOS byte (0: none).
type sockOpts struct {
	ports [2]int
	tos   int
}

// setTOS sets a socket's IP TOS byte (every packet it sends carries it).
func setTOS(fd, tos int) error {
	if tos == 0 {
		return nil
	}
	return os.NewSyscallError("setsockopt IP_TOS", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos))
}

// tryPorts calls try with source port 0 (any) when no range is given,
// else with each port of the range, from a random start, until one is
// free: a recent probe may still hold a port.
func tryPorts(pin [2]int, try func(port int) error) error {
	if pin[0] == 0 {
		return try(0)
	}
	span := pin[1] - pin[0] + 1
	first := rand.IntN(span)
	var err error
	for i := 0; i < span; i++ {
		err = try(pin[0] + (first+i)%span)
		if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return err
		}
	}
	return err
}

// connectFrom opens a non-blocking TCP socket in the current namespace,
// binds it to port (0: any), sets its TOS byte (0: none) and starts
// connecting. The kernel has chosen the source address and port once
// connect returns EINPROGRESS.
func connectFrom(port, tos int, target netip.AddrPort) (int, netip.AddrPort, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, os.NewSyscallError("socket", err)
	}
	if err := setTOS(fd, tos); err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, err
	}
	if port != 0 {
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
			unix.Close(fd)
			return -1, netip.AddrPort{}, os.NewSyscallError("bind", err)
		}
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: target.Addr().As4(), Port: int(target.Port())})
	if err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return -1, netip.AddrPort{}, os.NewSyscallError("connect", err)
	}
	var local netip.AddrPort
	if sa, err := unix.Getsockname(fd); err == nil {
		if in, ok := sa.(*unix.SockaddrInet4); ok {
			local = netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
		}
	}
	return fd, local, nil
}

// waitConnected waits for a connecting socket until deadline and hands it
// to the runtime as a net.Conn. The error wraps the errno the kernel gave
// (ECONNREFUSED for a reset or ICMP port unreachable) or
// os.ErrDeadlineExceeded.
func waitConnected(fd int, deadline time.Time) (net.Conn, error) {
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			unix.Close(fd)
			return nil, fmt.Errorf("connect: %w", os.ErrDeadlineExceeded)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return nil, os.NewSyscallError("poll", err)
		}
		if n == 0 {
			continue
		}
		break
	}
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soErr != 0 {
		err = syscall.Errno(soErr)
	}
	if err != nil {
		unix.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	f := os.NewFile(uintptr(fd), "probe")
	defer f.Close() // FileConn dups the descriptor
	return net.FileConn(f)
}

// PinError is a probe's SLB pin that cannot be honoured: the SLB does not
// send the Service to that node, or the node is past the pinnable ones.
type PinError struct {
	Service, Node, Reason string
}

func (e *PinError) Error() string {
	return fmt.Sprintf("cannot pin the SLB to %s for Service %s: %s", e.Node, e.Service, e.Reason)
}

// pinDSCP is the DSCP that makes the SLB send Service svc to node.
func pinDSCP(t *topology.Topology, svc, node string) (int, error) {
	n := t.Node(node)
	if n.Index >= topology.MaxPinnedNodes {
		return 0, &PinError{svc, node, fmt.Sprintf("only the first %d nodes can be pinned", topology.MaxPinnedNodes)}
	}
	for _, b := range t.LBBackends(t.Service(svc)) {
		if b.Name == node {
			return topology.PinDSCP(n.Index), nil
		}
	}
	return 0, &PinError{svc, node, "it is not one of the SLB's backends (externalTrafficPolicy Local and no ready endpoint there: the health check fails); pin one of: " +
		strings.Join(backendNames(t, svc), ", ")}
}

func backendNames(t *topology.Topology, svc string) []string {
	var out []string
	for _, b := range t.LBBackends(t.Service(svc)) {
		out = append(out, b.Name)
	}
	if len(out) == 0 {
		out = []string{"(none)"}
	}
	return out
}

// slbBackend is the owner the request reached first after leaving the
// SLB (past the VPC router): the node, or outside host, the SLB forwarded
// it to. "" if it never went through the SLB.
func slbBackend(hops []Hop) string {
	through := false
	for _, h := range hops {
		switch {
		case h.Owner == "slb":
			through = true
		case through && h.Owner != "vpc":
			return h.Owner
		}
	}
	return ""
}

// classify maps a dial outcome to a probe result.
func classify(err error, ans *wire.Answer) string {
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

// captureConntrack looks up this flow's conntrack entries on every node. The flow is
// known by the probe's own tuple (client socket -> target: the original
// direction on the client's node) and by the one the server saw (seen
// client -> server socket: the original direction on the server's node,
// and, reversed, the reply direction on a node that SNATed the flow). An
// entry found twice is listed once.
//
// With the path known (onPath, by owner), only the nodes on it are asked:
// conntrack has entries only where the flow's packets went.
func captureConntrack(l *lab.Lab, proto uint8, tuples [][2]netip.AddrPort, onPath map[string]bool) map[string][]Flow {
	out := map[string][]Flow{}
	for _, n := range l.Topology.Nodes {
		if onPath != nil && !onPath[n.Name] {
			continue
		}
		if fs, err := lookupFlows(plan.NSName(l.State.Lab, n.Name), proto, tuples); err == nil && len(fs) > 0 {
			out[n.Name] = fs
		}
	}
	return out
}

// pathOwners is the set of owners (nodes, pods, ...) a traced probe's
// packets crossed, either way; nil when nothing was traced.
func pathOwners(r *Result) map[string]bool {
	if len(r.Hops) == 0 && len(r.ReplyHops) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, h := range append(append([]Hop(nil), r.Hops...), r.ReplyHops...) {
		out[h.Owner] = true
	}
	return out
}
