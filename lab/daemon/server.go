// Package daemon is the lab daemon's work: the app servers it runs in every
// pod and serving outside host, and kube-proxy's userspace proxier in
// userspace mode. It serves what probes observe; probes does not import it,
// and the two share only the app protocol (lab/daemon/wire).
package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/daemon/wire"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/state"
)

// rawWait is how long a server waits for a first line before answering
// anyway (a bare `nc` sends nothing).
const rawWait = 500 * time.Millisecond

type server struct {
	pod, node string
	ln        net.Listener
	pc        *net.UDPConn // the same port over UDP
}

// Run is the lab daemon: it opens every pod's ports inside the pod's
// namespace (and those of outside hosts that serve, in theirs), tells its parent it is ready on the ready file, and serves
// until SIGTERM, SIGINT, or the lab's state directory disappears (so a
// daemon orphaned by a crash does not outlive its lab).
func Run(labName string, ready *os.File) error {
	self, err := state.Self()
	if err != nil {
		return err
	}
	if err := state.WriteProcess(state.DaemonPIDFile(labName), self); err != nil {
		return err
	}
	l, err := lab.Open(labName)
	if err != nil {
		return err
	}
	var servers []*server
	for _, p := range lab.Servers(l.Topology) {
		ns, err := l.NS(p.Name)
		if err != nil {
			return err
		}
		err = netns.Do(ns, func() error {
			for _, port := range p.Ports {
				ln, err := net.Listen("tcp4", fmt.Sprintf(":%d", port))
				if err != nil {
					return fmt.Errorf("%s: listen :%d: %w", p.Name, port, err)
				}
				pc, err := listenUDP(port)
				if err != nil {
					ln.Close()
					return fmt.Errorf("%s: listen :%d/udp: %w", p.Name, port, err)
				}
				servers = append(servers, &server{pod: p.Name, node: p.Node, ln: ln, pc: pc})
			}
			return nil
		})
		if err != nil {
			if ready != nil {
				fmt.Fprintf(ready, "error: %v\n", err)
			}
			return err
		}
	}
	// kube-proxy userspace mode: the proxy sockets on every node, as up
	// compiled them.
	p, err := l.PlanWith(state.PartProxies)
	if err != nil {
		if ready != nil {
			fmt.Fprintf(ready, "error: %v\n", err)
		}
		return err
	}
	var proxies []*userspaceProxy
	for _, ns := range p.Namespaces {
		for _, spec := range ns.UserspaceProxies {
			px, err := openUserspaceProxy(ns.Name, spec)
			if err != nil {
				if ready != nil {
					fmt.Fprintf(ready, "error: kube-proxy on %s: listen :%d for %s: %v\n", ns.Owner, spec.Port, spec.Service, err)
				}
				return err
			}
			proxies = append(proxies, px)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			s.serve()
		}()
		go func() {
			defer wg.Done()
			s.serveUDP()
		}()
	}
	for _, p := range proxies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serve()
		}()
	}
	if ready != nil {
		fmt.Fprintln(ready, "ready")
		ready.Close()
	}
	fmt.Printf("netlab daemon for lab %s: serving %d ports\n", labName, len(servers))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if _, err := os.Stat(state.LabDir(labName)); err != nil {
				fmt.Println("lab state is gone; exiting")
				break loop
			}
		}
	}
	for _, s := range servers {
		s.ln.Close()
		s.pc.Close()
	}
	for _, p := range proxies {
		p.close()
	}
	wg.Wait()
	return nil
}

func (s *server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go s.handle(c)
	}
}

// handle answers one connection: an HTTP request gets an HTTP response with
// the JSON body (curl works), anything else the JSON line.
func (s *server) handle(c net.Conn) {
	defer c.Close()
	ans := wire.Answer{Pod: s.pod, Node: s.node, Client: c.RemoteAddr().String(), Local: c.LocalAddr().String()}
	body, _ := json.Marshal(ans)
	_ = c.SetReadDeadline(time.Now().Add(rawWait))
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if isHTTP(line) {
		// Read the headers first: closing with unread input sends a reset
		// that can cut the response short on the client's side.
		for {
			h, err := br.ReadString('\n')
			if err != nil || strings.TrimSpace(h) == "" {
				break
			}
		}
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n", len(body)+1, body)
		return
	}
	c.Write(append(body, '\n'))
}

// listenUDP opens a wildcard UDP socket that learns each datagram's
// destination address (IP_PKTINFO), so that its answer leaves from the
// address the client sent to: a client's connected socket takes nothing
// else, and a node has many addresses.
func listenUDP(port int) (*net.UDPConn, error) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return nil, err
	}
	raw, err := pc.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		})
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		pc.Close()
		return nil, err
	}
	return pc, nil
}

// serveUDP answers every datagram with the same JSON as over TCP.
func (s *server) serveUDP() {
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		_, oobn, _, from, err := s.pc.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var to netip.Addr
		var reply []byte
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo {
					info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&m.Data[0]))
					to = netip.AddrFrom4(info.Addr)
					// Answer from that address (ipi_spec_dst).
					reply = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: info.Addr})
				}
			}
		}
		local := netip.AddrPortFrom(to, uint16(s.pc.LocalAddr().(*net.UDPAddr).Port))
		body, _ := json.Marshal(wire.Answer{Pod: s.pod, Node: s.node, Client: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()).String(), Local: local.String()})
		_, _, _ = s.pc.WriteMsgUDPAddrPort(append(body, '\n'), reply, from)
	}
}

func isHTTP(line string) bool {
	for _, m := range []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS "} {
		if strings.HasPrefix(line, m) {
			return true
		}
	}
	return false
}
