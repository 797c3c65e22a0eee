package daemon

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
)

// userspaceProxy is kube-proxy's userspace mode doing its own work: one
// socket per Service port on a node, accepting what the KUBE-PORTALS /
// KUBE-NODEPORT rules REDIRECT or DNAT to it and copying it to an endpoint
// it picks round-robin (or by client IP with session affinity), from the
// node's own stack. The backend therefore sees the node: its docker0 / cni0
// address for a local endpoint, its flannel.1 address for a remote one.
type userspaceProxy struct {
	ns   string
	spec plan.Proxy
	ln   net.Listener
	pc   *net.UDPConn
	next atomic.Uint64

	mu       sync.Mutex
	affinity map[netip.Addr]affinityEntry
}

type affinityEntry struct {
	endpoint string
	until    time.Time
}

func openUserspaceProxy(ns string, spec plan.Proxy) (*userspaceProxy, error) {
	p := &userspaceProxy{ns: ns, spec: spec, affinity: map[netip.Addr]affinityEntry{}}
	err := netns.Do(ns, func() error {
		var err error
		if spec.Protocol == "UDP" {
			p.pc, err = net.ListenUDP("udp4", &net.UDPAddr{Port: spec.Port})
		} else {
			p.ln, err = net.Listen("tcp4", (&net.TCPAddr{Port: spec.Port}).String())
		}
		return err
	})
	return p, err
}

func (p *userspaceProxy) close() {
	if p.ln != nil {
		p.ln.Close()
	}
	if p.pc != nil {
		p.pc.Close()
	}
}

// pick chooses the endpoint for a client, as LoadBalancerRR does.
func (p *userspaceProxy) pick(client netip.Addr) (string, bool) {
	eps := p.spec.Endpoints
	if len(eps) == 0 {
		return "", false
	}
	if p.spec.AffinitySeconds > 0 {
		p.mu.Lock()
		defer p.mu.Unlock()
		if e, ok := p.affinity[client]; ok && time.Now().Before(e.until) {
			return e.endpoint, true
		}
	}
	ep := eps[int(p.next.Add(1)-1)%len(eps)]
	if p.spec.AffinitySeconds > 0 {
		p.affinity[client] = affinityEntry{ep, time.Now().Add(time.Duration(p.spec.AffinitySeconds) * time.Second)}
	}
	return ep, true
}

// dial connects to an endpoint from the node's namespace.
func (p *userspaceProxy) dial(network, ep string) (net.Conn, error) {
	var c net.Conn
	err := netns.Do(p.ns, func() error {
		var err error
		c, err = net.DialTimeout(network, ep, 5*time.Second)
		return err
	})
	return c, err
}

func (p *userspaceProxy) serve() {
	if p.pc != nil {
		p.serveUDP()
		return
	}
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go p.relay(c)
	}
}

// relay copies one accepted connection to an endpoint and back. Without
// an endpoint the connection is closed at once: the client saw it
// accepted (userspace mode never refuses).
func (p *userspaceProxy) relay(c net.Conn) {
	defer c.Close()
	client, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	ep, ok := p.pick(client.Addr())
	if !ok {
		return
	}
	b, err := p.dial("tcp4", ep)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(b, c)
	go cp(c, b)
	<-done
	<-done
}

// serveUDP forwards each datagram to an endpoint and its answer back
// (kube-proxy keeps a per-client socket alive for udpIdleTimeout; one
// exchange per datagram is enough for probes).
func (p *userspaceProxy) serveUDP() {
	buf := make([]byte, 2048)
	for {
		n, from, err := p.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ep, ok := p.pick(from.Addr())
		if !ok {
			continue
		}
		msg := append([]byte(nil), buf[:n]...)
		go func() {
			b, err := p.dial("udp4", ep)
			if err != nil {
				return
			}
			defer b.Close()
			_ = b.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := b.Write(msg); err != nil {
				return
			}
			ans := make([]byte, 2048)
			m, err := b.Read(ans)
			if err != nil {
				return
			}
			_, _ = p.pc.WriteToUDPAddrPort(ans[:m], from)
		}()
	}
}
