//go:build linux

// Package kernel detects the kernel features and tools a lab needs, for real: every probe creates the
// object it is about (a veth pair, an IPVS virtual service, an iptables chain, a tc vlan action, ...)
// inside a scratch network namespace that exists only for the duration of the probe and is never
// named. The root network namespace is never touched (loading a module is the only global effect).
//
// It is used by `netlab doctor`, by the preflight step before `up`, and by tests
// (internal/testenv.RequireFeatures) to skip natively and run in the qemu guest (scripts/vmtest).
package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Feature is a kernel feature or a tool that a lab may need.
type Feature string

// The features netlab knows how to probe.
const (
	NetNS         Feature = "netns"
	Veth          Feature = "veth"
	Bridge        Feature = "bridge"
	BrNetfilter   Feature = "br_netfilter"
	VXLAN         Feature = "vxlan"
	Macvlan       Feature = "macvlan"
	PolicyRouting Feature = "policy-routing"
	Iptables      Feature = "iptables"
	TEE           Feature = "iptables-tee"
	Nftables      Feature = "nftables"
	Conntrack     Feature = "conntrack"
	Ipset         Feature = "ipset"
	IPVS          Feature = "ipvs"
	Ipvlan        Feature = "ipvlan"
	VLAN          Feature = "vlan"
	Dummy         Feature = "dummy"
	ActVlan       Feature = "act_vlan"
	// ActMirred is tc's ingress redirect with tunnel_key and skbedit
	// (Terway's ipvlan ServiceCIDR filter).
	ActMirred Feature = "act_mirred"
)

// Check is the result of probing one feature.
type Check struct {
	Feature Feature `json:"feature"`
	OK      bool    `json:"ok"`
	// Detail says what was tried and what happened (the tool's version when OK, the error when not).
	Detail string `json:"detail"`
	// Fix says how to get the feature, when it is missing.
	Fix string `json:"fix,omitempty"`
}

// All returns every feature netlab knows, in a stable order (cheap and basic ones first).
func All() []Feature {
	return []Feature{
		NetNS, Veth, Bridge, BrNetfilter, VXLAN, Macvlan, PolicyRouting,
		Iptables, TEE, Nftables, Conntrack, Ipset,
		IPVS, Ipvlan, VLAN, Dummy, ActVlan, ActMirred,
	}
}

// Missing probes the features (all of them when none is given) and returns only the failed checks.
func Missing(fs ...Feature) []Check {
	var out []Check
	for _, c := range Probe(fs...) {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Probe probes each feature (all of them when none is given) and returns one Check per distinct
// feature, in the order asked. Nothing is cached: every call probes again, in a fresh scratch network
// namespace that disappears when the call returns.
func Probe(fs ...Feature) []Check {
	if len(fs) == 0 {
		fs = All()
	}
	seen := map[Feature]bool{}
	var want []Feature
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			want = append(want, f)
		}
	}
	ch := make(chan []Check, 1)
	go func() {
		// The scratch namespace lives on this locked thread only. The goroutine returns without
		// UnlockOSThread, so the runtime ends the thread and the namespace with it: no other goroutine
		// can ever run in it, and the root namespace is never entered or changed.
		runtime.LockOSThread()
		ch <- probeInScratch(want)
	}()
	return <-ch
}

// spec says how to probe one feature.
type spec struct {
	modules []string // modprobe'd first (failure ignored: it may be built in)
	probe   func(p *prober) (detail string, err error)
	fix     string
}

