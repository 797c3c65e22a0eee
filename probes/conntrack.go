package probes

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/netns"
)

// Flow is one conntrack entry with the fields `conntrack -L` shows. It is
// read from ctnetlink directly: the netlink library's ConntrackFlow drops
// the status bits, the use count, the ICMP type/code/id and the security
// context, and reads ports only for TCP and UDP.
type Flow struct {
	// Proto is the protocol's name (tcp, udp, icmp, igmp, sctp, gre, ...),
	// or its number where it has no name here.
	Proto    string `json:"proto"`
	ProtoNum uint8  `json:"protoNum"`
	// State is the TCP or SCTP state; protocols without states have none.
	State string `json:"state,omitempty"`
	// TimeoutSeconds is how long the entry lives on without another packet.
	TimeoutSeconds uint32 `json:"timeoutSeconds"`
	Orig           Tuple  `json:"orig"`
	Reply          Tuple  `json:"reply"`
	// Flags are the status words conntrack -L prints in brackets:
	// UNREPLIED (no reply seen yet), ASSURED, OFFLOAD, HW_OFFLOAD.
	Flags []string `json:"flags,omitempty"`
	// Status is every status bit the kernel set, by its name without IPS_.
	Status []string `json:"status,omitempty"`
	Mark   uint32   `json:"mark"`
	Zone   uint16   `json:"zone,omitempty"`
	Use    uint32   `json:"use"`
	// ID is the kernel's id of the entry (conntrack -o id).
	ID     uint32 `json:"id"`
	SecCtx string `json:"secCtx,omitempty"`
	// Labels is the connlabel bitmap in hex, when a label is set.
	Labels string `json:"labels,omitempty"`
	// NAT says what the entry rewrote: dnat, snat, dnat+snat or none.
	NAT string `json:"nat"`
}

// Tuple is one direction of a flow. Src and Dst are IP:port for a protocol
// with ports (tcp, udp, sctp, dccp, udplite), else the bare IP.
type Tuple struct {
	Src  string   `json:"src"`
	Dst  string   `json:"dst"`
	ICMP *ICMPKey `json:"icmp,omitempty"`
	GRE  *GREKeys `json:"gre,omitempty"`
	// Packets and Bytes are counted only in a namespace whose
	// net.netfilter.nf_conntrack_acct is 1 (it is per namespace, 0 by
	// default); without them the fields are absent, not zero.
	Packets *uint64 `json:"packets,omitempty"`
	Bytes   *uint64 `json:"bytes,omitempty"`
}

// ICMPKey is what identifies an ICMP flow in place of ports.
type ICMPKey struct {
	Type uint8  `json:"type"`
	Code uint8  `json:"code"`
	ID   uint16 `json:"id"`
}

// GREKeys are a GRE flow's keys (PPTP call IDs; 0 for plain GRE).
type GREKeys struct {
	SrcKey uint16 `json:"srcKey"`
	DstKey uint16 `json:"dstKey"`
}

// String is the entry as one `conntrack -L` line, with netlab's NAT
// reading at the end.
// Entry is the flow as conntrack expectations write it (see
// topology.ConntrackEntry): protocol and both tuples.
func (f Flow) Entry() string {
	return fmt.Sprintf("%s src=%s dst=%s reply src=%s dst=%s", f.Proto, f.Orig.Src, f.Orig.Dst, f.Reply.Src, f.Reply.Dst)
}

func (f Flow) String() string {
	parts := []string{f.Proto, strconv.Itoa(int(f.ProtoNum)), strconv.FormatUint(uint64(f.TimeoutSeconds), 10)}
	if f.State != "" {
		parts = append(parts, f.State)
	}
	parts = append(parts, f.Orig.conntrackText())
	if slices.Contains(f.Flags, "UNREPLIED") {
		parts = append(parts, "[UNREPLIED]")
	}
	parts = append(parts, f.Reply.conntrackText())
	for _, fl := range f.Flags {
		if fl != "UNREPLIED" {
			parts = append(parts, "["+fl+"]")
		}
	}
	parts = append(parts, fmt.Sprintf("mark=%d", f.Mark))
	if f.SecCtx != "" {
		parts = append(parts, "secctx="+f.SecCtx)
	}
	if f.Zone != 0 {
		parts = append(parts, fmt.Sprintf("zone=%d", f.Zone))
	}
	parts = append(parts, fmt.Sprintf("use=%d", f.Use), "("+f.NAT+")")
	return strings.Join(parts, " ")
}

