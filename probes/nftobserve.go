package probes

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
)

// rulesObserver watches the rules of every namespace that has a ruleset
// (iptables, or an nftables table of its own): by nftables tracing where
// it can, which names every rule the flow's packets met in the order they
// met them; else by iptables-save counters, which name the rules that
// moved but not in which order.
type rulesObserver struct {
	nss      []*plan.WiredNamespace
	protos   []uint8
	socks    map[string]*traceSocket
	counters *iptablesObserver
	notes    map[string]Observation
}

func newRulesObserver(w *plan.Wiring, proto string) observer {
	o := &rulesObserver{socks: map[string]*traceSocket{}, notes: map[string]Observation{},
		// The probe's protocol, and ICMP for the errors that answer it.
		protos: []uint8{protoNumber(proto), unix.IPPROTO_ICMP}}
	for i := range w.Namespaces {
		if ns := &w.Namespaces[i]; ns.IPTables || ns.NFTables {
			o.nss = append(o.nss, ns)
		}
	}
	if len(o.nss) == 0 {
		return nil
	}
	return o
}

// traceOff says why tracing is turned off ("" when it is not):
// NETLAB_NFTRACE=0 keeps the counters everywhere (to compare, or where a
// kernel's tracing misbehaves).
func traceOff() string {
	switch strings.ToLower(os.Getenv("NETLAB_NFTRACE")) {
	case "0", "off", "false", "no":
		return "tracing turned off by NETLAB_NFTRACE=0"
	}
	return ""
}

// iptablesLegacy says the host's iptables is iptables-legacy, whose rules
// live in x_tables, where nftables tracing does not see them. The binary
// is the host's, the same for every namespace.
var iptablesLegacy = sync.OnceValue(func() bool {
	out, err := exec.Command("iptables", "-V").Output()
	return err == nil && strings.Contains(string(out), "legacy")
})

func (o *rulesObserver) before() error {
	off := traceOff()
	counted := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ns := range o.nss {
		note := Observation{Owner: ns.Owner, Namespace: ns.Name, Method: MethodNFTrace}
		switch {
		case off != "":
			note.Method, note.Reason = MethodCounters, off
			if !ns.IPTables {
				note.Method = "none"
			}
			if ns.NFTables {
				note.Reason += "; counters do not show its nftables table"
			}
			counted[ns.Name] = ns.IPTables
			o.notes[ns.Name] = note
			continue
		case ns.IPTables && iptablesLegacy():
			counted[ns.Name] = true
			note.Method, note.Reason = MethodCounters, "iptables-legacy: its rules are not nftables rules, which tracing sees"
			o.notes[ns.Name] = note
			if !ns.NFTables {
				continue
			}
			note.Method = MethodNFTrace + "+" + MethodCounters
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := openTrace(ns.Name, o.protos)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				note.Method, note.Reason = MethodCounters, err.Error()
				if !ns.IPTables {
					note.Method = "none"
				}
				counted[ns.Name] = ns.IPTables
			} else {
				o.socks[ns.Name] = s
			}
			o.notes[ns.Name] = note
		}()
	}
	wg.Wait()
	var cnss []*plan.WiredNamespace
	for _, ns := range o.nss {
		if counted[ns.Name] {
			cnss = append(cnss, ns)
		}
	}
	if o.counters = newCountersObserver(cnss); o.counters != nil {
		if err := o.counters.before(); err != nil {
			o.counters = nil
			for _, ns := range cnss {
				n := o.notes[ns.Name]
				n.Reason += "; iptables-save -c failed: " + err.Error()
				o.notes[ns.Name] = n
			}
		}
	}
	return nil
}

// close removes netlab's trace tables, in parallel.
func (o *rulesObserver) close() {
	var wg sync.WaitGroup
	for _, s := range o.socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.close()
		}()
	}
	wg.Wait()
	o.socks = map[string]*traceSocket{}
}