var specs = map[Feature]spec{
	NetNS: {
		probe: func(p *prober) (string, error) { return "created a scratch network namespace", nil },
		fix:   "run as root (CAP_SYS_ADMIN) on a kernel with CONFIG_NET_NS",
	},
	Veth: {
		modules: []string{"veth"},
		probe: func(p *prober) (string, error) {
			if _, err := p.veth(0); err != nil {
				return "", err
			}
			return "created a veth pair", nil
		},
		fix: "the kernel needs CONFIG_VETH (modprobe veth); use a distribution kernel",
	},
	Bridge: {
		modules: []string{"bridge"},
		probe: func(p *prober) (string, error) {
			return "created a bridge", p.add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "nlpbr0"}})
		},
		fix: "the kernel needs CONFIG_BRIDGE (modprobe bridge); use a distribution kernel",
	},
	BrNetfilter: {
		modules: []string{"bridge", "br_netfilter"},
		probe: func(p *prober) (string, error) {
			const f = "/proc/sys/net/bridge/bridge-nf-call-iptables"
			b, err := os.ReadFile(f) // read on the locked thread: the scratch namespace's sysctl
			if err != nil {
				return "", fmt.Errorf("%s: %w", f, errors.Unwrap(err))
			}
			return "net.bridge.bridge-nf-call-iptables = " + strings.TrimSpace(string(b)), nil
		},
		fix: "modprobe br_netfilter (CONFIG_BRIDGE_NETFILTER)",
	},
	VXLAN: {
		modules: []string{"vxlan"},
		probe: func(p *prober) (string, error) {
			return "created a VXLAN device (VNI 42, port 4789)",
				p.add(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "nlpvx0"}, VxlanId: 42, Port: 4789})
		},
		fix: "the kernel needs CONFIG_VXLAN (modprobe vxlan); use a distribution kernel",
	},
	Macvlan: {
		modules: []string{"macvlan"},
		probe: func(p *prober) (string, error) {
			parent, err := p.veth(0)
			if err != nil {
				return "", err
			}
			return "created a macvlan (bridge mode) on a veth", p.add(&netlink.Macvlan{
				LinkAttrs: netlink.LinkAttrs{Name: "nlpmv0", ParentIndex: parent.Attrs().Index},
				Mode:      netlink.MACVLAN_MODE_BRIDGE,
			})
		},
		fix: "the kernel needs CONFIG_MACVLAN (modprobe macvlan); use a distribution kernel",
	},
	PolicyRouting: {
		probe: func(p *prober) (string, error) {
			_, dst, _ := net.ParseCIDR("10.255.0.0/24")
			if err := p.h.RouteAdd(&netlink.Route{Dst: dst, Table: 100, Type: unix.RTN_BLACKHOLE}); err != nil {
				return "", fmt.Errorf("route in table 100: %w", err)
			}
			r := netlink.NewRule()
			r.Src, r.Table, r.Priority = dst, 100, 100
			if err := p.h.RuleAdd(r); err != nil {
				return "", fmt.Errorf("ip rule: %w", err)
			}
			return "added a rule (from 10.255.0.0/24 lookup 100) and a route in table 100", nil
		},
		fix: "the kernel needs CONFIG_IP_MULTIPLE_TABLES; use a distribution kernel",
	},
	// TEE and CONNMARK: how the lab's VPC router hands a backend's reply
	// back to the SLB (lab/cloud).
	TEE: {
		modules: []string{"xt_TEE", "xt_connmark"},
		probe: func(p *prober) (string, error) {
			if _, err := p.run("iptables-restore -w 5", strings.NewReader("*mangle\n:NLP-TEE - [0:0]\n"+
				"-A PREROUTING -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x1/0x1\n"+
				"-A PREROUTING -m connmark --mark 0x1/0x1 -j NLP-TEE\n"+
				"-A NLP-TEE -j TEE --gateway 10.255.0.1\n"+
				"COMMIT\n"), "iptables-restore", "-w", "5"); err != nil {
				return "", err
			}
			return "iptables-restore of a mangle table with CONNMARK, connmark and TEE", nil
		},
		fix: "the kernel needs NETFILTER_XT_TARGET_TEE and NETFILTER_XT_CONNMARK (modprobe xt_TEE xt_connmark); use a distribution kernel",
	},
	Iptables: {
		probe: func(p *prober) (string, error) {
			// what kube-proxy does: one iptables-restore with its mark and masquerade rules
			if _, err := p.run("iptables-restore -w 5", strings.NewReader("*nat\n"+
				":KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n"+
				"-A POSTROUTING -j KUBE-POSTROUTING\n"+
				"-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"+
				"-A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE\n"+
				"COMMIT\n"), "iptables-restore", "-w", "5"); err != nil {
				return "", err
			}
			v, _ := p.run("", nil, "iptables", "-V")
			return firstLine(v) + ": iptables-restore of a nat table with MARK and MASQUERADE", nil
		},
		fix: "install iptables (scripts/setup.sh, or apt-get install iptables); the kernel needs netfilter (NF_TABLES or IP_NF_IPTABLES, NETFILTER_XT_MARK, IP_NF_TARGET_MASQUERADE)",
	},
	Nftables: {
		probe: func(p *prober) (string, error) {
			if _, err := p.run("nft -f -", strings.NewReader(
				"add table ip netlab_probe\n"+
					"add chain ip netlab_probe nat_pre { type nat hook prerouting priority -100; }\n"+
					"add rule ip netlab_probe nat_pre ip daddr 10.255.0.1 tcp dport 80 dnat to 10.255.1.1:8080\n"+
					"delete table ip netlab_probe\n"), "nft", "-f", "-"); err != nil {
				return "", err
			}
			v, _ := p.run("", nil, "nft", "--version")
			return firstLine(v) + ": created a nat chain with a dnat rule", nil
		},
		fix: "install nftables (scripts/setup.sh, or apt-get install nftables); the kernel needs CONFIG_NF_TABLES and NFT_NAT",
	},
	Conntrack: {
		modules: []string{"nf_conntrack", "nf_conntrack_netlink"},
		probe: func(p *prober) (string, error) {
			if _, err := p.run("conntrack -L", nil, "conntrack", "-L"); err != nil {
				return "", err
			}
			v, _ := p.run("", nil, "conntrack", "--version")
			return firstLine(v) + ": listed the conntrack table over ctnetlink", nil
		},
		fix: "install conntrack (scripts/setup.sh, or apt-get install conntrack); the kernel needs CONFIG_NF_CONNTRACK and NF_CT_NETLINK",
	},
	Ipset: {
		modules: []string{"ip_set", "ip_set_hash_ipportip"},
		probe: func(p *prober) (string, error) {
			// the set kube-proxy's IPVS mode creates first
			if _, err := p.run("ipset create", nil, "ipset", "create", "KUBE-LOOP-BACK", "hash:ip,port,ip"); err != nil {
				return "", err
			}
			if _, err := p.run("ipset add", nil, "ipset", "add", "KUBE-LOOP-BACK", "10.255.0.1,tcp:80,10.255.0.1"); err != nil {
				return "", err
			}
			if _, err := p.run("ipset destroy", nil, "ipset", "destroy", "KUBE-LOOP-BACK"); err != nil {
				return "", err
			}
			v, _ := p.run("", nil, "ipset", "version")
			return firstLine(v) + ": created a hash:ip,port,ip set", nil
		},
		fix: "install ipset (scripts/setup.sh, or apt-get install ipset); the kernel needs CONFIG_IP_SET and IP_SET_HASH_IPPORTIP",
	},
	IPVS: {
		modules: []string{"ip_vs", "ip_vs_rr"},
		probe:   probeIPVS,
		fix:     "this kernel has no IPVS (CONFIG_IP_VS); run in a guest: make vmtest, or on a VM with a distribution kernel (see Vagrantfile)",
	},
	Ipvlan: {
		modules: []string{"ipvlan"},
		probe: func(p *prober) (string, error) {
			parent, err := p.veth(1)
			if err != nil {
				return "", err
			}
			return "created an ipvlan (L2 mode) on a veth", p.add(&netlink.IPVlan{
				LinkAttrs: netlink.LinkAttrs{Name: "nlpipvl0", ParentIndex: parent.Attrs().Index},
				Mode:      netlink.IPVLAN_MODE_L2,
			})
		},
		fix: "this kernel has no ipvlan (CONFIG_IPVLAN); run in a guest: make vmtest, or on a VM with a distribution kernel (see Vagrantfile)",
	},
	VLAN: {
		modules: []string{"8021q"},
		probe: func(p *prober) (string, error) {
			parent, err := p.veth(0)
			if err != nil {
				return "", err
			}
			return "created an 802.1Q sub-interface (VLAN 100) on a veth", p.add(&netlink.Vlan{
				LinkAttrs: netlink.LinkAttrs{Name: "nlpvlan100", ParentIndex: parent.Attrs().Index},
				VlanId:    100,
			})
		},
		fix: "this kernel has no 802.1Q VLAN (CONFIG_VLAN_8021Q); run in a guest: make vmtest, or on a VM with a distribution kernel (see Vagrantfile)",
	},
	Dummy: {
		modules: []string{"dummy"},
		probe: func(p *prober) (string, error) {
			return "created a dummy device", p.add(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "nlpdummy0"}})
		},
		fix: "this kernel has no dummy devices (CONFIG_DUMMY); run in a guest: make vmtest, or on a VM with a distribution kernel (see Vagrantfile)",
	},
	ActVlan: {
		modules: []string{"sch_ingress", "cls_u32", "act_vlan"},
		probe: func(p *prober) (string, error) {
			parent, err := p.veth(0)
			if err != nil {
				return "", err
			}
			dev := parent.Attrs().Name
			if _, err := p.run("tc qdisc add clsact", nil, "tc", "qdisc", "add", "dev", dev, "clsact"); err != nil {
				return "", err
			}
			if _, err := p.run("tc action vlan push", nil, "tc", "filter", "add", "dev", dev, "egress",
				"protocol", "all", "u32", "match", "u32", "0", "0", "action", "vlan", "push", "id", "100"); err != nil {
				return "", err
			}
			return "attached a tc vlan push action (u32, clsact egress) to a veth", nil
		},
		fix: "this kernel has no tc vlan action (CONFIG_NET_ACT_VLAN); run in a guest: make vmtest, or on a VM with a distribution kernel (see Vagrantfile)",
	},
	ActMirred: {
		modules: []string{"sch_ingress", "cls_u32", "act_tunnel_key", "act_skbedit", "act_mirred"},
		probe: func(p *prober) (string, error) {
			parent, err := p.veth(2)
			if err != nil {
				return "", err
			}
			dev := parent.Attrs().Name
			if _, err := p.run("tc qdisc add clsact", nil, "tc", "qdisc", "add", "dev", dev, "clsact"); err != nil {
				return "", err
			}
			if _, err := p.run("tc action mirred ingress redirect", nil, "tc", "filter", "add", "dev", dev, "egress", "protocol", "ip",
				"u32", "match", "ip", "dst", "192.0.2.0/24", "action", "tunnel_key", "unset", "pipe", "action", "skbedit", "ptype", "host",
				"pipe", "action", "mirred", "ingress", "redirect", "dev", dev); err != nil {
				return "", err
			}
			return "attached tc tunnel_key unset, skbedit ptype host and mirred ingress redirect (u32, clsact egress) to a veth", nil
		},
		fix: "this kernel lacks tc's mirred, skbedit or tunnel_key action (CONFIG_NET_ACT_MIRRED, _SKBEDIT, _TUNNEL_KEY); run in a guest: make vmtest, or on a VM with a distribution kernel (see Vagrantfile)",
	},
}

