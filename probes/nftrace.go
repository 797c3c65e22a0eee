package probes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/netns"
)

// nftables tracing: in each namespace a flow may cross, netlab adds a
// table of its own whose chains, hooked at prerouting and output before
// everything else (raw is -300, conntrack -200), set the packet's nftrace
// bit; the kernel then reports every rule that packet meets, in every
// nftables table of that namespace (iptables-nft's tables are nftables
// tables), as an NFT_MSG_TRACE message to the NFNLGRP_NFTRACE multicast
// group. The bit does not survive a namespace crossing (the veth scrubs
// it), so each namespace needs its own table and its own subscription.

const (
	// traceTableName is netlab's table, in family ip in every traced
	// namespace while a probe runs.
	traceTableName = "netlab-trace"
	// tracePriority runs the trace chains before raw (-300) and
	// conntrack (-200): the packet is marked before any rule of the lab
	// sees it. Conntrack has not run yet, so the chains match by protocol
	// only (see traceProtos).
	tracePriority = -350
	// nftTableFOwner (NFT_TABLE_F_OWNER, Linux 5.12) makes the kernel
	// remove the table when the netlink socket that created it closes:
	// a netlab killed mid-probe leaves no trace table behind.
	nftTableFOwner = 0x2
	// nfprotoIPv4 is NFPROTO_IPV4, the family of ip tables.
	nfprotoIPv4 = 2
	// traceRcvBuf is the subscription's receive buffer: a probe's
	// handful of packets make a few hundred events, but a busy lab (an
	// SLB health check in the middle) may add to them.
	traceRcvBuf = 4 << 20
)

// The nfnetlink message types of nf_tables (subsystem 10).
const (
	nftMsgNewTable = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE
	nftMsgDelTable = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_DELTABLE
	nftMsgNewChain = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWCHAIN
	nftMsgNewRule  = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE
	nftMsgGetRule  = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE
	nftMsgTrace    = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_TRACE
)

// traceEvent is one NFT_MSG_TRACE message: one rule (or a chain's policy,
// or a return from a chain) that one packet met.
type traceEvent struct {
	// Family is the table's family (NFPROTO_*: 2 ip, 1 inet, ...).
	Family uint8
	Table  string
	Chain  string
	// ID is the kernel's trace id: the same for every event of one packet
	// in one pass through the namespace's hooks, but reused by later
	// packets (it hashes the skb's address).
	ID uint32
	// Type is NFT_TRACETYPE_RULE, _RETURN or _POLICY.
	Type uint32
	// Handle is the rule's handle (rule events).
	Handle uint64
	// Verdict is the rule's verdict code (NF_ACCEPT, NF_DROP, NFT_JUMP,
	// ...) and VerdictChain the chain of a jump or goto; HasVerdict says
	// the message had one.
	Verdict      int32
	VerdictChain string
	HasVerdict   bool
	// Policy is a base chain's policy (policy events).
	Policy uint32
	// Network and Transport are the packet's headers (the first event of
	// each base chain the packet enters has them; later ones do not).
	Network, Transport []byte
	IIF, OIF           uint32
	Mark               uint32
}

// packet is the event's packet as the capture would describe it: nil
// without headers.
func (e *traceEvent) packet() *packet {
	if len(e.Network) < 20 {
		return nil
	}
	b := e.Network
	if ihl := int(b[0]&0x0f) * 4; len(e.Transport) > 0 && ihl >= 20 && ihl <= len(b) {
		b = append(append([]byte(nil), b[:ihl]...), e.Transport...)
	}
	p, ok := parseIPv4(b, false)
	if !ok {
		return nil
	}
	return &p
}

// verdictText is the verdict as nft prints it: accept, drop, jump X,
// goto X, return, continue.
func (e *traceEvent) verdictText() string {
	if e.Type == unix.NFT_TRACETYPE_POLICY {
		return verdictName(int32(e.Policy), "")
	}
	if !e.HasVerdict {
		return ""
	}
	return verdictName(e.Verdict, e.VerdictChain)
}

func verdictName(code int32, chain string) string {
	switch code {
	case unix.NFT_CONTINUE:
		return "continue"
	case unix.NFT_BREAK:
		return "break"
	case unix.NFT_JUMP:
		return "jump " + chain
	case unix.NFT_GOTO:
		return "goto " + chain
	case unix.NFT_RETURN:
		return "return"
	}
	// NF_DROP_ERR keeps an errno in the upper bits.
	if name, ok := map[int32]string{0: "drop", 1: "accept", 2: "stolen", 3: "queue", 4: "repeat", 5: "stop"}[code&0xff]; ok {
		return name // NF_DROP .. NF_STOP
	}
	return fmt.Sprintf("verdict %d", code)
}