// conntrackText is a tuple as conntrack -L prints it: src= dst=, then the
// ports, ICMP fields or GRE keys, then the counters.
func (t Tuple) conntrackText() string {
	src, sport, sok := splitTupleAddr(t.Src)
	dst, dport, dok := splitTupleAddr(t.Dst)
	s := "src=" + src + " dst=" + dst
	if sok && dok {
		s += fmt.Sprintf(" sport=%d dport=%d", sport, dport)
	}
	if t.ICMP != nil {
		s += fmt.Sprintf(" type=%d code=%d id=%d", t.ICMP.Type, t.ICMP.Code, t.ICMP.ID)
	}
	if t.GRE != nil {
		s += fmt.Sprintf(" srckey=0x%x dstkey=0x%x", t.GRE.SrcKey, t.GRE.DstKey)
	}
	if t.Packets != nil && t.Bytes != nil {
		s += fmt.Sprintf(" packets=%d bytes=%d", *t.Packets, *t.Bytes)
	}
	return s
}

// splitTupleAddr splits a Tuple's IP:port; ok is false for a bare IP.
func splitTupleAddr(s string) (addr string, port uint16, ok bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return s, 0, false
	}
	return ap.Addr().String(), ap.Port(), true
}

// WriteConntrack writes each object's flows as one table. ORIGINAL and
// REPLY read as conntrack -L prints a tuple; ZONE, SECCTX and LABELS are
// columns only when some entry has one, as conntrack prints them only
// then.
func WriteConntrack(w io.Writer, objects []string, flows map[string][]Flow) error {
	var zone, secctx, labels bool
	for _, o := range objects {
		for _, f := range flows[o] {
			zone, secctx, labels = zone || f.Zone != 0, secctx || f.SecCtx != "", labels || f.Labels != ""
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"NODE", "PROTO", "TIMEOUT", "STATE", "ORIGINAL", "REPLY", "FLAGS", "MARK", "USE", "NAT"}
	head = appendIf(head, zone, "ZONE")
	head = appendIf(head, secctx, "SECCTX")
	head = appendIf(head, labels, "LABELS")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, o := range objects {
		for _, f := range flows[o] {
			flags := make([]string, len(f.Flags))
			for i, fl := range f.Flags {
				flags[i] = "[" + fl + "]"
			}
			row := []string{o, f.Proto, strconv.FormatUint(uint64(f.TimeoutSeconds), 10), dash(f.State),
				f.Orig.conntrackText(), f.Reply.conntrackText(), dash(strings.Join(flags, " ")),
				strconv.FormatUint(uint64(f.Mark), 10), strconv.FormatUint(uint64(f.Use), 10), f.NAT}
			row = appendIf(row, zone, strconv.Itoa(int(f.Zone)))
			row = appendIf(row, secctx, dash(f.SecCtx))
			row = appendIf(row, labels, dash(f.Labels))
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	return tw.Flush()
}

func appendIf(s []string, cond bool, v string) []string {
	if cond {
		return append(s, v)
	}
	return s
}

// dash keeps an empty cell visible, so columns stay readable by eye and
// by awk.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ConntrackFilter selects entries as conntrack's -s, -d, -p and
// --sport/--dport do: by the original direction (the tuple as the first
// packet had it, before any NAT). A zero field matches anything.
type ConntrackFilter struct {
	Src, Dst netip.Addr
	Proto    uint8
	// Port is either port of the original direction.
	Port uint16
}

func (f ConntrackFilter) match(e *ctEntry) bool {
	switch {
	case f.Src.IsValid() && e.orig.src != f.Src,
		f.Dst.IsValid() && e.orig.dst != f.Dst,
		f.Proto != 0 && e.proto != f.Proto:
		return false
	case f.Port != 0:
		return hasPorts(e.proto) && (e.orig.sport == f.Port || e.orig.dport == f.Port)
	}
	return true
}

// ParseConntrackFilter reads the filter flags of netlab conntrack; empty
// strings leave a field open. A bad value gets one message naming the flag
// and what it takes.
func ParseConntrackFilter(src, dst, proto, port string) (ConntrackFilter, error) {
	var f ConntrackFilter
	var err error
	if f.Src, err = parseFilterIP("--src", src); err != nil {
		return f, err
	}
	if f.Dst, err = parseFilterIP("--dst", dst); err != nil {
		return f, err
	}
	if proto != "" {
		if f.Proto, err = parseProto(proto); err != nil {
			return f, err
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return f, fmt.Errorf("--port %q: not a port (use 1-65535)", port)
		}
		if f.Proto != 0 && !hasPorts(f.Proto) {
			return f, fmt.Errorf("--port %d: %s has no ports (only %s do)", n, protoName(f.Proto), strings.Join(portProtocols(), ", "))
		}
		f.Port = uint16(n)
	}
	return f, nil
}

func parseFilterIP(flag, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s %q: not an IPv4 address (the lab's conntrack tables are IPv4, e.g. %s 10.244.0.2)", flag, s, flag)
	}
	return a, nil
}

// protocols names the IP protocols conntrack tracks, as conntrack -L names
// them; ports says the protocol's tuple has ports.
var protocols = []struct {
	num   uint8
	name  string
	ports bool
}{
	{unix.IPPROTO_ICMP, "icmp", false},
	{unix.IPPROTO_IGMP, "igmp", false},
	{unix.IPPROTO_IPIP, "ipip", false},
	{unix.IPPROTO_TCP, "tcp", true},
	{unix.IPPROTO_UDP, "udp", true},
	{unix.IPPROTO_DCCP, "dccp", true},
	{unix.IPPROTO_IPV6, "ipv6", false},
	{unix.IPPROTO_GRE, "gre", false},
	{unix.IPPROTO_ESP, "esp", false},
	{unix.IPPROTO_AH, "ah", false},
	{unix.IPPROTO_ICMPV6, "icmpv6", false},
	{unix.IPPROTO_SCTP, "sctp", true},
	{unix.IPPROTO_UDPLITE, "udplite", true},
}

func protoName(n uint8) string {
	for _, p := range protocols {
		if p.num == n {
			return p.name
		}
	}
	return strconv.Itoa(int(n))
}

func hasPorts(n uint8) bool {
	for _, p := range protocols {
		if p.num == n {
			return p.ports
		}
	}
	return false
}

func portProtocols() []string {
	var out []string
	for _, p := range protocols {
		if p.ports {
			out = append(out, p.name)
		}
	}
	return out
}

// parseProto takes a protocol name or number, as conntrack -p does.
func parseProto(s string) (uint8, error) {
	for _, p := range protocols {
		if strings.EqualFold(s, p.name) {
			return p.num, nil
		}
	}
	if n, err := strconv.ParseUint(s, 10, 8); err == nil && n > 0 {
		return uint8(n), nil
	}
	names := make([]string, len(protocols))
	for i, p := range protocols {
		names[i] = p.name
	}
	return 0, fmt.Errorf("--proto %q: unknown protocol (use %s, or a number 1-255)", s, strings.Join(names, ", "))
}

// ConntrackObjects resolves the objects netlab conntrack was given to
// read: every node of the lab when none. A pod, client, the vpc or the slb
// has a table of its own too. Every name is checked before any table is
// read, so a flush with one bad name deletes nothing.
func ConntrackObjects(l *lab.Lab, objects []string) ([]string, error) {
	var nodes []string
	for _, n := range l.Topology.Nodes {
		nodes = append(nodes, n.Name)
	}
	if len(objects) == 0 {
		return nodes, nil
	}
	for _, o := range objects {
		ns, err := l.NS(o)
		if err != nil {
			return nil, fmt.Errorf("lab %s has no node named %q (nodes: %s; a pod, client, vpc or slb works too)", l.State.Lab, o, strings.Join(nodes, ", "))
		}
		if !netns.Exists(ns) {
			return nil, fmt.Errorf("lab %s has no %s: its namespace %s does not exist", l.State.Lab, o, ns)
		}
	}
	return objects, nil
}

// Conntrack lists, per object (see ConntrackObjects), the IPv4 conntrack
// entries of its namespace that match f, ordered by original source,
// destination and protocol.
func Conntrack(l *lab.Lab, objects []string, f ConntrackFilter) (map[string][]Flow, error) {
	out := map[string][]Flow{}
	for _, o := range objects {
		flows := []Flow{}
		err := inObjectNS(l, o, func() error {
			es, err := dumpEntries()
			for _, e := range es {
				if f.match(e) {
					flows = append(flows, e.flow())
				}
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		out[o] = flows
	}
	return out, nil
}

// FlushConntrack deletes, per object, the entries of its namespace that
// match f (all of them for an empty filter) and says how many it deleted.
// An entry that expired between the dump and its delete is not counted.
func FlushConntrack(l *lab.Lab, objects []string, f ConntrackFilter) (map[string]int, error) {
	out := map[string]int{}
	for _, o := range objects {
		out[o] = 0 // an object with nothing to delete is reported too
		err := inObjectNS(l, o, func() error {
			es, err := dumpEntries()
			if err != nil {
				return err
			}
			for _, e := range es {
				if !f.match(e) {
					continue
				}
				deleted, err := deleteEntry(e)
				if err != nil {
					return err
				}
				if deleted {
					out[o]++
				}
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func inObjectNS(l *lab.Lab, object string, fn func() error) error {
	ns, err := l.NS(object)
	if err != nil {
		return err
	}
	if err := netns.Do(ns, fn); err != nil {
		return fmt.Errorf("%s: %w", object, err)
	}
	return nil
}

// lookupFlows asks one namespace's conntrack for the entries holding any
// of the tuples (in either direction), one ctnetlink GET per tuple from a
// single switch into the namespace: a GET is a hash lookup, unlike a dump,
// which walks the kernel's global table (262,144 buckets here) and costs
// milliseconds. An entry found by several tuples is listed once.
func lookupFlows(ns string, proto uint8, tuples [][2]netip.AddrPort) ([]Flow, error) {
	var out []Flow
	seen := map[uint32]bool{}
	err := netns.Do(ns, func() error {
		for _, t := range tuples {
			e, err := lookupEntry(proto, t[0], t[1])
			if err != nil {
				return err
			}
			if e != nil && !seen[e.id] {
				seen[e.id] = true
				out = append(out, e.flow())
			}
		}
		return nil
	})
	return out, err
}

// lookupEntry is one GET, in the current namespace; nil when there is no
// such entry.
func lookupEntry(proto uint8, src, dst netip.AddrPort) (*ctEntry, error) {
	req := ctRequest(nl.IPCTNL_MSG_CT_GET, unix.NLM_F_ACK)
	tuple := nl.NewRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_ORIG, nil)
	ip := tuple.AddRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_IP, nil)
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	ip.AddRtAttr(nl.CTA_IP_V4_SRC, s4[:])
	ip.AddRtAttr(nl.CTA_IP_V4_DST, d4[:])
	p := tuple.AddRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_PROTO, nil)
	p.AddRtAttr(nl.CTA_PROTO_NUM, []byte{proto})
	p.AddRtAttr(nl.CTA_PROTO_SRC_PORT, binary.BigEndian.AppendUint16(nil, src.Port()))
	p.AddRtAttr(nl.CTA_PROTO_DST_PORT, binary.BigEndian.AppendUint16(nil, dst.Port()))
	req.AddData(tuple)
	msgs, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	if errors.Is(err, syscall.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if e, err := parseEntry(m); err == nil {
			return e, nil
		}
	}
	return nil, nil
}

func ctRequest(op, flags int) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest((unix.NFNL_SUBSYS_CTNETLINK<<8)|op, flags)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_INET, Version: nl.NFNETLINK_V0})
	return req
}

// dumpEntries reads the current namespace's IPv4 table. The kernel marks a
// dump interrupted when the table changed under it; a few retries get a
// consistent one, and after that the last is as good as conntrack -L's.
func dumpEntries() ([]*ctEntry, error) {
	var (
		msgs [][]byte
		err  error
	)
	for try := 0; try < 3; try++ {
		msgs, err = ctRequest(nl.IPCTNL_MSG_CT_GET, unix.NLM_F_DUMP).Execute(unix.NETLINK_NETFILTER, 0)
		if !errors.Is(err, nl.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
		return nil, fmt.Errorf("conntrack dump: %w", err)
	}
	var out []*ctEntry
	for _, m := range msgs {
		if e, err := parseEntry(m); err == nil {
			out = append(out, e)
		}
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []*ctEntry) {
	slices.SortStableFunc(es, func(a, b *ctEntry) int {
		if c := a.orig.src.Compare(b.orig.src); c != 0 {
			return c
		}
		if c := a.orig.dst.Compare(b.orig.dst); c != 0 {
			return c
		}
		if a.proto != b.proto {
			return int(a.proto) - int(b.proto)
		}
		if a.orig.sport != b.orig.sport {
			return int(a.orig.sport) - int(b.orig.sport)
		}
		return int(a.orig.dport) - int(b.orig.dport)
	})
}

// deleteEntry deletes one entry of the current namespace by its original
// tuple, zone and id: the id makes sure a new connection that reused the
// tuple since the dump is left alone. false: it was gone already.
func deleteEntry(e *ctEntry) (bool, error) {
	req := ctRequest(nl.IPCTNL_MSG_CT_DELETE, unix.NLM_F_ACK)
	req.AddData(nl.NewRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_ORIG, e.origAttr))
	if e.zone != 0 {
		req.AddData(nl.NewRtAttr(nl.CTA_ZONE, binary.BigEndian.AppendUint16(nil, e.zone)))
	}
	req.AddData(nl.NewRtAttr(nl.CTA_ID, binary.BigEndian.AppendUint32(nil, e.id)))
	_, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	if errors.Is(err, syscall.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("conntrack delete %s: %w", e.flow(), err)
	}
	return true, nil
}

// ctEntry is one entry as ctnetlink sent it, parsed.
type ctEntry struct {
	proto       uint8
	orig, reply ctTuple
	// origAttr is the CTA_TUPLE_ORIG payload as the kernel sent it: a
	// delete names the entry by it.
	origAttr               []byte
	state                  string
	status                 uint32
	timeout, mark, use, id uint32
	zone                   uint16
	secCtx                 string
	labels                 []byte
}

type ctTuple struct {
	src, dst     netip.Addr
	sport, dport uint16
	// ports: the tuple had port attributes (GRE keys travel in them too).
	ports          bool
	icmp           *ICMPKey
	packets, bytes uint64
	counted        bool
}

// Attribute types that vishvananda/netlink/nl does not name
// (linux/netfilter/nfnetlink_conntrack.h).
const (
	ctaSecctx             = 19
	ctaSecctxName         = 1
	ctaProtoICMPID        = 4
	ctaProtoICMPType      = 5
	ctaProtoICMPCode      = 6
	ctaProtoinfoSCTPState = 1
)

// parseEntry reads one ctnetlink message (nfgenmsg + attributes).
func parseEntry(m []byte) (*ctEntry, error) {
	if len(m) < nl.SizeofNfgenmsg {
		return nil, fmt.Errorf("short conntrack message")
	}
	attrs, err := nl.ParseRouteAttr(m[nl.SizeofNfgenmsg:])
	if err != nil {
		return nil, err
	}
	e := &ctEntry{}
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type & nlaTypeMask {
		case nl.CTA_TUPLE_ORIG:
			e.proto, e.orig = parseTuple(v)
			e.origAttr = v
		case nl.CTA_TUPLE_REPLY:
			_, e.reply = parseTuple(v)
		case nl.CTA_STATUS:
			e.status = be32(v)
		case nl.CTA_PROTOINFO:
			e.state = parseProtoState(v)
		case nl.CTA_TIMEOUT:
			e.timeout = be32(v)
		case nl.CTA_MARK:
			e.mark = be32(v)
		case nl.CTA_COUNTERS_ORIG:
			e.orig.parseCounters(v)
		case nl.CTA_COUNTERS_REPLY:
			e.reply.parseCounters(v)
		case nl.CTA_USE:
			e.use = be32(v)
		case nl.CTA_ID:
			e.id = be32(v)
		case nl.CTA_ZONE:
			if len(v) >= 2 {
				e.zone = binary.BigEndian.Uint16(v)
			}
		case ctaSecctx:
			e.secCtx = parseSecCtx(v)
		case nl.CTA_LABELS:
			e.labels = v
		}
	}
	return e, nil
}

func parseTuple(b []byte) (proto uint8, t ctTuple) {
	attrs, _ := nl.ParseRouteAttr(b)
	for _, a := range attrs {
		inner, _ := nl.ParseRouteAttr(a.Value)
		switch a.Attr.Type & nlaTypeMask {
		case nl.CTA_TUPLE_IP:
			for _, x := range inner {
				addr, _ := netip.AddrFromSlice(x.Value)
				switch x.Attr.Type & nlaTypeMask {
				case nl.CTA_IP_V4_SRC:
					t.src = addr
				case nl.CTA_IP_V4_DST:
					t.dst = addr
				}
			}
		case nl.CTA_TUPLE_PROTO:
			for _, x := range inner {
				proto = t.parseProtoAttr(x, proto)
			}
		}
	}
	return proto, t
}

// parseProtoAttr reads one attribute of CTA_TUPLE_PROTO and returns the
// protocol number seen so far.
func (t *ctTuple) parseProtoAttr(x syscall.NetlinkRouteAttr, proto uint8) uint8 {
	v := x.Value
	switch x.Attr.Type & nlaTypeMask {
	case nl.CTA_PROTO_NUM:
		if len(v) > 0 {
			proto = v[0]
		}
	case nl.CTA_PROTO_SRC_PORT:
		t.sport, t.ports = be16(v), true
	case nl.CTA_PROTO_DST_PORT:
		t.dport, t.ports = be16(v), true
	case ctaProtoICMPID:
		t.icmpKey().ID = be16(v)
	case ctaProtoICMPType:
		if len(v) > 0 {
			t.icmpKey().Type = v[0]
		}
	case ctaProtoICMPCode:
		if len(v) > 0 {
			t.icmpKey().Code = v[0]
		}
	}
	return proto
}

func (t *ctTuple) icmpKey() *ICMPKey {
	if t.icmp == nil {
		t.icmp = &ICMPKey{}
	}
	return t.icmp
}

func (t *ctTuple) parseCounters(b []byte) {
	attrs, _ := nl.ParseRouteAttr(b)
	for _, a := range attrs {
		if len(a.Value) != 8 {
			continue
		}
		switch a.Attr.Type & nlaTypeMask {
		case nl.CTA_COUNTERS_PACKETS:
			t.packets, t.counted = binary.BigEndian.Uint64(a.Value), true
		case nl.CTA_COUNTERS_BYTES:
			t.bytes, t.counted = binary.BigEndian.Uint64(a.Value), true
		}
	}
}

var tcpStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

var sctpStates = []string{"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT", "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED"}

// parseProtoState reads the TCP or SCTP state out of CTA_PROTOINFO.
func parseProtoState(b []byte) string {
	attrs, _ := nl.ParseRouteAttr(b)
	for _, a := range attrs {
		var states []string
		var stateAttr uint16
		switch a.Attr.Type & nlaTypeMask {
		case nl.CTA_PROTOINFO_TCP:
			states, stateAttr = tcpStates, nl.CTA_PROTOINFO_TCP_STATE
		case nl.CTA_PROTOINFO_SCTP:
			states, stateAttr = sctpStates, ctaProtoinfoSCTPState
		default:
			continue
		}
		inner, _ := nl.ParseRouteAttr(a.Value)
		for _, x := range inner {
			if x.Attr.Type&nlaTypeMask == stateAttr && len(x.Value) == 1 && int(x.Value[0]) < len(states) {
				return states[x.Value[0]]
			}
		}
	}
	return ""
}

func parseSecCtx(b []byte) string {
	attrs, _ := nl.ParseRouteAttr(b)
	for _, a := range attrs {
		if a.Attr.Type&nlaTypeMask == ctaSecctxName {
			return strings.TrimRight(string(a.Value), "\x00")
		}
	}
	return ""
}

func be16(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func be32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// statusBits names the bits of enum ip_conntrack_status
// (linux/netfilter/nf_conntrack_common.h), bit 0 first.
var statusBits = []string{"EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT", "SEQ_ADJUST",
	"SRC_NAT_DONE", "DST_NAT_DONE", "DYING", "FIXED_TIMEOUT", "TEMPLATE", "NAT_CLASH", "HELPER", "OFFLOAD", "HW_OFFLOAD"}

const (
	ipsSeenReply = 1 << 1
	ipsAssured   = 1 << 2
	ipsOffload   = 1 << 14
	ipsHWOffload = 1 << 15
)

func statusNames(s uint32) []string {
	var out []string
	for i, name := range statusBits {
		if s&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// statusFlags are the status words conntrack -L prints, in its order.
func statusFlags(s uint32) []string {
	var out []string
	if s&ipsSeenReply == 0 {
		out = append(out, "UNREPLIED")
	}
	if s&ipsAssured != 0 {
		out = append(out, "ASSURED")
	}
	if s&ipsOffload != 0 {
		out = append(out, "OFFLOAD")
	}
	if s&ipsHWOffload != 0 {
		out = append(out, "HW_OFFLOAD")
	}
	return out
}

// flow is the entry as netlab shows it. Its NAT reading compares the
// tuples: the reply comes from somewhere other than the original
// destination (DNAT), or goes to somewhere other than the original source
// (SNAT). (The status bits would miss IPVS, which rewrites the reply tuple
// without netfilter NAT.)
func (e *ctEntry) flow() Flow {
	f := Flow{
		Proto: protoName(e.proto), ProtoNum: e.proto, State: e.state, TimeoutSeconds: e.timeout,
		Orig: e.orig.tuple(e.proto), Reply: e.reply.tuple(e.proto),
		Flags: statusFlags(e.status), Status: statusNames(e.status),
		Mark: e.mark, Zone: e.zone, Use: e.use, ID: e.id, SecCtx: e.secCtx,
		NAT: "none",
	}
	if slices.ContainsFunc(e.labels, func(b byte) bool { return b != 0 }) {
		f.Labels = hex.EncodeToString(e.labels)
	}
	dnat := e.reply.src != e.orig.dst || e.reply.sport != e.orig.dport
	snat := e.reply.dst != e.orig.src || e.reply.dport != e.orig.sport
	switch {
	case dnat && snat:
		f.NAT = "dnat+snat"
	case dnat:
		f.NAT = "dnat"
	case snat:
		f.NAT = "snat"
	}
	return f
}

func (t ctTuple) tuple(proto uint8) Tuple {
	out := Tuple{Src: t.src.String(), Dst: t.dst.String(), ICMP: t.icmp}
	switch {
	case proto == unix.IPPROTO_GRE && t.ports:
		out.GRE = &GREKeys{SrcKey: t.sport, DstKey: t.dport}
	case t.ports && hasPorts(proto):
		out.Src = netip.AddrPortFrom(t.src, t.sport).String()
		out.Dst = netip.AddrPortFrom(t.dst, t.dport).String()
	}
	if t.counted {
		p, b := t.packets, t.bytes
		out.Packets, out.Bytes = &p, &b
	}
	return out
}

// nlaTypeMask strips the nested / byte-order flags off an attribute type.
const nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