func probeIPVS(p *prober) (string, error) {
	// Look the generic netlink family up first: moby/ipvs resolves it once per process and logs
	// errors when it is missing, so only hand over when the kernel has IPVS.
	if _, err := p.h.GenlFamilyGet("IPVS"); err != nil {
		return "", fmt.Errorf("the kernel has no IPVS generic netlink family: %w", err)
	}
	h, err := ipvs.New("") // a socket in the current thread's network namespace: the scratch one
	if err != nil {
		return "", fmt.Errorf("ipvs handle: %w", err)
	}
	defer h.Close()
	svc := &ipvs.Service{
		Address: net.ParseIP("10.255.0.1").To4(), Protocol: unix.IPPROTO_TCP, Port: 80,
		SchedName: "rr", AddressFamily: unix.AF_INET,
	}
	if err := h.NewService(svc); err != nil {
		return "", fmt.Errorf("add virtual service 10.255.0.1:80: %w", err)
	}
	if err := h.NewDestination(svc, &ipvs.Destination{
		Address: net.ParseIP("10.255.1.1").To4(), Port: 8080, Weight: 1,
		ConnectionFlags: ipvs.ConnectionFlagMasq, AddressFamily: unix.AF_INET,
	}); err != nil {
		return "", fmt.Errorf("add real server: %w", err)
	}
	if err := h.DelService(svc); err != nil {
		return "", fmt.Errorf("delete virtual service: %w", err)
	}
	detail := "added and deleted a virtual service (rr, NAT)"
	if b, err := os.ReadFile("/proc/net/ip_vs"); err == nil {
		detail = firstLine(string(b)) + ": " + detail
	}
	return detail, nil
}