func (o *rulesObserver) after(f *flowView) ([]Decision, []Observation) {
	events := map[string][]traceEvent{}
	lost := map[string]bool{}
	for name, s := range o.socks {
		if f.onPath[name] {
			events[name] = s.drain()
			lost[name] = s.lost
		}
	}
	byName := map[string]*plan.WiredNamespace{}
	for _, ns := range o.nss {
		byName[ns.Name] = ns
	}
	// The rules are read before the trace tables go: removing a table
	// is an nf_tables commit, and the next NETLINK_NETFILTER socket to
	// close anywhere (iptables-save's, nft's, a rule dump's) waits for
	// its RCU grace period, 20-30 ms here. Read first, that wait is paid
	// once, as the trace sockets close.
	out := traceDecisions(f, events, byName)
	o.close()
	if o.counters != nil {
		ds, _ := o.counters.after(f)
		out = append(out, ds...)
	}
	var notes []Observation
	for _, ns := range o.nss {
		if n, ok := o.notes[ns.Name]; ok && f.onPath[ns.Name] {
			if lost[ns.Name] {
				n.Reason = strings.TrimPrefix(n.Reason+"; the kernel dropped trace events (receive buffer full): rules may be missing", "; ")
			}
			notes = append(notes, n)
		}
	}
	return out, notes
}

// ---- from events to decisions ---------------------------------------------

// visit is one pass of one packet through one namespace's hooks: from
// netlab's chain at prerouting or output (where it entered, or was
// made) to where it left or ended.
type visit struct {
	id    uint32
	entry *packet // as it entered
	cur   *packet // as the last base chain saw it (NAT changes it)
	steps []step
}

// step is one rule the packet met, with the packet as that rule's base
// chain saw it.
type step struct {
	ev  traceEvent
	pkt *packet
}

// ruleID is one rule (or one chain's policy) of a namespace.
type ruleID struct {
	family       uint8
	table, chain string
	handle       uint64
	policy       bool
}

func (s step) rule() ruleID {
	return ruleID{s.ev.Family, s.ev.Table, s.ev.Chain, s.ev.Handle, s.ev.Type == unix.NFT_TRACETYPE_POLICY}
}

// groupVisits cuts a namespace's events into visits. A packet's visit
// starts at netlab's chain, which every traced packet meets first. The
// trace id groups the events of one base chain's run (the first of them
// carries the packet's headers, the others follow it), but not always a
// packet's runs: the kernel hashes the skb's address, its flow hash and
// its input device into it, so later packets reuse ids, and a frame a
// bridge forwards (br_netfilter) comes back with a new one. So the
// headers of each base chain's first event say whose packet it is: the
// visit of that id if the packet is the same (NAT changes addresses, not
// the IP ID, length, sequence numbers or flags), else the latest visit of
// that packet. Netlab's own rules, the ends of chains (a rule event
// without a handle), returns from chains and accepting policies are not
// decisions.
func groupVisits(events []traceEvent) []*visit {
	var out []*visit
	byID := map[uint32]*visit{}
	for _, e := range events {
		p := e.packet()
		if e.Family == nfprotoIPv4 && e.Table == traceTableName {
			if p != nil {
				v := &visit{id: e.ID, entry: p, cur: p}
				out = append(out, v)
				byID[e.ID] = v
			}
			continue
		}
		v := byID[e.ID]
		if p != nil {
			if v == nil || !samePacket(*v.cur)(p) {
				v = nil
				for i := len(out) - 1; i >= 0 && v == nil; i-- {
					if samePacket(*out[i].cur)(p) {
						v = out[i]
					}
				}
			}
			if v == nil {
				// Traced before netlab's chain (another table's
				// nftrace): a visit from here.
				v = &visit{id: e.ID, entry: p}
				out = append(out, v)
			}
			byID[e.ID] = v
			v.cur = p
		}
		if v == nil {
			continue
		}
		switch {
		case e.Type == unix.NFT_TRACETYPE_RETURN:
		case e.Type == unix.NFT_TRACETYPE_RULE && e.Handle == 0:
		case e.Type == unix.NFT_TRACETYPE_POLICY && e.Policy == 1: // NF_ACCEPT
		default:
			v.steps = append(v.steps, step{ev: e, pkt: v.cur})
		}
	}
	return out
}

