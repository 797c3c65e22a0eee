package probes

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
)

// Decision is one thing the lab's rules did to a traced flow, as observed:
// a rule an nftables trace saw the flow's packets meet (iptables-nft's
// rules among them), an iptables rule whose counters moved, an IPVS
// connection entry, or the kernel itself.
// Decision kinds: which part of the dataplane decided.
const (
	DecisionIPTables = "iptables" // an iptables rule: traced, or its counters moved
	DecisionNFTables = "nftables" // a rule of an nftables table (kube-proxy's nftables mode), traced
	DecisionIPVS     = "ipvs"     // an IPVS connection entry or virtual server
	DecisionKernel   = "kernel"   // the kernel itself (nothing listens, a martian, ...)
)

// Packets a traced decision was seen on.
const (
	PacketRequest = "request" // the request's first packet (the SYN, the datagram)
	PacketReply   = "reply"   // the answer's first packet (SYN-ACK, reset, ICMP error, datagram)
	PacketLater   = "later"   // a later packet of the flow, on a rule neither first packet met
)

type Decision struct {
	Owner     string `json:"owner"`
	Namespace string `json:"namespace"`
	// Kind is iptables, nftables, ipvs or kernel.
	Kind string `json:"kind"`
	// Family is an nftables table's family (ip, inet, ...); Table is the
	// iptables table, or the nftables table's name.
	Family string `json:"family,omitempty"`
	Table  string `json:"table,omitempty"`
	Chain  string `json:"chain,omitempty"`
	// Rule is the rule as iptables-save prints it (iptables), as nft
	// prints it (nftables), the IPVS connection, or what the kernel did.
	// A chain's policy is "policy DROP" (iptables) or "policy drop".
	Rule string `json:"rule"`
	// Element is, for a verdict map lookup (vmap), the element that gave
	// the verdict: "element 10.96.0.10 . tcp . 53 : goto service-... in map
	// service-ips".
	Element string `json:"element,omitempty"`
	// Verdict is what the traced rule decided, as nft prints it: accept,
	// drop, jump CHAIN, goto CHAIN, return, continue.
	Verdict string `json:"verdict,omitempty"`
	// Packet is which packet a trace saw meet the rule: request, reply or
	// later (see Result.Decisions). Empty for counters.
	Packet string `json:"packet,omitempty"`
	// Packets is how many of the flow's packets the rule saw: its
	// counters' change, or the traced packets that met it.
	Packets uint64 `json:"packets,omitempty"`
}

func (d Decision) String() string {
	switch d.Kind {
	case DecisionIPTables:
		return fmt.Sprintf("%s iptables %s/%s: %s", d.Owner, d.Table, d.Chain, d.Rule)
	case DecisionNFTables:
		s := fmt.Sprintf("%s nftables %s %s/%s: %s", d.Owner, d.Family, d.Table, d.Chain, d.Rule)
		if d.Element != "" {
			s += "; " + d.Element
		}
		return s
	}
	return fmt.Sprintf("%s %s: %s", d.Owner, d.Kind, d.Rule)
}

// target is what the rule does, as iptables names it: the rule's -j
// target ("" for none), the chain an nftables rule jumps to (through its
// verdict map too), or for an nftables statement its iptables equivalent
// (DNAT, SNAT, MASQUERADE, REDIRECT, MARK, REJECT, DROP).
func (d Decision) target() string {
	if d.Kind == DecisionNFTables {
		return nftTarget(d.Rule, d.Verdict)
	}
	_, t, ok := strings.Cut(d.Rule, " -j ")
	if !ok {
		return ""
	}
	t, _, _ = strings.Cut(t, " ")
	return t
}

func nftTarget(rule, verdict string) string {
	if c, ok := strings.CutPrefix(verdict, "jump "); ok {
		return c
	}
	if c, ok := strings.CutPrefix(verdict, "goto "); ok {
		return c
	}
	has := func(stmt string) bool {
		return strings.HasPrefix(rule, stmt+" ") || strings.Contains(rule, " "+stmt+" ") || strings.HasSuffix(rule, " "+stmt) || rule == stmt
	}
	switch {
	case has("reject"):
		return "REJECT"
	case has("dnat"):
		return "DNAT"
	case has("snat"):
		return "SNAT"
	case has("masquerade"):
		return "MASQUERADE"
	case has("redirect"):
		return "REDIRECT"
	case verdict == "drop" || verdict == "" && has("drop"):
		return "DROP"
	case strings.Contains(rule, "mark set"):
		return "MARK"
	}
	return ""
}