// prober holds the state of one probe run, on the locked thread in the scratch namespace.
type prober struct {
	h        *netlink.Handle
	parents  map[int]netlink.Link // veths, created on first use: parents of macvlan/ipvlan/vlan, tc
	vethErr  map[int]error
	modprobe map[string]string // module → modprobe's complaint, for failed probes' details
}

func probeInScratch(want []Feature) []Check {
	out := make([]Check, 0, len(want))
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		for _, f := range want {
			c := Check{Feature: f, Detail: "cannot create a scratch network namespace: " + err.Error(),
				Fix: "run as root (netlab needs CAP_NET_ADMIN and CAP_SYS_ADMIN)"}
			if _, ok := specs[f]; !ok {
				c.Detail, c.Fix = "unknown feature", ""
			}
			out = append(out, c)
		}
		return out
	}
	p := &prober{parents: map[int]netlink.Link{}, vethErr: map[int]error{}, modprobe: map[string]string{}}
	h, err := netlink.NewHandle() // sockets opened now, on this thread: in the scratch namespace
	if err != nil {
		for _, f := range want {
			out = append(out, Check{Feature: f, Detail: "netlink: " + err.Error(), Fix: "run as root"})
		}
		return out
	}
	defer h.Close()
	p.h = h
	if lo, err := h.LinkByName("lo"); err == nil {
		_ = h.LinkSetUp(lo)
	}

	// load the modules first (one modprobe each, so that a missing one does not hide the others)
	var mods []string
	done := map[string]bool{}
	for _, f := range want {
		for _, m := range specs[f].modules {
			if !done[m] {
				done[m] = true
				mods = append(mods, m)
			}
		}
	}
	p.loadModules(mods)

	for _, f := range want {
		s, ok := specs[f]
		if !ok {
			out = append(out, Check{Feature: f, Detail: fmt.Sprintf("unknown feature (known: %v)", All())})
			continue
		}
		detail, err := s.probe(p)
		c := Check{Feature: f, OK: err == nil, Detail: detail}
		if err != nil {
			c.Detail = err.Error() + p.modprobeDetail(s.modules)
			c.Fix = s.fix
		}
		out = append(out, c)
	}
	return out
}

