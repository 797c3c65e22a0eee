package dataplane

// iptables rules as the reading evaluates them (see dataplane.go): the
// matches and targets kube-proxy (1.1 on) and the CNIs write, parsed once
// per rule.

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

type iptTable struct {
	name   string
	chains map[string]*iptChain
}

type iptChain struct {
	name, policy string
	rules        []*iptRule
}

// tri is a match's answer: no, yes, or either (the kernel decides by
// chance or by state the plan does not hold).
type tri int

const (
	no tri = iota
	yes
	either
)

type iptRule struct {
	text    string // "-A CHAIN ..." as in the ruleset
	matches []iptMatch
	target  string // "" (none), a built-in target or a chain
	goTo    bool
	topts   map[string]string
	// unsure: a part of the rule not understood; the rule is then
	// skipped (never matched) and the packets it was tried on marked.
	unsure bool
}

type iptMatch struct {
	neg  bool
	test func(d *Dataplane, p *packet) tri
	// affinity is set on a recent --rcheck match: the path where it
	// matches is a returning client's.
	affinity int
}

func newIPTTable(t *plan.Table) *iptTable {
	out := &iptTable{name: t.Name, chains: map[string]*iptChain{}}
	for _, c := range t.Chains {
		ch := &iptChain{name: c.Name, policy: c.Policy}
		for _, r := range c.Rules {
			ch.rules = append(ch.rules, parseIPTRule(c.Name, r))
		}
		out.chains[c.Name] = ch
	}
	return out
}

// shellFields splits a rule as iptables-restore does: on blanks, with
// double quotes grouping.
func shellFields(s string) []string {
	var out []string
	var b strings.Builder
	in, has := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			in, has = !in, true
		case c == '\\' && in && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case (c == ' ' || c == '\t') && !in:
			if has {
				out = append(out, b.String())
				b.Reset()
				has = false
			}
		default:
			b.WriteByte(c)
			has = true
		}
	}
	if has {
		out = append(out, b.String())
	}
	return out
}

func parsePort(s string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(s, ":")
	l, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return l, l, true
	}
	h, err := strconv.Atoi(b)
	return l, h, err == nil
}

func parseMark(s string) (val, mask uint32, ok bool) {
	v, m, hasMask := strings.Cut(s, "/")
	x, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return 0, 0, false
	}
	mask = 0xffffffff
	if hasMask {
		y, err := strconv.ParseUint(m, 0, 32)
		if err != nil {
			return 0, 0, false
		}
		mask = uint32(y)
	}
	return uint32(x), mask, true
}

func boolTri(b bool) tri {
	if b {
		return yes
	}
	return no
}

// targetOpts are the options a target takes (all with a value except
// the flags listed in targetFlags).
var targetOpts = map[string]bool{
	"--to-destination": true, "--to-ports": true, "--to-source": true, "--set-xmark": true, "--or-mark": true,
	"--xor-mark": true, "--and-mark": true, "--set-mark": true, "--reject-with": true, "--log-prefix": true,
	"--log-level": true, "--nflog-group": true, "--nflog-prefix": true,
}

var targetFlags = map[string]bool{"--random-fully": true, "--random": true, "--persistent": true}

