// Package apply executes a plan against the kernel: it is the only package
// that configures kernel objects. Work is done in three phases (namespaces;
// links; everything on links), each in parallel across namespaces, with
// netlink in-process and one iptables-restore per namespace.
package apply

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
)

// Apply creates everything in p. It stops at the first error; the caller
// removes what was made (the namespaces are recorded before this is called).
// workers is how many namespaces are worked on at once (0: 2 x CPUs;
// netlink work is serialised by the kernel's RTNL lock, so more mostly
// overlaps iptables-restore runs); progress, if set, is told when each
// phase starts. Its signature is lab.UpOptions.Apply's.
func Apply(ctx context.Context, p *plan.Plan, workers int, progress func(phase string, n int)) error {
	if workers <= 0 {
		workers = 2 * runtime.NumCPU()
	}
	say := func(phase string) {
		if progress != nil {
			progress(phase, len(p.Namespaces))
		}
	}
	if err := ensureNetnsDir(); err != nil {
		return err
	}
	if err := ensureModules(p); err != nil {
		return err
	}
	say("namespaces")
	if err := phaseNamespaces(p, workers); err != nil {
		return err
	}
	handles, err := openHandles(p)
	if err != nil {
		return err
	}
	defer handles.close()
	// iptables-restore mostly waits on the kernel's nf_tables commit, not
	// the CPU, and its rules name no devices: run the restores alongside
	// the netlink phases, many at once.
	var withRules []*plan.Namespace
	for _, ns := range p.Namespaces {
		if ns.IPTables != nil || len(ns.IPSets) > 0 || ns.NFTables != "" {
			withRules = append(withRules, ns)
		}
	}
	iptDone := make(chan error, 1)
	go func() {
		iptDone <- parallel(ctx, withRules, restoreWorkers, func(ns *plan.Namespace) error {
			if len(ns.IPSets) > 0 {
				if err := restore(handles.fd[ns.Name], "ipset", plan.IPSetRestore(ns.IPSets), "restore"); err != nil {
					return fmt.Errorf("%s: %w", ns.Name, err)
				}
			}
			for _, name := range ns.NFAcct {
				if err := addNFAcct(handles.fd[ns.Name], name); err != nil {
					return fmt.Errorf("%s: nfacct %s: %w", ns.Name, name, err)
				}
			}
			if ns.IPTables != nil {
				if err := IPTablesRestore(handles.fd[ns.Name], ns.IPTables.Restore()); err != nil {
					return fmt.Errorf("%s: %w", ns.Name, err)
				}
			}
			if ns.NFTables != "" {
				if err := NFTApply(handles.fd[ns.Name], ns.NFTables); err != nil {
					return fmt.Errorf("%s: %w", ns.Name, err)
				}
			}
			return nil
		})
	}()
	say("links")
	err = parallel(ctx, p.Namespaces, workers, func(ns *plan.Namespace) error {
		return createLinks(handles, ns)
	})
	if err == nil {
		say("addresses, routes, neighbours, FDB")
		peers := p.PeersByNamespace()
		err = parallel(ctx, p.Namespaces, workers, func(ns *plan.Namespace) error {
			return configure(handles, ns, peers[ns.Name])
		})
	}
	return errors.Join(err, <-iptDone)
}

// restoreWorkers bounds concurrent iptables-restore processes.
const restoreWorkers = 32