// loadModules runs modprobe for each module that is not loaded or built in yet; failures are only
// remembered (the feature may be built in, and its probe decides).
func (p *prober) loadModules(mods []string) {
	path, err := exec.LookPath("modprobe")
	if err != nil {
		for _, m := range mods {
			p.modprobe[m] = "modprobe not found"
		}
		return
	}
	if _, err := os.Stat("/lib/modules/" + kernelRelease()); err != nil {
		for _, m := range mods {
			if !moduleLoaded(m) {
				p.modprobe[m] = "no /lib/modules/" + kernelRelease() + " (this kernel has no loadable modules installed)"
			}
		}
		return
	}
	var load []string
	for _, m := range mods {
		if !moduleLoaded(m) {
			load = append(load, m)
		}
	}
	if len(load) == 0 {
		return
	}
	// one process for all (an exec costs ~0.4 s in the TCG guest); one per module only to find out
	// which failed
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = exec.CommandContext(ctx, path, append([]string{"-a"}, load...)...).Run()
	cancel()
	if err == nil {
		return
	}
	for _, m := range load {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := exec.CommandContext(ctx, path, m).CombinedOutput()
		cancel()
		if err != nil {
			msg := firstLine(string(b))
			if msg == "" {
				msg = err.Error()
			}
			p.modprobe[m] = msg
		}
	}
}