// parseIPTRule parses the text after "-A CHAIN ".
func parseIPTRule(chain, text string) *iptRule {
	r := &iptRule{text: "-A " + chain + " " + text, topts: map[string]string{}}
	f := shellFields(text)
	neg := false
	module := ""
	var stat, recent struct {
		on            bool
		rcheck, reap  bool
		seconds, name string
	}
	i := 0
	next := func() string {
		i++
		if i < len(f) {
			return f[i]
		}
		r.unsure = true
		return ""
	}
	add := func(t func(d *Dataplane, p *packet) tri) {
		r.matches = append(r.matches, iptMatch{neg: neg, test: t})
	}
	addrMatch := func(get func(p *packet) netip.Addr) {
		pfx := prefixOrAddr(next())
		if !pfx.IsValid() {
			r.unsure = true
			return
		}
		add(func(d *Dataplane, p *packet) tri { return boolTri(pfx.Contains(get(p))) })
	}
	ifaceMatch := func(get func(p *packet) string) {
		name := next()
		add(func(d *Dataplane, p *packet) tri {
			if pre, ok := strings.CutSuffix(name, "+"); ok {
				return boolTri(strings.HasPrefix(get(p), pre))
			}
			return boolTri(get(p) == name)
		})
	}
	for ; i < len(f); i++ {
		tok := f[i]
		if tok == "!" {
			neg = true
			continue
		}
		if r.target != "" {
			// After -j/-g: the target's options.
			switch {
			case targetOpts[tok]:
				r.topts[tok] = next()
			case targetFlags[tok]:
				r.topts[tok] = ""
			default:
				r.unsure = true
			}
			neg = false
			continue
		}
		switch tok {
		case "-p", "--protocol":
			proto := strings.ToLower(next())
			module = proto
			add(func(d *Dataplane, p *packet) tri { return boolTri(proto == "all" || p.proto == proto) })
		case "-s", "--src", "--source":
			addrMatch(func(p *packet) netip.Addr { return p.src })
		case "-d", "--dst", "--destination":
			addrMatch(func(p *packet) netip.Addr { return p.dst })
		case "-i", "--in-interface":
			ifaceMatch(func(p *packet) string { return p.iif })
		case "-o", "--out-interface":
			ifaceMatch(func(p *packet) string { return p.oif })
		case "-m", "--match":
			module = next()
			switch module {
			case "comment", "tcp", "udp", "sctp", "multiport", "addrtype", "conntrack", "state", "mark",
				"set", "statistic", "recent", "nfacct", "physdev", "ipvs":
			default:
				r.unsure = true
			}
		case "-j", "--jump":
			r.target = next()
		case "-g", "--goto":
			r.target, r.goTo = next(), true
		case "--comment":
			next()
		case "--dport", "--destination-port", "--sport", "--source-port":
			lo, hi, ok := parsePort(next())
			if !ok {
				r.unsure = true
				break
			}
			dst := tok == "--dport" || tok == "--destination-port"
			add(func(d *Dataplane, p *packet) tri {
				port := p.sport
				if dst {
					port = p.dport
				}
				return boolTri(port >= lo && port <= hi)
			})
		case "--dports", "--destination-ports", "--ports":
			var ranges [][2]int
			for _, s := range strings.Split(next(), ",") {
				lo, hi, ok := parsePort(s)
				if !ok {
					r.unsure = true
				}
				ranges = append(ranges, [2]int{lo, hi})
			}
			add(func(d *Dataplane, p *packet) tri {
				for _, rg := range ranges {
					if p.dport >= rg[0] && p.dport <= rg[1] {
						return yes
					}
				}
				return no
			})
		case "--dst-type", "--src-type":
			typ := next()
			if typ != "LOCAL" {
				r.unsure = true
				break
			}
			dst := tok == "--dst-type"
			add(func(d *Dataplane, p *packet) tri {
				a := p.src
				if dst {
					a = p.dst
				}
				return boolTri(d.isLocal(a))
			})
		case "--ctstate", "--state":
			states := strings.Split(next(), ",")
			add(func(d *Dataplane, p *packet) tri {
				for _, s := range states {
					if s == "NEW" || (s == "DNAT" && p.dnat) {
						return yes
					}
				}
				return no
			})
		case "--mark":
			if module != "mark" {
				r.unsure = true
				next()
				break
			}
			val, mask, ok := parseMark(next())
			if !ok {
				r.unsure = true
				break
			}
			add(func(d *Dataplane, p *packet) tri { return boolTri(p.mark&mask == val) })
		case "--match-set":
			name, flags := next(), next()
			add(func(d *Dataplane, p *packet) tri {
				s := d.sets[name]
				if s == nil || s.bad {
					p.addUnsure("ipset " + name)
					return no
				}
				return boolTri(s.test(p, flags))
			})
		case "--mode":
			stat.on = true
			next()
		case "--probability", "--every", "--packet":
			stat.on = true
			next()
		case "--name":
			recent.on, recent.name = true, next()
		case "--rcheck", "--update":
			recent.on, recent.rcheck = true, true
		case "--set":
			if module != "recent" {
				r.unsure = true
			}
			recent.on = true
		case "--seconds":
			recent.seconds = next()
		case "--reap", "--rsource":
		case "--nfacct-name":
			next()
		case "--physdev-is-in":
			add(func(d *Dataplane, p *packet) tri { return boolTri(p.physIn) })
		case "--ipvs":
			add(func(d *Dataplane, p *packet) tri { return boolTri(p.vs != nil) })
		case "--vaddr":
			pfx := prefixOrAddr(next())
			add(func(d *Dataplane, p *packet) tri {
				if p.vs == nil {
					return no
				}
				a, _ := netip.ParseAddr(p.vs.Addr)
				return boolTri(pfx.Contains(a))
			})
		case "--vport":
			port, _ := strconv.Atoi(next())
			add(func(d *Dataplane, p *packet) tri { return boolTri(p.vs != nil && p.vs.Port == port) })
		case "--vproto":
			proto := strings.ToLower(next())
			add(func(d *Dataplane, p *packet) tri { return boolTri(p.vs != nil && p.vs.Proto == proto) })
		case "--vdir":
			dir := next()
			add(func(d *Dataplane, p *packet) tri { return boolTri(p.vs != nil && dir == "ORIGINAL") })
		case "--vmethod":
			m := next()
			add(func(d *Dataplane, p *packet) tri { return boolTri(p.vs != nil && m == "MASQ") })
		default:
			r.unsure = true
		}
		neg = false
	}
	if stat.on {
		r.matches = append(r.matches, iptMatch{test: func(*Dataplane, *packet) tri { return either }})
	}
	if recent.on && recent.rcheck {
		secs, _ := strconv.Atoi(recent.seconds)
		r.matches = append(r.matches, iptMatch{test: func(*Dataplane, *packet) tri { return either }, affinity: max(secs, 1)})
	}
	return r
}

