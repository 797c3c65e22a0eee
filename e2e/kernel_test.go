//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/kernel"
)

// TestGuestKernelFeatures proves, with real traffic, the kernel features the host kernel lacks and the
// qemu guest (scripts/vmtest) has: dummy devices, ipvlan L2, 802.1Q sub-interfaces and an IPVS NAT
// virtual server. Natively it skips with the reason; in the guest it must pass.
func TestGuestKernelFeatures(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireFeatures(t, kernel.IPVS, kernel.Ipvlan, kernel.VLAN, kernel.Dummy)

	t.Run("dummy", func(t *testing.T) {
		l := newKfLab(t)
		node := l.ns("node")
		l.addLink(node, &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "kube-ipvs0"}})
		l.addAddr(node, "kube-ipvs0", "10.96.0.1/32")
		l.up(node, "kube-ipvs0")
		link := l.link(node, "kube-ipvs0")
		if link.Type() != "dummy" {
			t.Fatalf("kube-ipvs0 is a %q, want dummy", link.Type())
		}
		// an address on a dummy device is local: a server bound to it answers from the same namespace
		srv := l.serve(node, "10.96.0.1:80")
		l.expectClient(node, srv, "", "10.96.0.1")
	})

	t.Run("ipvlan-l2", func(t *testing.T) {
		// Terway's ipvlan mode: the ENI (here a dummy, or a veth) in the node, one ipvlan L2 slave per
		// pod, created in the node and moved into the pod's namespace; pods on the same ENI talk
		// through the ipvlan switch.
		l := newKfLab(t)
		node, pod1, pod2 := l.ns("node"), l.ns("pod1"), l.ns("pod2")
		l.addLink(node, &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}})
		l.up(node, "eth1")
		eni := l.link(node, "eth1")
		for i, pod := range []netns.NsHandle{pod1, pod2} {
			name := fmt.Sprintf("ipvl%d", i+1)
			l.addLink(node, &netlink.IPVlan{
				LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: eni.Attrs().Index},
				Mode:      netlink.IPVLAN_MODE_L2,
			})
			l.moveLink(node, name, pod)
			l.addAddr(pod, name, fmt.Sprintf("10.0.3.%d/24", i+2))
			l.up(pod, name)
			iv, ok := l.link(pod, name).(*netlink.IPVlan)
			if !ok || iv.Mode != netlink.IPVLAN_MODE_L2 {
				t.Fatalf("%s in the pod namespace is %#v, want an ipvlan in L2 mode", name, l.link(pod, name))
			}
		}
		srv := l.serve(pod2, "10.0.3.3:8080")
		l.expectClient(pod1, srv, "", "10.0.3.2")
	})

	t.Run("vlan-8021q", func(t *testing.T) {
		// Terway's trunk mode: 802.1Q sub-interfaces on both ends of a link; only tagged traffic for
		// VLAN 100 reaches the other side's eth0.100.
		l := newKfLab(t)
		a, b := l.ns("a"), l.ns("b")
		l.veth(a, "eth0", b, "eth0")
		for i, ns := range []netns.NsHandle{a, b} {
			parent := l.link(ns, "eth0")
			l.addLink(ns, &netlink.Vlan{
				LinkAttrs: netlink.LinkAttrs{Name: "eth0.100", ParentIndex: parent.Attrs().Index},
				VlanId:    100,
			})
			l.addAddr(ns, "eth0.100", fmt.Sprintf("10.0.100.%d/24", i+1))
			l.up(ns, "eth0.100")
			v, ok := l.link(ns, "eth0.100").(*netlink.Vlan)
			if !ok || v.VlanId != 100 {
				t.Fatalf("eth0.100 is %#v, want an 802.1Q VLAN 100", l.link(ns, "eth0.100"))
			}
		}
		srv := l.serve(b, "10.0.100.2:8080")
		l.expectClient(a, srv, "", "10.0.100.1")
	})

	t.Run("ipvs-nat", func(t *testing.T) {
		// kube-proxy's IPVS mode: the virtual IP on a dummy kube-ipvs0 in the "router" (node)
		// namespace, an IPVS virtual service in NAT (masq) mode in front of a real server in another
		// namespace; the client's connection to the VIP reaches the server, which sees the client's
		// own address (NAT mode rewrites only the destination).
		l := newKfLab(t)
		client, router, server := l.ns("client"), l.ns("router"), l.ns("server")
		l.veth(client, "eth0", router, "vc")
		l.veth(server, "eth0", router, "vs")
		l.addAddr(client, "eth0", "10.0.1.2/24")
		l.addAddr(router, "vc", "10.0.1.1/24")
		l.addAddr(server, "eth0", "10.0.2.2/24")
		l.addAddr(router, "vs", "10.0.2.1/24")
		l.defaultRoute(client, "10.0.1.1")
		l.defaultRoute(server, "10.0.2.1")
		l.addLink(router, &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "kube-ipvs0"}})
		l.addAddr(router, "kube-ipvs0", "10.96.0.10/32")
		l.sysctl(router, "net/ipv4/ip_forward", "1")
		l.sysctl(router, "net/ipv4/vs/conntrack", "1") // exists only once ip_vs is loaded

		var h *ipvs.Handle
		l.in(router, func() (err error) { h, err = ipvs.New(""); return err }) // a socket in router
		t.Cleanup(h.Close)
		svc := &ipvs.Service{
			Address: net.ParseIP("10.96.0.10").To4(), Protocol: unix.IPPROTO_TCP, Port: 80,
			SchedName: "rr", AddressFamily: unix.AF_INET,
		}
		if err := h.NewService(svc); err != nil {
			t.Fatalf("ipvs: add virtual service 10.96.0.10:80: %v", err)
		}
		if err := h.NewDestination(svc, &ipvs.Destination{
			Address: net.ParseIP("10.0.2.2").To4(), Port: 8080, Weight: 1,
			ConnectionFlags: ipvs.ConnectionFlagMasq, AddressFamily: unix.AF_INET,
		}); err != nil {
			t.Fatalf("ipvs: add real server 10.0.2.2:8080: %v", err)
		}
		dsts, err := h.GetDestinations(svc)
		if err != nil || len(dsts) != 1 || dsts[0].ConnectionFlags&ipvs.ConnectionFlagFwdMask != ipvs.ConnectionFlagMasq {
			t.Fatalf("ipvs destinations = %+v, %v; want one masq real server", dsts, err)
		}

		srv := l.serve(server, "10.0.2.2:8080")
		l.expectClient(client, srv, "10.96.0.10:80", "10.0.1.2")

		// the director's connection table shows the connection at once (its statistics lag ~2 s)
		var conns string
		l.in(router, func() error {
			b, err := os.ReadFile("/proc/thread-self/net/ip_vs_conn")
			conns = string(b)
			return err
		})
		t.Logf("router /proc/net/ip_vs_conn:\n%s", conns)
		// hex: client 0A000102, VIP 0A60000A:0050, real server 0A000202:1F90
		if !strings.Contains(conns, "0A60000A 0050 0A000202 1F90") || !strings.Contains(conns, "0A000102") {
			t.Errorf("no IPVS connection client 10.0.1.2 → 10.96.0.10:80 → 10.0.2.2:8080 in ip_vs_conn")
		}
	})
}