// parseTraceMessage reads one netlink message (header included) and
// returns its event; ok is false for anything that is not NFT_MSG_TRACE.
func parseTraceMessage(m syscall.NetlinkMessage) (traceEvent, bool, error) {
	if m.Header.Type != nftMsgTrace {
		return traceEvent{}, false, nil
	}
	if len(m.Data) < nl.SizeofNfgenmsg {
		return traceEvent{}, false, errors.New("nft trace: short message")
	}
	e := traceEvent{Family: m.Data[0]}
	attrs, err := nl.ParseRouteAttr(m.Data[nl.SizeofNfgenmsg:])
	if err != nil {
		return traceEvent{}, false, fmt.Errorf("nft trace: %w", err)
	}
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type & nlaTypeMask {
		case unix.NFTA_TRACE_TABLE:
			e.Table = cString(v)
		case unix.NFTA_TRACE_CHAIN:
			e.Chain = cString(v)
		case unix.NFTA_TRACE_ID:
			e.ID = be32(v)
		case unix.NFTA_TRACE_TYPE:
			e.Type = be32(v)
		case unix.NFTA_TRACE_RULE_HANDLE:
			if len(v) >= 8 {
				e.Handle = binary.BigEndian.Uint64(v)
			}
		case unix.NFTA_TRACE_VERDICT:
			e.HasVerdict = true
			inner, err := nl.ParseRouteAttr(v)
			if err != nil {
				return traceEvent{}, false, fmt.Errorf("nft trace verdict: %w", err)
			}
			for _, x := range inner {
				switch x.Attr.Type & nlaTypeMask {
				case unix.NFTA_VERDICT_CODE:
					e.Verdict = int32(be32(x.Value))
				case unix.NFTA_VERDICT_CHAIN:
					e.VerdictChain = cString(x.Value)
				}
			}
		case unix.NFTA_TRACE_POLICY:
			e.Policy = be32(v)
		case unix.NFTA_TRACE_NETWORK_HEADER:
			e.Network = append([]byte(nil), v...)
		case unix.NFTA_TRACE_TRANSPORT_HEADER:
			e.Transport = append([]byte(nil), v...)
		case unix.NFTA_TRACE_IIF:
			e.IIF = be32(v)
		case unix.NFTA_TRACE_OIF:
			e.OIF = be32(v)
		case unix.NFTA_TRACE_MARK:
			e.Mark = be32(v)
		}
	}
	return e, true, nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// ---- the subscription and netlab's table ---------------------------------

// traceSocket is one namespace's trace subscription. The same socket
// created netlab's trace table, so with the owner flag closing it removes
// the table.
type traceSocket struct {
	ns    string
	fd    int
	seq   uint32
	owner bool
	// lost says the kernel dropped events (the receive buffer
	// overflowed): the trace may miss rules.
	lost   bool
	events []traceEvent
}

// openTrace subscribes to trace events in a namespace and adds netlab's
// trace table there, marking the packets of the given IP protocols.
func openTrace(ns string, protos []uint8) (*traceSocket, error) {
	s := &traceSocket{ns: ns, fd: -1}
	err := netns.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return os.NewSyscallError("socket(NETLINK_NETFILTER)", err)
		}
		s.fd = fd
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return os.NewSyscallError("bind", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, unix.NFNLGRP_NFTRACE); err != nil {
			return os.NewSyscallError("join NFNLGRP_NFTRACE", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, traceRcvBuf); err != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, traceRcvBuf)
		}
		return nil
	})
	if err == nil {
		s.owner = true
		err = s.transact(s.createTable(protos, nftTableFOwner))
		if errors.Is(err, unix.EOPNOTSUPP) {
			// A kernel before 5.12: no owned tables; close deletes it.
			s.owner = false
			err = s.transact(s.createTable(protos, 0))
		}
	}
	if err != nil {
		s.closeFD()
		if errors.Is(err, unix.EPERM) {
			// The table is owned by another socket: another netlab is
			// tracing this namespace.
			return nil, fmt.Errorf("nftables trace in %s: another trace holds its table %s: %w", ns, traceTableName, err)
		}
		return nil, fmt.Errorf("nftables trace in %s: %w", ns, err)
	}
	return s, nil
}