// Observation says how the rules of one namespace on a traced flow's
// path were watched.
type Observation struct {
	Owner     string `json:"owner"`
	Namespace string `json:"namespace"`
	// Method is nftrace (nftables tracing: every rule the flow's packets
	// met, in the order they met them, iptables-nft's and nftables
	// tables' alike), counters (iptables-save -c before and after: the
	// rules whose counters moved, by table, then as listed) or
	// nftrace+counters (iptables-legacy beside an nftables table).
	Method string `json:"method"`
	// Reason is why tracing was not used, or what it missed.
	Reason string `json:"reason,omitempty"`
}

// Methods of observing a namespace's rules.
const (
	MethodNFTrace  = "nftrace"
	MethodCounters = "counters"
)

// flowView is what observers are told of a probe once it ran: its hops,
// the namespaces it crossed, and each leg of it to follow in order.
type flowView struct {
	srcNS           string
	hops, replyHops []Hop // replyHops: the answer's own way (nil: none seen)
	onPath          map[string]bool
	// legs are the packets whose way the decisions follow, in order:
	// the request (and a proxy's own connection after a relay), then
	// the answer.
	legs []leg
	// tuples are, per namespace, the address pairs the flow had there
	// (either direction): a later packet of the flow has one of them.
	tuples map[string][][2]netip.AddrPort
}

// leg is one packet's way: the namespaces it crossed, in order (one
// entry per visit), and how to recognise it anywhere (NAT rewrites its
// addresses, not its IP ID, length or TCP sequence number).
type leg struct {
	packet string // PacketRequest or PacketReply
	nss    []string
	match  func(*packet) bool
}

// An observer watches one kind of dataplane state around a traced probe.
// Tracing knows nothing of modes: a kube-proxy or CNI mode whose decisions
// live somewhere new (eBPF maps, say) adds an observer here.
type observer interface {
	// before starts watching (a snapshot, a subscription).
	before() error
	// after reports what the flow met in the namespaces it crossed
	// (f.onPath). Anything else that moved meanwhile (a fresh interface's
	// IGMP report, say) is not this flow's. It ends the watch.
	after(f *flowView) ([]Decision, []Observation)
	// close ends the watch without a report (the probe could not be
	// explained); after closes too. Both may be called.
	close()
}

// observers are the factories of every observer, given the wiring of the
// plan the lab was brought up with (which namespaces have what) and the
// probe's protocol; each returns nil where it has nothing to watch.
var observers = []func(w *plan.Wiring, proto string) observer{newRulesObserver, newIPVSObserver}

// ---- iptables: rule counters ----------------------------------------------

type iptablesObserver struct {
	nss    []*plan.WiredNamespace
	counts map[string]map[ruleKey]counter
}

// counter is a rule's packet count and its line in iptables-save (the
// order rules are listed in).
type counter struct {
	packets uint64
	line    int
}

type ruleKey struct {
	table, chain string
	index        int // position in the chain; -1 for the chain's policy
	rule         string
}

// newCountersObserver watches the iptables counters of nss (nil if
// none).
func newCountersObserver(nss []*plan.WiredNamespace) *iptablesObserver {
	if len(nss) == 0 {
		return nil
	}
	return &iptablesObserver{nss: nss, counts: map[string]map[ruleKey]counter{}}
}

func (o *iptablesObserver) before() error {
	snaps, err := o.snapshot(nil)
	o.counts = snaps
	return err
}

// snapshot reads iptables-save -c in every namespace with rules that only
// allows (nil: all), in parallel (each is an exec).
func (o *iptablesObserver) snapshot(only map[string]bool) (map[string]map[ruleKey]counter, error) {
	out := make(map[string]map[ruleKey]counter, len(o.nss))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for _, ns := range o.nss {
		if only != nil && !only[ns.Name] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			text, err := netns.Output(ns.Name, "iptables-save", "-c")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			out[ns.Name] = parseSaveCounters(text)
		}()
	}
	wg.Wait()
	return out, firstErr
}