// modprobeDetail says why modprobe failed for these modules, grouping those that failed alike:
// "; modprobe ip_vs ip_vs_rr: no /lib/modules/...".
func (p *prober) modprobeDetail(mods []string) string {
	var msgs []string
	byMsg := map[string][]string{}
	for _, m := range mods {
		if msg := p.modprobe[m]; msg != "" {
			if byMsg[msg] == nil {
				msgs = append(msgs, msg)
			}
			byMsg[msg] = append(byMsg[msg], m)
		}
	}
	var b strings.Builder
	for _, msg := range msgs {
		fmt.Fprintf(&b, "; modprobe %s: %s", strings.Join(byMsg[msg], " "), msg)
	}
	return b.String()
}

func moduleLoaded(m string) bool {
	_, err := os.Stat("/sys/module/" + strings.ReplaceAll(m, "-", "_"))
	return err == nil
}

// Release is the running kernel's release (uname -r), e.g. 6.1.0-18-amd64.
func Release() string { return kernelRelease() }

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (p *prober) add(l netlink.Link) error {
	if err := p.h.LinkAdd(l); err != nil {
		return fmt.Errorf("create %s %s: %w", l.Type(), l.Attrs().Name, err)
	}
	return nil
}

// veth returns one end of veth pair i in the scratch namespace, created (and brought up) on first use.
// Macvlan and ipvlan cannot share a parent, hence several pairs.
func (p *prober) veth(i int) (netlink.Link, error) {
	if l, ok := p.parents[i]; ok {
		return l, p.vethErr[i]
	}
	a, b := fmt.Sprintf("nlpveth%da", i), fmt.Sprintf("nlpveth%db", i)
	l, err := netlink.Link(nil), p.add(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b})
	if err == nil {
		l, err = p.h.LinkByName(a)
	}
	if err == nil {
		_ = p.h.LinkSetUp(l)
		if peer, err := p.h.LinkByName(b); err == nil {
			_ = p.h.LinkSetUp(peer)
		}
	} else {
		err = fmt.Errorf("veth (needed as the parent device): %w", err)
	}
	p.parents[i], p.vethErr[i] = l, err
	return l, err
}

// run executes a tool. It is called on the locked thread, and Go forks from the calling thread, so the
// tool runs in the scratch network namespace.
func (p *prober) run(what string, stdin *strings.Reader, name string, args ...string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found in PATH", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		if what == "" {
			what = name
		}
		msg := strings.TrimSpace(buf.String())
		if msg == "" {
			msg = err.Error()
		}
		return buf.String(), fmt.Errorf("%s: %s", what, oneLine(msg))
	}
	return buf.String(), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func oneLine(s string) string {
	f := strings.Fields(strings.ReplaceAll(s, "\n", "; "))
	s = strings.Join(f, " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