// createTable is the batch that (re)creates netlab's table: a leftover
// one (from a kernel without owned tables) is deleted first, by adding it
// and deleting it, as nft does to flush.
func (s *traceSocket) createTable(protos []uint8, flags uint32) [][]byte {
	table := nlAttr(unix.NFTA_TABLE_NAME, cStr(traceTableName))
	msgs := [][]byte{
		s.msg(nftMsgNewTable, unix.NLM_F_CREATE, table, nlAttr(unix.NFTA_TABLE_FLAGS, be32b(0))),
		s.msg(nftMsgDelTable, 0, table),
		s.msg(nftMsgNewTable, unix.NLM_F_CREATE|unix.NLM_F_EXCL, table, nlAttr(unix.NFTA_TABLE_FLAGS, be32b(flags))),
	}
	for _, c := range []struct {
		name string
		hook uint32
	}{{"prerouting", unix.NF_INET_PRE_ROUTING}, {"output", unix.NF_INET_LOCAL_OUT}} {
		hook := nlNested(unix.NFTA_CHAIN_HOOK,
			nlAttr(unix.NFTA_HOOK_HOOKNUM, be32b(c.hook)),
			nlAttr(unix.NFTA_HOOK_PRIORITY, be32b(priority(tracePriority))))
		msgs = append(msgs, s.msg(nftMsgNewChain, unix.NLM_F_CREATE,
			nlAttr(unix.NFTA_CHAIN_TABLE, cStr(traceTableName)), nlAttr(unix.NFTA_CHAIN_NAME, cStr(c.name)),
			hook, nlAttr(unix.NFTA_CHAIN_TYPE, cStr("filter"))))
		// One rule per protocol: meta l4proto P meta nftrace set 1.
		for _, p := range protos {
			exprs := nlNested(unix.NFTA_RULE_EXPRESSIONS,
				nftExpr("meta", nlAttr(unix.NFTA_META_DREG, be32b(unix.NFT_REG_1)), nlAttr(unix.NFTA_META_KEY, be32b(unix.NFT_META_L4PROTO))),
				nftExpr("cmp", nlAttr(unix.NFTA_CMP_SREG, be32b(unix.NFT_REG_1)), nlAttr(unix.NFTA_CMP_OP, be32b(unix.NFT_CMP_EQ)),
					nlNested(unix.NFTA_CMP_DATA, nlAttr(unix.NFTA_DATA_VALUE, []byte{p}))),
				nftExpr("immediate", nlAttr(unix.NFTA_IMMEDIATE_DREG, be32b(unix.NFT_REG_1)),
					nlNested(unix.NFTA_IMMEDIATE_DATA, nlAttr(unix.NFTA_DATA_VALUE, []byte{1}))),
				nftExpr("meta", nlAttr(unix.NFTA_META_KEY, be32b(unix.NFT_META_NFTRACE)), nlAttr(unix.NFTA_META_SREG, be32b(unix.NFT_REG_1))))
			msgs = append(msgs, s.msg(nftMsgNewRule, unix.NLM_F_CREATE|unix.NLM_F_APPEND,
				nlAttr(unix.NFTA_RULE_TABLE, cStr(traceTableName)), nlAttr(unix.NFTA_RULE_CHAIN, cStr(c.name)), exprs))
		}
	}
	return msgs
}

// msg is one nf_tables message of a batch, in family ip, asking for an ack.
func (s *traceSocket) msg(typ uint16, flags uint16, attrs ...[]byte) []byte {
	s.seq++
	return nlMessage(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags, s.seq, nfprotoIPv4, attrs...)
}

// transact sends messages as one nf_tables transaction (a batch) and
// waits for every ack; the first error aborts the transaction.
func (s *traceSocket) transact(msgs [][]byte) error {
	s.seq++
	begin := nlMessage(unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, s.seq, unix.AF_UNSPEC)
	s.seq++
	end := nlMessage(unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, s.seq, unix.AF_UNSPEC)
	var buf []byte
	buf = append(buf, begin...)
	pending := map[uint32]bool{}
	for _, m := range msgs {
		pending[binary.NativeEndian.Uint32(m[8:12])] = true
		buf = append(buf, m...)
	}
	buf = append(buf, end...)
	if err := unix.Sendto(s.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	var firstErr error
	deadline := time.Now().Add(2 * time.Second)
	for len(pending) > 0 {
		wait := time.Until(deadline)
		if firstErr != nil {
			// An aborted batch acks what it processed; do not wait long
			// for the rest.
			wait = min(wait, 50*time.Millisecond)
		}
		msgs, err := s.recv(wait)
		if err != nil {
			return err
		}
		if msgs == nil {
			if firstErr == nil {
				firstErr = errors.New("no answer from nf_tables")
			}
			break
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			delete(pending, m.Header.Seq)
			if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 && firstErr == nil {
				firstErr = syscall.Errno(-code)
			}
		}
	}
	return firstErr
}

// recv reads what the socket has within wait: nil when nothing came. Trace
// events among the messages are kept.
func (s *traceSocket) recv(wait time.Duration) ([]syscall.NetlinkMessage, error) {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(wait.Milliseconds()))
	if err == unix.EINTR {
		return []syscall.NetlinkMessage{}, nil
	}
	if err != nil {
		return nil, os.NewSyscallError("poll", err)
	}
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, 1<<16)
	got, _, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
	if err == unix.ENOBUFS {
		s.lost = true
		return []syscall.NetlinkMessage{}, nil
	}
	if err == unix.EAGAIN || err == unix.EINTR {
		return []syscall.NetlinkMessage{}, nil
	}
	if err != nil {
		return nil, os.NewSyscallError("recvfrom", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:got])
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if e, ok, _ := parseTraceMessage(m); ok {
			s.events = append(s.events, e)
		}
	}
	return msgs, nil
}