// match evaluates a rule's matches: no as soon as one fails, either when
// one is up to chance, yes otherwise.
func (r *iptRule) match(d *Dataplane, p *packet) (tri, int) {
	res, aff := yes, 0
	for _, m := range r.matches {
		t := m.test(d, p)
		if m.neg {
			switch t {
			case yes:
				t = no
			case no:
				t = yes
			}
		}
		switch t {
		case no:
			return no, 0
		case either:
			res = either
			if m.affinity > 0 {
				aff = m.affinity
			}
		}
	}
	return res, aff
}

// maxDepth bounds jumps (a loop in a ruleset iptables-restore would
// refuse, but the plan is not checked by the kernel here).
const maxDepth = 64

// runBuiltin evaluates a built-in chain at hook: its rules, then its
// policy.
func (t *iptTable) runBuiltin(d *Dataplane, chain string, p packet, hook string) []flow {
	flows := t.run(d, t.chains[chain], 0, p, hook, 0)
	pol := t.chains[chain].policy
	for i := range flows {
		if flows[i].v == vContinue {
			flows[i].v = vAccept
			if pol == "DROP" {
				flows[i].v = vDrop
			}
		}
	}
	return flows
}

// run evaluates chain c from rule i on.
func (t *iptTable) run(d *Dataplane, c *iptChain, i int, p packet, hook string, depth int) []flow {
	if depth > maxDepth {
		p.addUnsure("jumps nested deeper than " + strconv.Itoa(maxDepth))
		return []flow{{p, vContinue}}
	}
	for ; i < len(c.rules); i++ {
		r := c.rules[i]
		if r.unsure {
			p.addUnsure(r.text)
			continue
		}
		m, aff := r.match(d, &p)
		switch m {
		case no:
			continue
		case either:
			q := p
			if aff > 0 {
				q.affinity = aff
			}
			return append(t.apply(d, c, i, r, q, hook, depth), t.run(d, c, i+1, p, hook, depth)...)
		}
		return t.apply(d, c, i, r, p, hook, depth)
	}
	return []flow{{p, vContinue}}
}

// apply runs rule i's target on a packet it matched, and what follows.
func (t *iptTable) apply(d *Dataplane, c *iptChain, i int, r *iptRule, p packet, hook string, depth int) []flow {
	cont := func(p packet) []flow { return t.run(d, c, i+1, p, hook, depth) }
	switch r.target {
	case "":
		return cont(p)
	case "ACCEPT":
		return []flow{{p, vAccept}}
	case "DROP":
		return []flow{{p, vDrop}}
	case "REJECT":
		return []flow{{p, vReject}}
	case "RETURN":
		return []flow{{p, vContinue}}
	case "MARK":
		for opt, v := range r.topts {
			val, mask, ok := parseMark(v)
			if !ok {
				p.addUnsure(r.text)
				continue
			}
			switch opt {
			case "--set-xmark":
				p.mark = (p.mark &^ mask) ^ val
			case "--set-mark":
				p.mark = (p.mark &^ mask) | val
			case "--or-mark":
				p.mark |= val
			case "--xor-mark":
				p.mark ^= val
			case "--and-mark":
				p.mark &= val
			}
		}
		return cont(p)
	case "DNAT":
		to := r.topts["--to-destination"]
		host, port, hasPort := strings.Cut(to, ":")
		a, err := netip.ParseAddr(host)
		if err != nil {
			p.addUnsure(r.text)
			return cont(p)
		}
		p.dst = a
		if hasPort {
			if n, err := strconv.Atoi(port); err == nil {
				p.dport = n
			}
		}
		p.dnat, p.natted = true, hook
		return []flow{{p, vAccept}}
	case "REDIRECT":
		if n, err := strconv.Atoi(r.topts["--to-ports"]); err == nil {
			p.dport = n
		}
		// To the incoming device's first address; a local process's
		// packet goes to 127.0.0.1.
		if a, ok := d.primary[p.iif]; ok && hook == "prerouting" {
			p.dst = a
		} else {
			p.dst = netip.MustParseAddr("127.0.0.1")
		}
		p.dnat, p.natted = true, hook
		return []flow{{p, vAccept}}
	case "MASQUERADE", "SNAT":
		p.snat, p.natted = true, hook
		return []flow{{p, vAccept}}
	case "LOG", "NFLOG", "TRACE", "CHECKSUM", "TCPMSS":
		return cont(p)
	}
	sub := t.chains[r.target]
	if sub == nil {
		p.addUnsure(r.text)
		return cont(p)
	}
	var out []flow
	for _, f := range t.run(d, sub, 0, p, hook, depth+1) {
		switch {
		case f.v != vContinue:
			out = append(out, f)
		case r.goTo:
			// -g: the chain returns to this chain's caller.
			out = append(out, f)
		default:
			out = append(out, cont(f.p)...)
		}
	}
	return out
}