// kfLab is a handful of unnamed network namespaces for one (sub)test, held by file descriptors:
// nothing is named in /run/netns and nothing can be left behind; closing the descriptors (t.Cleanup)
// and the sockets opened in them deletes the namespaces with all their devices.
type kfLab struct {
	t      *testing.T
	prefix string
	names  map[netns.NsHandle]string
	nl     map[netns.NsHandle]*netlink.Handle
}

func newKfLab(t *testing.T) *kfLab {
	return &kfLab{t: t, prefix: testenv.Prefix(t), names: map[netns.NsHandle]string{}, nl: map[netns.NsHandle]*netlink.Handle{}}
}

// ns creates a fresh network namespace, with lo up.
func (l *kfLab) ns(name string) netns.NsHandle {
	l.t.Helper()
	type result struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// unshare on a locked thread that is never unlocked: the runtime ends the thread when the
		// goroutine returns, so no other goroutine ever runs in the new namespace by accident
		runtime.LockOSThread()
		ns, err := netns.New()
		ch <- result{ns, err}
	}()
	r := <-ch
	if r.err != nil {
		l.t.Fatalf("new network namespace %s: %v", name, r.err)
	}
	l.t.Cleanup(func() { r.ns.Close() })
	l.names[r.ns] = l.prefix + "-" + name
	h, err := netlink.NewHandleAt(r.ns)
	if err != nil {
		l.t.Fatalf("netlink handle in %s: %v", l.names[r.ns], err)
	}
	l.t.Cleanup(h.Close)
	l.nl[r.ns] = h
	l.up(r.ns, "lo")
	return r.ns
}