// picked is a visit reported as a leg's packet.
type picked struct {
	ns     string
	v      *visit
	packet string
}

// traceDecisions turns the events of every namespace into decisions, in
// the order the flow met them: the request's first packet namespace by
// namespace along its hops, then the answer's along its own, then the
// rules later packets of the flow met that neither first packet did.
func traceDecisions(f *flowView, events map[string][]traceEvent, nss map[string]*plan.WiredNamespace) []Decision {
	visits := map[string][]*visit{}
	for ns, es := range events {
		visits[ns] = groupVisits(es)
	}
	used := map[*visit]bool{}
	var picks []picked
	var order []string // namespaces in the order the flow reached them
	for _, lg := range f.legs {
		last := map[string]int{}
		for i, ns := range lg.nss {
			last[ns] = i
		}
		for i, ns := range lg.nss {
			if !slices.Contains(order, ns) {
				order = append(order, ns)
			}
			// The k-th visit of a namespace on the leg is its k-th
			// matching visit; the last takes every one left (a packet
			// looped through lo is two visits on one hop).
			for _, v := range visits[ns] {
				if used[v] || !lg.match(v.entry) {
					continue
				}
				used[v] = true
				picks = append(picks, picked{ns, v, lg.packet})
				if i != last[ns] {
					break
				}
			}
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(visits)) {
		if f.onPath[ns] && !slices.Contains(order, ns) {
			order = append(order, ns)
		}
	}
	var later []picked
	for _, ns := range order {
		for _, v := range visits[ns] {
			if !used[v] && inFlow(f.tuples[ns], v.entry) {
				later = append(later, picked{ns, v, PacketLater})
			}
		}
	}
	// How many of the flow's packets met each rule.
	count := map[string]map[ruleID]uint64{}
	for _, p := range append(append([]picked(nil), picks...), later...) {
		if count[p.ns] == nil {
			count[p.ns] = map[ruleID]uint64{}
		}
		seen := map[ruleID]bool{}
		for _, s := range p.v.steps {
			if id := s.rule(); !seen[id] {
				seen[id] = true
				count[p.ns][id]++
			}
		}
	}
	rules := loadAllRules(nss, count)
	var out []Decision
	reported := map[string]map[ruleID]bool{}
	for _, p := range append(picks, later...) {
		if reported[p.ns] == nil {
			reported[p.ns] = map[ruleID]bool{}
		}
		for _, s := range p.v.steps {
			id := s.rule()
			if p.packet == PacketLater && reported[p.ns][id] {
				continue
			}
			reported[p.ns][id] = true
			d := rules[p.ns].decision(nss[p.ns], s, p.packet)
			d.Packets = count[p.ns][id]
			out = append(out, d)
		}
	}
	return out
}

// inFlow says a packet has one of the flow's address pairs, either way.
func inFlow(tuples [][2]netip.AddrPort, p *packet) bool {
	for _, t := range tuples {
		if p.Src == t[0] && p.Dst == t[1] || p.Src == t[1] && p.Dst == t[0] {
			return true
		}
	}
	return false
}

// ---- rule texts -------------------------------------------------------------

// nsRules is what names the traced rules of one namespace: iptables-save
// and the rule handles of its iptables-nft tables, and nft's listing of
// the other tables the flow met.
type nsRules struct {
	save    map[string]map[string][]string
	handles map[string]map[string][]uint64
	nft     map[tableKey]*nftTable
}

type tableKey struct {
	family uint8
	name   string
}

// iptablesTables are the tables iptables-nft makes (family ip).
var iptablesTables = map[string]bool{"filter": true, "nat": true, "mangle": true, "raw": true, "security": true}

// loadAllRules reads, in parallel, the rules of the tables the flow met
// in each namespace.
func loadAllRules(nss map[string]*plan.WiredNamespace, met map[string]map[ruleID]uint64) map[string]*nsRules {
	out := map[string]*nsRules{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, ids := range met {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := loadRules(nss[name], ids)
			mu.Lock()
			out[name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func loadRules(ns *plan.WiredNamespace, ids map[ruleID]uint64) *nsRules {
	r := &nsRules{handles: map[string]map[string][]uint64{}, nft: map[tableKey]*nftTable{}}
	tables := map[tableKey]bool{}
	for id := range ids {
		tables[tableKey{id.family, id.table}] = true
	}
	// The iptables-nft chains met, by table.
	ipt := map[string][]string{}
	for id := range ids {
		if id.family == nfprotoIPv4 && iptablesTables[id.table] && ns != nil && ns.IPTables && !slices.Contains(ipt[id.table], id.chain) {
			ipt[id.table] = append(ipt[id.table], id.chain)
		}
	}
	if len(ipt) > 0 {
		if text, err := netns.Output(ns.Name, "iptables-save"); err == nil {
			r.save = parseSaveRules(text)
		}
		_ = netns.Do(ns.Name, func() error {
			for t, chains := range ipt {
				r.handles[t] = map[string][]uint64{}
				for _, c := range chains {
					if h, err := ruleHandles(t, c); err == nil {
						r.handles[t][c] = h
					}
				}
			}
			return nil
		})
	}
	// Every other table, and an iptables table whose chains do not line
	// up with iptables-save, is named by nft.
	for t := range tables {
		if r.iptables(t) && r.linesUp(t, ids) {
			continue
		}
		fam := familyName(t.family)
		if ns == nil || fam == "" {
			continue
		}
		if text, err := netns.Output(ns.Name, "nft", "-a", "list", "table", fam, t.name); err == nil {
			for _, tb := range parseNFTList(text) {
				r.nft[t] = tb
			}
		}
	}
	return r
}

// iptables says a table is iptables-nft's: iptables-save shows it.
func (r *nsRules) iptables(t tableKey) bool {
	return t.family == nfprotoIPv4 && r.save[t.name] != nil && r.handles[t.name] != nil
}

// linesUp says every chain of t the flow met has as many rules in
// iptables-save as in the kernel: the n-th handle is the n-th -A line.
func (r *nsRules) linesUp(t tableKey, ids map[ruleID]uint64) bool {
	for id := range ids {
		if id.family == t.family && id.table == t.name && len(r.save[t.name][id.chain]) != len(r.handles[t.name][id.chain]) {
			return false
		}
	}
	return true
}

func familyName(f uint8) string {
	return map[uint8]string{1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}[f]
}

// decision names one traced rule: the iptables-save rule at the same
// position of its chain for an iptables-nft table, else nft's text of it.
func (r *nsRules) decision(ns *plan.WiredNamespace, s step, pkt string) Decision {
	e := s.ev
	d := Decision{Chain: e.Chain, Verdict: e.verdictText(), Packet: pkt}
	if ns != nil {
		d.Owner, d.Namespace = ns.Owner, ns.Name
	}
	if r == nil {
		r = &nsRules{}
	}
	t := tableKey{e.Family, e.Table}
	policy := e.Type == unix.NFT_TRACETYPE_POLICY
	if r.iptables(t) {
		rules, handles := r.save[t.name][e.Chain], r.handles[t.name][e.Chain]
		i := slices.Index(handles, e.Handle)
		switch {
		case policy:
			d.Kind, d.Table, d.Rule = DecisionIPTables, e.Table, "policy "+strings.ToUpper(d.Verdict)
			return d
		case i >= 0 && len(rules) == len(handles):
			d.Kind, d.Table, d.Rule = DecisionIPTables, e.Table, rules[i]
			return d
		}
	}
	d.Kind, d.Family, d.Table = DecisionNFTables, familyName(e.Family), e.Table
	switch tb := r.nft[t]; {
	case policy:
		d.Rule = "policy " + d.Verdict
	case tb != nil && tb.chains[e.Chain] != nil && tb.chains[e.Chain].rules[e.Handle] != "":
		d.Rule = tb.chains[e.Chain].rules[e.Handle]
		d.Element = vmapElement(tb, d.Rule, d.Verdict, s.pkt)
	default:
		d.Rule = fmt.Sprintf("rule handle %d (no longer in the ruleset)", e.Handle)
	}
	return d
}