// drain reads every event queued so far, in the order the kernel sent
// them, and returns all events of the subscription.
func (s *traceSocket) drain() []traceEvent {
	for {
		msgs, err := s.recv(0)
		if err != nil || msgs == nil {
			return s.events
		}
	}
}

// close ends the subscription and removes netlab's table: the kernel does
// it as the socket closes when it owns the table, else an explicit delete.
func (s *traceSocket) close() {
	if s == nil || s.fd < 0 {
		return
	}
	if !s.owner {
		_ = s.transact([][]byte{s.msg(nftMsgDelTable, 0, nlAttr(unix.NFTA_TABLE_NAME, cStr(traceTableName)))})
	}
	s.closeFD()
}

func (s *traceSocket) closeFD() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// ---- netlink message building ---------------------------------------------

// nlMessage is a netlink header, an nfgenmsg of the family and the
// attributes.
func nlMessage(typ, flags uint16, seq uint32, family uint8, attrs ...[]byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN, 64)
	// nfgenmsg: family, version 0, res_id (big endian): the subsystem for
	// the batch messages, 0 otherwise.
	resID := uint16(0)
	if typ == unix.NFNL_MSG_BATCH_BEGIN || typ == unix.NFNL_MSG_BATCH_END {
		resID = unix.NFNL_SUBSYS_NFTABLES
	}
	b = append(b, family, unix.NFNETLINK_V0)
	b = binary.BigEndian.AppendUint16(b, resID)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], flags)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	return b
}

// nlAttr is one attribute, padded to 4 bytes.
func nlAttr(typ uint16, value []byte) []byte {
	n := unix.SizeofNlAttr + len(value)
	b := make([]byte, nlAlign(n))
	binary.NativeEndian.PutUint16(b[0:2], uint16(n))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[unix.SizeofNlAttr:], value)
	return b
}

func nlNested(typ uint16, attrs ...[]byte) []byte {
	var v []byte
	for _, a := range attrs {
		v = append(v, a...)
	}
	return nlAttr(typ|unix.NLA_F_NESTED, v)
}

// nftExpr is one expression of a rule: its name and its attributes.
func nftExpr(name string, attrs ...[]byte) []byte {
	return nlNested(unix.NFTA_LIST_ELEM, nlAttr(unix.NFTA_EXPR_NAME, cStr(name)), nlNested(unix.NFTA_EXPR_DATA, attrs...))
}

func nlAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

func cStr(s string) []byte { return append([]byte(s), 0) }

// priority is a hook priority as the kernel reads it: a signed 32-bit
// number in big endian.
func priority(p int32) uint32 { return uint32(p) }

func be32b(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// ---- rule handles of a table -----------------------------------------------

// ruleHandles lists the handles of a chain of an ip table in the current
// namespace, in rule order (a GETRULE dump lists rules in chain order):
// the n-th is the n-th -A line of that chain in iptables-save for an
// iptables-nft table. The dump is of that chain alone: the kernel sends
// every rule's expressions, which for KUBE-SERVICES of a large cluster
// is megabytes.
func ruleHandles(table, chain string) ([]uint64, error) {
	req := nl.NewNetlinkRequest(nftMsgGetRule, unix.NLM_F_DUMP)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: nfprotoIPv4, Version: nl.NFNETLINK_V0})
	req.AddData(nl.NewRtAttr(unix.NFTA_RULE_TABLE, cStr(table)))
	req.AddData(nl.NewRtAttr(unix.NFTA_RULE_CHAIN, cStr(chain)))
	msgs, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	if err != nil {
		return nil, fmt.Errorf("list the rules of ip %s %s: %w", table, chain, err)
	}
	out := []uint64{}
	for _, m := range msgs {
		if len(m) < nl.SizeofNfgenmsg {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[nl.SizeofNfgenmsg:])
		if err != nil {
			continue
		}
		var tbl, ch string
		var handle uint64
		for _, a := range attrs {
			switch a.Attr.Type & nlaTypeMask {
			case unix.NFTA_RULE_TABLE:
				tbl = cString(a.Value)
			case unix.NFTA_RULE_CHAIN:
				ch = cString(a.Value)
			case unix.NFTA_RULE_HANDLE:
				if len(a.Value) >= 8 {
					handle = binary.BigEndian.Uint64(a.Value)
				}
			}
		}
		if tbl == table && ch == chain {
			out = append(out, handle)
		}
	}
	return out, nil
}