// in runs f on a thread inside ns; sockets f opens stay in ns.
func (l *kfLab) in(ns netns.NsHandle, f func() error) {
	l.t.Helper()
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(ns); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- f()
	}()
	if err := <-ch; err != nil {
		l.t.Fatalf("in %s: %v", l.names[ns], err)
	}
}

func (l *kfLab) addLink(ns netns.NsHandle, link netlink.Link) {
	l.t.Helper()
	if err := l.nl[ns].LinkAdd(link); err != nil {
		l.t.Fatalf("%s: add %s %s: %v", l.names[ns], link.Type(), link.Attrs().Name, err)
	}
}

func (l *kfLab) link(ns netns.NsHandle, name string) netlink.Link {
	l.t.Helper()
	link, err := l.nl[ns].LinkByName(name)
	if err != nil {
		l.t.Fatalf("%s: link %s: %v", l.names[ns], name, err)
	}
	return link
}

func (l *kfLab) up(ns netns.NsHandle, name string) {
	l.t.Helper()
	if err := l.nl[ns].LinkSetUp(l.link(ns, name)); err != nil {
		l.t.Fatalf("%s: set %s up: %v", l.names[ns], name, err)
	}
}

func (l *kfLab) addAddr(ns netns.NsHandle, name, cidr string) {
	l.t.Helper()
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.nl[ns].AddrAdd(l.link(ns, name), a); err != nil {
		l.t.Fatalf("%s: add %s to %s: %v", l.names[ns], cidr, name, err)
	}
}

func (l *kfLab) moveLink(from netns.NsHandle, name string, to netns.NsHandle) {
	l.t.Helper()
	if err := l.nl[from].LinkSetNsFd(l.link(from, name), int(to)); err != nil {
		l.t.Fatalf("move %s from %s to %s: %v", name, l.names[from], l.names[to], err)
	}
}

// veth connects two namespaces with a veth pair, both ends up.
func (l *kfLab) veth(a netns.NsHandle, aName string, b netns.NsHandle, bName string) {
	l.t.Helper()
	l.addLink(a, &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: aName}, PeerName: bName, PeerNamespace: netlink.NsFd(int(b)),
	})
	l.up(a, aName)
	l.up(b, bName)
}

func (l *kfLab) defaultRoute(ns netns.NsHandle, gw string) {
	l.t.Helper()
	if err := l.nl[ns].RouteAdd(&netlink.Route{Gw: net.ParseIP(gw)}); err != nil {
		l.t.Fatalf("%s: default route via %s: %v", l.names[ns], gw, err)
	}
}

func (l *kfLab) sysctl(ns netns.NsHandle, key, value string) {
	l.t.Helper()
	// /proc/sys/net is per network namespace of the calling thread
	l.in(ns, func() error { return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644) })
}

// serve starts a TCP server in ns that writes the client address it sees and closes; it returns the
// address it listens on.
func (l *kfLab) serve(ns netns.NsHandle, addr string) string {
	l.t.Helper()
	var ln net.Listener
	l.in(ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return err })
	l.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr())
			c.Close()
		}
	}()
	return addr
}

// expectClient dials target (srv when empty) from ns and asserts the server saw the client's own
// address wantIP.
func (l *kfLab) expectClient(ns netns.NsHandle, srv, target, wantIP string) {
	l.t.Helper()
	if target == "" {
		target = srv
	}
	var conn net.Conn
	l.in(ns, func() (err error) { conn, err = net.DialTimeout("tcp4", target, 10*time.Second); return err })
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil {
		l.t.Fatalf("read from %s: %v", target, err)
	}
	seen := strings.TrimSpace(string(b))
	host, _, err := net.SplitHostPort(seen)
	if err != nil {
		l.t.Fatalf("server %s answered %q, want the client address", srv, seen)
	}
	local := conn.LocalAddr().(*net.TCPAddr)
	l.t.Logf("%s → %s (server %s) connected from %s; the server saw %s", l.names[ns], target, srv, local, seen)
	if host != wantIP || host != local.IP.String() {
		l.t.Fatalf("the server saw the client as %s, want the client's own address %s (dialled from %s)", seen, wantIP, local)
	}
	if seen != local.String() {
		l.t.Errorf("the server saw %s, the client's socket is %s (port changed)", seen, local)
	}
}