// ensureModules loads br_netfilter when the plan sets bridge sysctls, and
// ip_vs when it sets net.ipv4.vs ones: on a distribution kernel they are
// modules that nothing else loads first (link kinds, iptables matches and
// nfnetlink subsystems load theirs on demand), and their sysctls do not
// exist until they are. Loading them is the one change outside the lab's
// namespaces, and every Kubernetes node has them.
func ensureModules(p *plan.Plan) error {
	// sysctl prefix -> the directory that exists once the module is loaded,
	// and the modules to load.
	mods := []struct {
		prefix, dir string
		modules     []string
	}{
		{"net.bridge.", "/proc/sys/net/bridge", []string{"br_netfilter"}},
		{"net.ipv4.vs.", "/proc/sys/net/ipv4/vs", []string{"ip_vs", "ip_vs_rr"}},
	}
	for _, m := range mods {
		if !plansSysctl(p, m.prefix) {
			continue
		}
		if _, err := os.Stat(m.dir); err == nil {
			continue
		}
		args := append([]string{"-a"}, m.modules...)
		if out, err := exec.Command("modprobe", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("modprobe %s (needed for %s* sysctls): %v: %s", strings.Join(m.modules, " "), m.prefix, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func plansSysctl(p *plan.Plan, prefix string) bool {
	for _, ns := range p.Namespaces {
		for _, s := range ns.Sysctls {
			if strings.HasPrefix(s.Key, prefix) {
				return true
			}
		}
	}
	return false
}

func phaseNamespaces(p *plan.Plan, workers int) error {
	chunks := make([][]nsJob, min(workers, len(p.Namespaces)))
	for i, ns := range p.Namespaces {
		j := nsJob{name: ns.Name, marker: plan.Marker(p.Lab)}
		for _, s := range ns.Sysctls {
			j.sysctls = append(j.sysctls, [2]string{s.Key, s.Value})
		}
		chunks[i%len(chunks)] = append(chunks[i%len(chunks)], j)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(chunks))
	for i, c := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = createNamespaces(c)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// handles holds one namespace fd and one rtnetlink handle per namespace.
type handles struct {
	fd map[string]vnetns.NsHandle
	nl map[string]*netlink.Handle
}

func openHandles(p *plan.Plan) (*handles, error) {
	h := &handles{fd: map[string]vnetns.NsHandle{}, nl: map[string]*netlink.Handle{}}
	for _, ns := range p.Namespaces {
		fd, err := vnetns.GetFromPath(netns.Path(ns.Name))
		if err != nil {
			h.close()
			return nil, fmt.Errorf("namespace %s: %w", ns.Name, err)
		}
		h.fd[ns.Name] = fd
		nh, err := netlink.NewHandleAt(fd, unix.NETLINK_ROUTE)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("netlink in %s: %w", ns.Name, err)
		}
		h.nl[ns.Name] = nh
	}
	return h, nil
}

func (h *handles) close() {
	for _, n := range h.nl {
		n.Close()
	}
	for _, f := range h.fd {
		f.Close()
	}
}

func parallel(ctx context.Context, items []*plan.Namespace, workers int, fn func(*plan.Namespace) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *plan.Namespace)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(workers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ns := range work {
				if err := fn(ns); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for _, ns := range items {
		select {
		case work <- ns:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

func createLinks(h *handles, ns *plan.Namespace) error {
	nh := h.nl[ns.Name]
	for _, l := range ns.Links {
		if l.Late() {
			continue // in configure, once every parent exists
		}
		if err := createLink(h, nh, l); err != nil {
			return fmt.Errorf("%s: link %s: %w", ns.Name, l.Name, err)
		}
	}
	return nil
}

func createLink(h *handles, nh *netlink.Handle, l plan.Link) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = l.Name
	attrs.MTU = l.MTU
	if !l.Down {
		attrs.Flags = net.FlagUp
	}
	if l.MAC != "" {
		mac, err := net.ParseMAC(l.MAC)
		if err != nil {
			return err
		}
		attrs.HardwareAddr = mac
	}
	if l.Master != "" {
		m, err := nh.LinkByName(l.Master)
		if err != nil {
			return fmt.Errorf("master %s: %w", l.Master, err)
		}
		attrs.MasterIndex = m.Attrs().Index
	}
	var link netlink.Link
	switch l.Kind {
	case plan.KindBridge:
		link = &netlink.Bridge{LinkAttrs: attrs}
	case plan.KindDummy:
		link = &netlink.Dummy{LinkAttrs: attrs}
	case plan.KindVeth:
		v := &netlink.Veth{LinkAttrs: attrs, PeerName: l.Peer.Name, PeerNamespace: netlink.NsFd(h.fd[l.Peer.Namespace])}
		if l.Peer.MAC != "" {
			mac, err := net.ParseMAC(l.Peer.MAC)
			if err != nil {
				return err
			}
			v.PeerHardwareAddr = mac
		}
		link = v
	case plan.KindVLAN:
		parent, err := nh.LinkByName(l.VLAN.Parent)
		if err != nil {
			return fmt.Errorf("vlan parent %s: %w", l.VLAN.Parent, err)
		}
		attrs.ParentIndex = parent.Attrs().Index
		link = &netlink.Vlan{LinkAttrs: attrs, VlanId: l.VLAN.ID}
	case plan.KindIPVlan:
		parent, err := nh.LinkByName(l.IPVlan.Parent)
		if err != nil {
			return fmt.Errorf("ipvlan parent %s: %w", l.IPVlan.Parent, err)
		}
		attrs.ParentIndex = parent.Attrs().Index
		link = &netlink.IPVlan{LinkAttrs: attrs, Mode: netlink.IPVLAN_MODE_L2}
	case plan.KindVXLAN:
		dev, err := nh.LinkByName(l.VXLAN.Dev)
		if err != nil {
			return fmt.Errorf("vxlan dev %s: %w", l.VXLAN.Dev, err)
		}
		link = &netlink.Vxlan{
			LinkAttrs: attrs, VxlanId: l.VXLAN.VNI, VtepDevIndex: dev.Attrs().Index,
			SrcAddr: net.ParseIP(l.VXLAN.Local), Port: l.VXLAN.Port, Learning: l.VXLAN.Learning,
		}
	default:
		return fmt.Errorf("unknown link kind %q", l.Kind)
	}
	if err := nh.LinkAdd(link); err != nil {
		return kindError(l.Kind, err)
	}
	if l.Hairpin {
		if err := nh.LinkSetHairpin(link, true); err != nil {
			return fmt.Errorf("hairpin: %w", err)
		}
	}
	return nil
}

// createSlaveFrom creates an ipvlan slave whose parent is in another
// namespace (a pod's eth0 on its node's ENI): the parent's namespace asks
// for it, directly into ns, where the name is free (the node has its own
// eth0). A handle of its own: the parent namespace's configures at the
// same time.
func createSlaveFrom(h *handles, ns string, l plan.Link) error {
	ph, err := netlink.NewHandleAt(h.fd[l.IPVlan.ParentNamespace])
	if err != nil {
		return err
	}
	defer ph.Close()
	parent, err := ph.LinkByName(l.IPVlan.Parent)
	if err != nil {
		return fmt.Errorf("ipvlan parent %s in %s: %w", l.IPVlan.Parent, l.IPVlan.ParentNamespace, err)
	}
	name := l.Name
	if l.IPVlan.CreateAs != "" {
		name = l.IPVlan.CreateAs
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU, attrs.ParentIndex, attrs.Namespace = name, l.MTU, parent.Attrs().Index, netlink.NsFd(h.fd[ns])
	if err := ph.LinkAdd(&netlink.IPVlan{LinkAttrs: attrs, Mode: netlink.IPVLAN_MODE_L2}); err != nil {
		return kindError(l.Kind, err)
	}
	nh := h.nl[ns]
	link, err := nh.LinkByName(name)
	if err != nil {
		return err
	}
	if name != l.Name {
		if err := nh.LinkSetName(link, l.Name); err != nil {
			return fmt.Errorf("rename %s to %s: %w", name, l.Name, err)
		}
	}
	if !l.Down {
		return nh.LinkSetUp(link)
	}
	return nil
}

// kindError explains the error a kernel without a link type gives.
func kindError(kind string, err error) error {
	if err == unix.EOPNOTSUPP || strings.Contains(err.Error(), "operation not supported") {
		return fmt.Errorf("this kernel cannot create %s devices (%w); run netlab doctor", kind, err)
	}
	return err
}

func configure(h *handles, ns *plan.Namespace, peers []*plan.Peer) error {
	nh := h.nl[ns.Name]
	links := map[string]netlink.Link{}
	all, err := nh.LinkList()
	if err != nil {
		return err
	}
	for _, l := range all {
		links[l.Attrs().Name] = l
	}
	get := func(name string) (netlink.Link, error) {
		if l, ok := links[name]; ok {
			return l, nil
		}
		return nil, fmt.Errorf("%s: no device %s", ns.Name, name)
	}
	for _, p := range peers {
		l, err := get(p.Name)
		if err != nil {
			return err
		}
		if p.Master != "" {
			m, err := get(p.Master)
			if err != nil {
				return err
			}
			if err := nh.LinkSetMasterByIndex(l, m.Attrs().Index); err != nil {
				return fmt.Errorf("%s: %s master %s: %w", ns.Name, p.Name, p.Master, err)
			}
		}
		if err := nh.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s: %s up: %w", ns.Name, p.Name, err)
		}
	}
	for _, l := range ns.Links {
		if !l.Late() {
			continue
		}
		var err error
		if l.IPVlan != nil && l.IPVlan.ParentNamespace != "" {
			err = createSlaveFrom(h, ns.Name, l)
		} else {
			err = createLink(h, nh, l)
		}
		if err != nil {
			return fmt.Errorf("%s: link %s: %w", ns.Name, l.Name, err)
		}
		link, err := nh.LinkByName(l.Name)
		if err != nil {
			return err
		}
		if l.NoARP {
			if err := nh.LinkSetARPOff(link); err != nil {
				return fmt.Errorf("%s: %s arp off: %w", ns.Name, l.Name, err)
			}
		}
		links[l.Name] = link
	}
	for _, a := range ns.Addrs {
		l, err := get(a.Dev)
		if err != nil {
			return err
		}
		addr, err := netlink.ParseAddr(a.CIDR)
		if err != nil {
			return err
		}
		if a.Scope == "host" {
			addr.Scope = unix.RT_SCOPE_HOST
		}
		if err := nh.AddrAdd(l, addr); err != nil {
			return fmt.Errorf("%s: addr %s dev %s: %w", ns.Name, a.CIDR, a.Dev, err)
		}
	}
	for _, r := range ns.Routes {
		route, err := toRoute(r, get)
		if err != nil {
			return fmt.Errorf("%s: route %s: %w", ns.Name, r.Dst, err)
		}
		if err := nh.RouteAdd(route); err != nil {
			return fmt.Errorf("%s: route %s: %w", ns.Name, r.String(), err)
		}
	}
	for _, r := range ns.Rules {
		rule := netlink.NewRule()
		rule.Priority, rule.Table, rule.IifName, rule.Family = r.Priority, r.Table, r.IIF, unix.AF_INET
		for _, c := range []struct {
			cidr string
			dst  **net.IPNet
		}{{r.From, &rule.Src}, {r.To, &rule.Dst}} {
			if c.cidr == "" {
				continue
			}
			_, n, err := net.ParseCIDR(c.cidr)
			if err != nil {
				return fmt.Errorf("%s: rule %s: %w", ns.Name, r, err)
			}
			*c.dst = n
		}
		switch r.Proto {
		case "tcp":
			rule.IPProto = unix.IPPROTO_TCP
		case "udp":
			rule.IPProto = unix.IPPROTO_UDP
		}
		if r.SPort != [2]int{} {
			rule.Sport = netlink.NewRulePortRange(uint16(r.SPort[0]), uint16(r.SPort[1]))
		}
		if err := nh.RuleAdd(rule); err != nil {
			return fmt.Errorf("%s: rule %s: %w", ns.Name, r, err)
		}
	}
	for _, n := range ns.Neighs {
		l, err := get(n.Dev)
		if err != nil {
			return err
		}
		mac, err := net.ParseMAC(n.MAC)
		if err != nil {
			return err
		}
		if err := nh.NeighSet(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, Type: unix.RTN_UNICAST, IP: net.ParseIP(n.IP), HardwareAddr: mac}); err != nil {
			return fmt.Errorf("%s: neigh %s: %w", ns.Name, n.IP, err)
		}
	}
	for _, f := range ns.FDB {
		l, err := get(f.Dev)
		if err != nil {
			return err
		}
		mac, err := net.ParseMAC(f.MAC)
		if err != nil {
			return err
		}
		if err := nh.NeighAppend(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF, State: netlink.NUD_PERMANENT, IP: net.ParseIP(f.Dst), HardwareAddr: mac}); err != nil {
			return fmt.Errorf("%s: fdb %s: %w", ns.Name, f.MAC, err)
		}
	}
	if err := addTCFilters(nh, ns.TC, get); err != nil {
		return fmt.Errorf("%s: %w", ns.Name, err)
	}
	if len(ns.IPVS) > 0 {
		if err := applyIPVS(ns); err != nil {
			return fmt.Errorf("%s: %w", ns.Name, err)
		}
	}
	return nil
}

// addTCFilters adds a clsact qdisc to each device with filters, then the
// u32 filters with their VLAN push or pop action.
func addTCFilters(nh *netlink.Handle, filters []plan.TCFilter, get func(string) (netlink.Link, error)) error {
	clsact := map[string]bool{}
	for _, f := range filters {
		l, err := get(f.Dev)
		if err != nil {
			return err
		}
		idx := l.Attrs().Index
		if !clsact[f.Dev] {
			clsact[f.Dev] = true
			q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
			if err := nh.QdiscAdd(q); err != nil {
				return kindError("clsact qdisc", fmt.Errorf("tc qdisc add dev %s clsact: %w", f.Dev, err))
			}
		}
		parent := uint32(netlink.HANDLE_MIN_INGRESS)
		if f.Dir == "egress" {
			parent = netlink.HANDLE_MIN_EGRESS
		}
		proto := uint16(unix.ETH_P_IP)
		if f.Protocol == "802.1Q" {
			proto = unix.ETH_P_8021Q
		}
		key := netlink.TcU32Key{} // every frame
		for _, m := range []struct {
			cidr string
			off  int32 // in the IPv4 header
		}{{f.Src, 12}, {f.Dst, 16}} {
			if m.cidr == "" {
				continue
			}
			_, n, err := net.ParseCIDR(m.cidr)
			if err != nil {
				return err
			}
			key = netlink.TcU32Key{Mask: binary.BigEndian.Uint32(n.Mask), Val: binary.BigEndian.Uint32(n.IP.To4()), Off: m.off}
		}
		actions, what, err := tcActions(f, get)
		if err != nil {
			return err
		}
		u32 := &netlink.U32{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: parent, Priority: uint16(f.Prio), Protocol: proto},
			Sel:         &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Keys: []netlink.TcU32Key{key}},
			Actions:     actions,
		}
		if err := nh.FilterAdd(u32); err != nil {
			return kindError(what, fmt.Errorf("tc filter add dev %s %s: %w", f.Dev, f, err))
		}
	}
	return nil
}

// tcActions are a filter's actions, and the kernel feature they need (for
// the error a kernel without it gives): the ingress redirect of Terway's
// ipvlan ServiceCIDR filter, else a VLAN push or pop.
func tcActions(f plan.TCFilter, get func(string) (netlink.Link, error)) ([]netlink.Action, string, error) {
	if f.Redirect != "" {
		to, err := get(f.Redirect)
		if err != nil {
			return nil, "", err
		}
		unset := netlink.NewTunnelKeyAction()
		unset.Action = netlink.TCA_TUNNEL_KEY_UNSET
		host := netlink.NewSkbEditAction()
		ptype := uint16(unix.PACKET_HOST)
		host.PType = &ptype
		redirect := netlink.NewMirredAction(to.Attrs().Index)
		redirect.MirredAction = netlink.TCA_INGRESS_REDIR
		return []netlink.Action{unset, host, redirect}, "act_mirred", nil
	}
	vlan := netlink.NewVlanAction()
	vlan.Action = netlink.TCA_VLAN_ACT_POP
	if f.PushVLAN != 0 {
		vlan.Action, vlan.VlanID = netlink.TCA_VLAN_ACT_PUSH, uint16(f.PushVLAN)
	}
	return []netlink.Action{vlan}, "act_vlan", nil
}

func toRoute(r plan.Route, get func(string) (netlink.Link, error)) (*netlink.Route, error) {
	l, err := get(r.Dev)
	if err != nil {
		return nil, err
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index}
	if r.Dst != "default" {
		dst := r.Dst
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			return nil, err
		}
		route.Dst = n
	}
	if r.Gw != "" {
		route.Gw = net.ParseIP(r.Gw)
	}
	if r.Onlink {
		route.Flags = int(netlink.FLAG_ONLINK)
	}
	if r.Scope == "link" {
		route.Scope = netlink.SCOPE_LINK
	}
	route.Table = r.Table
	return route, nil
}

// IPTablesRestore feeds rules to iptables-restore inside a namespace. It is
// one process per namespace, as kube-proxy and flanneld do it.
func IPTablesRestore(ns vnetns.NsHandle, rules string) error {
	return restore(ns, "iptables-restore", rules, "-w", "5")
}

// NFTApply runs nft -f on a script inside a namespace: one transaction,
// as kube-proxy's nftables mode commits a sync (all of it or nothing).
func NFTApply(ns vnetns.NsHandle, script string) error {
	return restore(ns, "nft", script, "-f", "-")
}

// restore runs a tool that reads its input on stdin inside a namespace.
func restore(ns vnetns.NsHandle, tool, input string, args ...string) error {
	return netns.DoHandle(ns, func() error {
		cmd := exec.Command(tool, args...)
		cmd.Stdin = strings.NewReader(input)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		// The child is forked from this thread and so inherits its netns.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v: %s", tool, err, strings.TrimSpace(out.String()))
		}
		return nil
	})
}

// addNFAcct creates a named nfacct counter inside a namespace.
func addNFAcct(ns vnetns.NsHandle, name string) error {
	return netns.DoHandle(ns, func() error { return NFAcctAdd(name) })
}

// NFAcctAdd creates a named nfacct counter (what `nfacct add NAME` does)
// over nfnetlink, in the calling thread's namespace. An existing one is
// fine.
func NFAcctAdd(name string) error {
	const (
		subsysAcct = 7 // NFNL_SUBSYS_ACCT
		attrName   = 1 // NFACCT_NAME; the message is NFNL_MSG_ACCT_NEW (0)
	)
	req := nl.NewNetlinkRequest(subsysAcct<<8, unix.NLM_F_CREATE|unix.NLM_F_ACK)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_UNSPEC, Version: nl.NFNETLINK_V0})
	req.AddData(nl.NewRtAttr(attrName, nl.ZeroTerminated(name)))
	_, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// applyIPVS programs a namespace's IPVS virtual and real servers over
