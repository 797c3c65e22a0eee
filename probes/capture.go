package probes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/netns"
)

// A capture watches every device of a set of namespaces through one
// AF_PACKET socket per namespace, the way tcpdump -i any would. What it
// sees is what the kernel really did with a probe's packets: which device
// each packet left or entered, in which namespace, with which addresses
// (after any NAT so far). The socket of a namespace queues its packets in
// the order the kernel handed them over, which is the order they crossed
// that namespace's devices; tracing relies on that.
type capture struct {
	socks []*nsSocket
}

type nsSocket struct {
	ns   string
	fd   int
	devs map[int]string // ifindex -> name, read when the socket opened
}

// captured is one packet seen on one device.
type captured struct {
	ns, dev string
	out     bool // sent by the device (PACKET_OUTGOING), else received
	// vlan is the frame's 802.1Q VLAN id (0: untagged). The kernel keeps
	// a tag out of the frame's bytes on devices that offload it (veth
	// does), so it comes from the socket's PACKET_AUXDATA.
	vlan uint16
	pkt  packet
}

// snapLen is how much of each packet is kept: enough for Ethernet + IPv4 +
// UDP + VXLAN + inner Ethernet + IPv4 + TCP with options.
const snapLen = 200

// ipv4Only keeps IPv4 frames (cut to snapLen) and drops the rest, ARP
// above all: the lab's neighbour traffic is not part of any flow.
var ipv4Only = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 12},                           // A = ethertype
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.ETH_P_IP}, // IPv4?
	{Code: unix.BPF_RET | unix.BPF_K, K: snapLen},                                    // keep snapLen bytes
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},                                          // drop
}

// openCapture opens a capture on every namespace in nss (in parallel: each
// needs a thread switched into its namespace).
func openCapture(nss []string) (*capture, error) {
	c := &capture{socks: make([]*nsSocket, len(nss))}
	errs := make([]error, len(nss))
	var wg sync.WaitGroup
	for i, ns := range nss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.socks[i], errs[i] = openSocket(ns)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func openSocket(ns string) (*nsSocket, error) {
	s := &nsSocket{ns: ns, fd: -1, devs: map[int]string{}}
	err := netns.Do(ns, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			s.devs[l.Attrs().Index] = l.Attrs().Name
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return wrapErr("socket(AF_PACKET)", err)
		}
		s.fd = fd
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return wrapErr("PACKET_AUXDATA", err)
		}
		prog := unix.SockFprog{Len: uint16(len(ipv4Only)), Filter: &ipv4Only[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			return wrapErr("attach filter", err)
		}
		return nil
	})
	if err != nil {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
		return nil, fmt.Errorf("capture in %s: %w", ns, err)
	}
	return s, nil
}

func wrapErr(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// drain discards what is queued (packets from before the probe).
func (c *capture) drain() {
	buf := make([]byte, snapLen)
	for _, s := range c.socks {
		for {
			if _, _, err := unix.Recvfrom(s.fd, buf, 0); err != nil {
				break
			}
		}
	}
}

// collect reads everything queued, per namespace in arrival order.
func (c *capture) collect() map[string][]captured {
	out := map[string][]captured{}
	buf := make([]byte, snapLen)
	oob := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	for _, s := range c.socks {
		for {
			n, oobn, _, from, err := unix.Recvmsg(s.fd, buf, oob, 0)
			if err != nil {
				break
			}
			ll, ok := from.(*unix.SockaddrLinklayer)
			if !ok {
				continue
			}
			p, ok := parseFrame(buf[:n])
			if !ok {
				continue
			}
			dev := s.devs[ll.Ifindex]
			if dev == "" {
				dev = fmt.Sprintf("if%d", ll.Ifindex)
			}
			out[s.ns] = append(out[s.ns], captured{ns: s.ns, dev: dev, out: ll.Pkttype == unix.PACKET_OUTGOING, vlan: vlanID(oob[:oobn]), pkt: p})
		}
	}
	return out
}

// vlanID reads the VLAN id from a packet socket's PACKET_AUXDATA control
// message, 0 when the frame carried no tag.
func vlanID(oob []byte) uint16 {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA || len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
		if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
			return aux.Vlan_tci & 0x0fff
		}
	}
	return 0
}