func (o *iptablesObserver) close() {}

func (o *iptablesObserver) after(f *flowView) ([]Decision, []Observation) {
	onPath := f.onPath
	now, _ := o.snapshot(onPath)
	var out []Decision
	for _, ns := range o.nss {
		if !onPath[ns.Name] {
			continue
		}
		before, after := o.counts[ns.Name], now[ns.Name]
		var moved []ruleKey
		for k, n := range after {
			// A chain's ACCEPT policy is not a decision worth listing.
			if n.packets > before[k].packets && k.rule != "policy ACCEPT" {
				moved = append(moved, k)
			}
		}
		// In the order netfilter consults them: by table, then as listed.
		sort.Slice(moved, func(i, j int) bool {
			a, b := moved[i], moved[j]
			if a.table != b.table {
				return tableOrder[a.table] < tableOrder[b.table]
			}
			return after[a].line < after[b].line
		})
		for _, k := range moved {
			d := Decision{Owner: ns.Owner, Namespace: ns.Name, Kind: DecisionIPTables, Table: k.table, Chain: k.chain, Rule: k.rule, Packets: after[k].packets - before[k].packets}
			out = append(out, d)
		}
	}
	return out, nil
}

// tableOrder is the order netfilter consults the tables in at a hook.
var tableOrder = map[string]int{"raw": 0, "mangle": 1, "nat": 2, "filter": 3, "security": 4}

// parseSaveCounters reads iptables-save -c: "[packets:bytes] -A CHAIN ..."
// per rule and ":CHAIN POLICY [packets:bytes]" per built-in chain.
func parseSaveCounters(text string) map[ruleKey]counter {
	out := map[ruleKey]counter{}
	line := 0
	table := ""
	index := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		text := sc.Text()
		line++
		switch {
		case strings.HasPrefix(text, "*"):
			table = text[1:]
			index = map[string]int{}
		case strings.HasPrefix(text, ":"):
			f := strings.Fields(text[1:])
			if len(f) == 3 && f[1] != "-" {
				out[ruleKey{table, f[0], -1, "policy " + f[1]}] = counter{counterPackets(f[2]), line}
			}
		case strings.HasPrefix(text, "["):
			cnt, rule, ok := strings.Cut(text, "] ")
			if !ok {
				continue
			}
			f := strings.Fields(rule)
			if len(f) < 2 || f[0] != "-A" {
				continue
			}
			chain := f[1]
			out[ruleKey{table, chain, index[chain], rule}] = counter{counterPackets(cnt + "]"), line}
			index[chain]++
		}
	}
	return out
}

// parseSaveRules reads iptables-save (with or without -c): every table's
// chains with their rules ("-A CHAIN ...") in order. A table iptables-nft
// cannot read ("# Table `x' is incompatible") is absent.
func parseSaveRules(text string) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	var table map[string][]string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			table = map[string][]string{}
			out[line[1:]] = table
		case table == nil:
		case strings.HasPrefix(line, ":"):
			if f := strings.Fields(line[1:]); len(f) > 0 && table[f[0]] == nil {
				table[f[0]] = []string{}
			}
		default:
			if strings.HasPrefix(line, "[") {
				_, line, _ = strings.Cut(line, "] ")
			}
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "-A" {
				table[f[1]] = append(table[f[1]], line)
			}
		}
	}
	return out
}

func counterPackets(s string) uint64 {
	s = strings.Trim(s, "[]")
	p, _, _ := strings.Cut(s, ":")
	n, _ := strconv.ParseUint(p, 10, 64)
	return n
}

// ---- IPVS: the connection table -------------------------------------------

// ipvsObserver reads IPVS's connection table (ipvsadm -Lnc), which shows a
// connection at once; the per-service statistics lag by about 2 s.
type ipvsObserver struct {
	nss map[string]*plan.WiredNamespace
}

func newIPVSObserver(w *plan.Wiring, _ string) observer {
	o := &ipvsObserver{nss: map[string]*plan.WiredNamespace{}}
	for i := range w.Namespaces {
		if ns := &w.Namespaces[i]; ns.IPVS > 0 {
			o.nss[ns.Name] = ns
		}
	}
	if len(o.nss) == 0 {
		return nil
	}
	return o
}

