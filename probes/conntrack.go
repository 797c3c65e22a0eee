package probes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/apply"
)

// lookupFlows asks one namespace's conntrack for the entries holding any
// of the tuples (in either direction), one ctnetlink GET per tuple from a
// single switch into the namespace: a GET is a hash lookup, unlike a dump,
// which walks the kernel's global table (262,144 buckets here) and costs
// milliseconds. An entry found by several tuples is listed once.
func lookupFlows(ns string, proto uint8, tuples [][2]netip.AddrPort) ([]Flow, error) {
	var out []Flow
	seen := map[Tuple]bool{}
	err := apply.Do(ns, func() error {
		for _, t := range tuples {
			f, err := lookupFlow(proto, t[0], t[1])
			if err != nil {
				return err
			}
			if f != nil && !seen[f.Orig] {
				seen[f.Orig] = true
				out = append(out, *f)
			}
		}
		return nil
	})
	return out, err
}

// lookupFlow is one GET, in the current namespace; nil when there is no
// such entry.
func lookupFlow(proto uint8, src, dst netip.AddrPort) (*Flow, error) {
	req := nl.NewNetlinkRequest((unix.NFNL_SUBSYS_CTNETLINK<<8)|nl.IPCTNL_MSG_CT_GET, unix.NLM_F_ACK)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_INET, Version: nl.NFNETLINK_V0})
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
		if f, err := parseFlow(m); err == nil {
			return f, nil
		}
	}
	return nil, nil
}

// parseFlow reads one ctnetlink message (nfgenmsg + attributes).
func parseFlow(m []byte) (*Flow, error) {
	if len(m) < nl.SizeofNfgenmsg {
		return nil, fmt.Errorf("short conntrack message")
	}
	attrs, err := nl.ParseRouteAttr(m[nl.SizeofNfgenmsg:])
	if err != nil {
		return nil, err
	}
	var (
		proto          uint8
		os, od, rs, rd netip.AddrPort
		state          string
		mark           uint32
	)
	for _, a := range attrs {
		switch a.Attr.Type & nlaTypeMask {
		case nl.CTA_TUPLE_ORIG:
			proto, os, od = parseTuple(a.Value)
		case nl.CTA_TUPLE_REPLY:
			_, rs, rd = parseTuple(a.Value)
		case nl.CTA_MARK:
			if len(a.Value) == 4 {
				mark = binary.BigEndian.Uint32(a.Value)
			}
		case nl.CTA_PROTOINFO:
			state = parseTCPState(a.Value)
		}
	}
	f := newFlow(proto, os, od, rs, rd, state, mark)
	return &f, nil
}

func parseTuple(b []byte) (proto uint8, src, dst netip.AddrPort) {
	attrs, _ := nl.ParseRouteAttr(b)
	var sa, da netip.Addr
	var sp, dp uint16
	for _, a := range attrs {
		inner, _ := nl.ParseRouteAttr(a.Value)
		switch a.Attr.Type & nlaTypeMask {
		case nl.CTA_TUPLE_IP:
			for _, x := range inner {
				addr, _ := netip.AddrFromSlice(x.Value)
				switch x.Attr.Type & nlaTypeMask {
				case nl.CTA_IP_V4_SRC:
					sa = addr
				case nl.CTA_IP_V4_DST:
					da = addr
				}
			}
		case nl.CTA_TUPLE_PROTO:
			for _, x := range inner {
				switch x.Attr.Type & nlaTypeMask {
				case nl.CTA_PROTO_NUM:
					if len(x.Value) > 0 {
						proto = x.Value[0]
					}
				case nl.CTA_PROTO_SRC_PORT:
					if len(x.Value) == 2 {
						sp = binary.BigEndian.Uint16(x.Value)
					}
				case nl.CTA_PROTO_DST_PORT:
					if len(x.Value) == 2 {
						dp = binary.BigEndian.Uint16(x.Value)
					}
				}
			}
		}
	}
	return proto, netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp)
}

func parseTCPState(b []byte) string {
	attrs, _ := nl.ParseRouteAttr(b)
	for _, a := range attrs {
		if a.Attr.Type&nlaTypeMask != nl.CTA_PROTOINFO_TCP {
			continue
		}
		inner, _ := nl.ParseRouteAttr(a.Value)
		for _, x := range inner {
			if x.Attr.Type&nlaTypeMask == nl.CTA_PROTOINFO_TCP_STATE && len(x.Value) == 1 && int(x.Value[0]) < len(tcpStates) {
				return tcpStates[x.Value[0]]
			}
		}
	}
	return ""
}

// nlaTypeMask strips the nested / byte-order flags off an attribute type.
const nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