// close closes the sockets in parallel: closing a packet socket waits for
// an RCU grace period (synchronize_net), about 10 ms each one after the
// other, while parallel closes share their waits.
func (c *capture) close() {
	var wg sync.WaitGroup
	for _, s := range c.socks {
		if s != nil && s.fd >= 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				unix.Close(s.fd)
			}()
		}
	}
	wg.Wait()
}

// packet is what tracing needs of an IPv4 packet: its addresses, and what
// identifies it across NAT (the IP ID and the TCP sequence numbers, which
// neither iptables NAT nor IPVS rewrites; for UDP the IP ID and length). A
// VXLAN packet is described by
// its inner packet, with the outer addresses kept in Outer; an ICMP error
// by the packet it quotes, in Quoted.
type packet struct {
	Proto    string // tcp | udp | icmp
	Src, Dst netip.AddrPort
	ID       uint16
	Len      uint16 // IP total length (NAT keeps it; tells UDP datagrams apart)
	Seq, Ack uint32
	Flags    uint8 // TCP flags
	ICMP     [2]uint8
	Quoted   *packet
	Outer    *[2]netip.AddrPort
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// vxlanPort is the UDP port VXLAN frames are decoded on (flannel's
// kernel-default 8472, and the IANA 4789).
func isVXLANPort(p uint16) bool { return p == 8472 || p == 4789 }

func parseFrame(b []byte) (packet, bool) {
	if len(b) < 14 || binary.BigEndian.Uint16(b[12:14]) != unix.ETH_P_IP {
		return packet{}, false
	}
	return parseIPv4(b[14:], true)
}

// parseIPv4 reads an IPv4 header and what follows it; quoted headers (in
// an ICMP error) may be cut after 8 bytes of transport header.
func parseIPv4(b []byte, decap bool) (packet, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return packet{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return packet{}, false
	}
	p := packet{ID: binary.BigEndian.Uint16(b[4:6]), Len: binary.BigEndian.Uint16(b[2:4])}
	src, _ := netip.AddrFromSlice(b[12:16])
	dst, _ := netip.AddrFromSlice(b[16:20])
	l4 := b[ihl:]
	var sport, dport uint16
	if len(l4) >= 4 {
		sport, dport = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	switch b[9] {
	case unix.IPPROTO_TCP:
		p.Proto = "tcp"
		if len(l4) >= 8 {
			p.Seq = binary.BigEndian.Uint32(l4[4:8])
		}
		if len(l4) >= 14 {
			p.Ack = binary.BigEndian.Uint32(l4[8:12])
			p.Flags = l4[13]
		}
	case unix.IPPROTO_UDP:
		p.Proto = "udp"
		if decap && isVXLANPort(dport) && len(l4) >= 8+8+14 {
			inner := l4[8+8:]
			if binary.BigEndian.Uint16(inner[12:14]) == unix.ETH_P_IP {
				if in, ok := parseIPv4(inner[14:], false); ok {
					in.Outer = &[2]netip.AddrPort{netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)}
					return in, true
				}
			}
		}
	case unix.IPPROTO_ICMP:
		p.Proto = "icmp"
		sport, dport = 0, 0
		if len(l4) >= 2 {
			p.ICMP = [2]uint8{l4[0], l4[1]}
		}
		// Destination unreachable (3) and time exceeded (11) quote the
		// packet they are about.
		if len(l4) >= 8+20+8 && (l4[0] == 3 || l4[0] == 11) {
			if q, ok := parseIPv4(l4[8:], false); ok {
				p.Quoted = &q
			}
		}
	default:
		return packet{}, false
	}
	p.Src, p.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	return p, true
}