func (o *ipvsObserver) before() error { return nil }

func (o *ipvsObserver) close() {}

// after reports, for every IPVS namespace the request entered, the
// connection entry IPVS made for it: virtual server and real server.
func (o *ipvsObserver) after(f *flowView) ([]Decision, []Observation) {
	req := f.hops
	var out []Decision
	done := map[string]bool{}
	for _, h := range req {
		ns := o.nss[h.Namespace]
		if ns == nil || done[h.Namespace] || h.Src == "" {
			continue
		}
		done[h.Namespace] = true
		src, err := netip.ParseAddrPort(h.Src)
		if err != nil {
			continue
		}
		conns, err := readProcNet(h.Namespace, "ip_vs_conn")
		if err != nil {
			continue
		}
		for _, c := range parseIPVSConns(conns) {
			if c.from == src {
				out = append(out, Decision{Owner: ns.Owner, Namespace: ns.Name, Kind: DecisionIPVS,
					Rule: fmt.Sprintf("%s %s -> %s (virtual server %s, real server %s, %s)", c.proto, c.from, c.dest, c.to, c.dest, c.state)})
			}
		}
	}
	return out, nil
}

// readProcNet reads /proc/net/<name> as a namespace sees it (the thread's,
// not the process's: /proc/thread-self). It reads with one large buffer:
// IPVS's seq files lose entries when a read is split across several
// small read() calls (seen in the 6.1 guest with os.ReadFile's 512-byte
// first read: a virtual server went missing, now and then).
func readProcNet(ns, name string) (string, error) {
	var out []byte
	err := netns.Do(ns, func() error {
		f, err := os.Open("/proc/thread-self/net/" + name)
		if err != nil {
			return err
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		for {
			n, err := f.Read(buf)
			out = append(out, buf[:n]...)
			if err == io.EOF || n == 0 {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	return string(out), err
}

type ipvsConn struct {
	proto          string
	from, to, dest netip.AddrPort
	state          string
}

// parseIPVSConns reads /proc/net/ip_vs_conn: "TCP 0A0000B4 8F3C C0A80D17
// 0050 AC1760A3 0050 ESTABLISHED 899" (hex addresses and ports).
func parseIPVSConns(text string) []ipvsConn {
	var out []ipvsConn
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || (f[0] != "TCP" && f[0] != "UDP") {
			continue
		}
		from, ok1 := hexAddrPort(f[1], f[2])
		to, ok2 := hexAddrPort(f[3], f[4])
		dest, ok3 := hexAddrPort(f[5], f[6])
		if ok1 && ok2 && ok3 {
			out = append(out, ipvsConn{proto: f[0], from: from, to: to, dest: dest, state: f[7]})
		}
	}
	return out
}

func hexAddrPort(addr, port string) (netip.AddrPort, bool) {
	a, err := hex.DecodeString(addr)
	if err != nil || len(a) != 4 {
		return netip.AddrPort{}, false
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a)), uint16(p)), true
}

// ipvsRealServers reads /proc/net/ip_vs in a namespace and returns how
// many real servers the virtual server vip has (-1: no such service).
func ipvsRealServers(ns string, proto string, vip netip.AddrPort) int {
	text, err := readProcNet(ns, "ip_vs")
	if err != nil {
		return -1
	}
	return countRealServers(text, proto, vip)
}

// countRealServers reads /proc/net/ip_vs: "TCP  0A0000B4:7F44 rr" per
// virtual server, then "  -> AC176052:0050 Masq 1 0 0" per real server.
func countRealServers(text, proto string, vip netip.AddrPort) int {
	n, in := -1, false
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && (f[0] == "TCP" || f[0] == "UDP"):
			a, p, _ := strings.Cut(f[1], ":")
			ap, ok := hexAddrPort(a, p)
			in = ok && f[0] == strings.ToUpper(proto) && ap == vip
			if in {
				n = 0
			}
		case in && len(f) >= 2 && f[0] == "->" && f[1] != "RemoteAddress:Port":
			n++
		}
	}
	return n
}