// generic netlink, as kube-proxy does.
func applyIPVS(ns *plan.Namespace) error {
	h, err := ipvs.New(netns.Path(ns.Name))
	if err != nil {
		return fmt.Errorf("ipvs: %w", err)
	}
	defer h.Close()
	for _, s := range ns.IPVS {
		svc := &ipvs.Service{
			Address: net.ParseIP(s.Addr).To4(), Port: uint16(s.Port), Protocol: unix.IPPROTO_TCP,
			SchedName: s.Scheduler, AddressFamily: unix.AF_INET, Netmask: 0xffffffff,
		}
		if s.Proto == "udp" {
			svc.Protocol = unix.IPPROTO_UDP
		}
		if s.Persistent > 0 {
			svc.Flags, svc.Timeout = svc.Flags|ipvsPersistent, uint32(s.Persistent)
		}
		for _, f := range s.Flags {
			if f == "mh-port" {
				svc.Flags |= ipvsMHPort
			}
		}
		if err := h.NewService(svc); err != nil {
			return fmt.Errorf("ipvs service %s:%d: %w", s.Addr, s.Port, err)
		}
		for _, r := range s.Reals {
			d := &ipvs.Destination{Address: net.ParseIP(r.Addr).To4(), Port: uint16(r.Port), Weight: r.Weight,
				ConnectionFlags: ipvs.ConnectionFlagMasq, AddressFamily: unix.AF_INET}
			if err := h.NewDestination(svc, d); err != nil {
				return fmt.Errorf("ipvs real server %s:%d for %s:%d: %w", r.Addr, r.Port, s.Addr, s.Port, err)
			}
		}
	}
	return nil
}

// IPVS service flags: IP_VS_SVC_F_PERSISTENT and IP_VS_SVC_F_SCHED_MH_PORT.
const (
	ipvsPersistent = 0x1
	ipvsMHPort     = 0x10
)
