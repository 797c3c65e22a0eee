package dataplane

// nftables rulesets (nft -f input, one "add ..." command a line, as
// kube-proxy's nftables mode writes its table through knftables) as the
// reading evaluates them (see dataplane.go): the expressions and
// statements kube-proxy 1.29-1.37 writes.

import (
	"net/netip"
	"strconv"
	"strings"
)

type nftTable struct {
	family, name string
	chains       map[string]*nftChain
	sets         map[string]*nftSet
	base         []*nftChain
}

type nftChain struct {
	name string
	// typ, hook and prio for a base chain; policy "drop" or accept.
	typ, hook, policy string
	prio              int
	rules             []*nftRule
}

type nftSet struct {
	name  string
	isMap bool
	types []string // the key's component types
	// dynamic: the kernel adds elements (affinity sets); timeout is their
	// lifetime in seconds.
	dynamic bool
	timeout int
	elems   []*nftElem
	index   map[string]*nftElem // by canonical key, when no element is a range
	ranged  bool
}

type nftElem struct {
	key   []string
	value []string // a map's value tokens: "goto X", "10.0.0.1 . 80"
}

type nftRule struct {
	text   string
	steps  []nftStep
	unsure bool
}

// Step kinds.
const (
	stMatch   = iota // sel op vals
	stSet            // sel(s) in @set
	stVmap           // sel(s) vmap @map or { ... }
	stVerdict        // jump/goto X, accept, drop, reject, return
	stMark           // mark set ...
	stMasq           // masquerade / snat
	stDNAT           // dnat to addr[:port]
	stDNATMap        // dnat ip addr . port to numgen ... map { ... }
)

type nftStep struct {
	kind    int
	sels    []nftSel
	neg     bool
	mask    uint32
	hasMask bool
	vals    []string
	set     string     // @name
	inline  []*nftElem // an inline vmap or map
	verdict string     // jump, goto, accept, drop, reject, return
	target  string
	markOp  string // or, xor, and, set
	markVal uint32
	to      string // dnat address
}

// nftSel is a selector: what part of the packet an expression looks at.
type nftSel struct {
	kind  string // saddr, daddr, l4proto, dport, sport, fibsaddr, fibdaddr, ctstate, ctstatus, mark, iifname, oifname, numgen
	proto string // tcp/udp/sctp for "tcp dport": the protocol it implies
	mod   int    // numgen modulus
}

// nftFields splits an nft command: on blanks, quotes grouping, and braces,
// commas and semicolons standing alone.
func nftFields(s string) []string {
	var out []string
	for _, f := range shellFields(s) {
		var tail []string
		for len(f) > 1 && (strings.HasSuffix(f, ",") || strings.HasSuffix(f, ";") || strings.HasSuffix(f, "}")) {
			tail = append([]string{f[len(f)-1:]}, tail...)
			f = f[:len(f)-1]
		}
		for len(f) > 1 && strings.HasPrefix(f, "{") {
			out = append(out, "{")
			f = f[1:]
		}
		out = append(out, f)
		out = append(out, tail...)
	}
	return out
}

// Named priorities (nft's "dstnat" and so on).
var nftPrio = map[string]int{"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}

// parseNFT reads nft -f input; notes are the lines it could not take in.
func parseNFT(text string) (tables []*nftTable, notes []string) {
	byName := map[string]*nftTable{}
	table := func(family, name string) *nftTable {
		key := family + " " + name
		t := byName[key]
		if t == nil {
			t = &nftTable{family: family, name: name, chains: map[string]*nftChain{}, sets: map[string]*nftSet{}}
			byName[key] = t
			tables = append(tables, t)
		}
		return t
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := nftFields(line)
		if len(f) < 3 {
			notes = append(notes, "nftables: "+line)
			continue
		}
		verb, obj := f[0], f[1]
		if obj == "table" {
			if verb == "add" || verb == "create" || verb == "table" {
				table(f[2], at(f, 3))
			}
			continue
		}
		if len(f) < 5 || (f[2] != "ip" && f[2] != "inet") {
			// ip6, bridge, netdev tables: not IPv4 paths.
			if len(f) >= 3 && f[2] != "ip6" {
				notes = append(notes, "nftables: "+line)
			}
			continue
		}
		t := table(f[2], f[3])
		name := f[4]
		rest := f[5:]
		switch {
		case obj == "chain" && (verb == "add" || verb == "create"):
			c := t.chains[name]
			if c == nil {
				c = &nftChain{name: name}
				t.chains[name] = c
			}
			if parseChainSpec(c, rest) && !containsChain(t.base, c) {
				t.base = append(t.base, c)
			}
		case obj == "chain" && verb == "flush":
			if c := t.chains[name]; c != nil {
				c.rules = nil
			}
		case obj == "chain" && verb == "delete":
			delete(t.chains, name)
		case (obj == "set" || obj == "map") && (verb == "add" || verb == "create"):
			if t.sets[name] == nil {
				t.sets[name] = parseSetSpec(name, obj == "map", rest)
			}
		case (obj == "set" || obj == "map") && verb == "flush":
			if s := t.sets[name]; s != nil {
				s.elems, s.index = nil, nil
			}
		case obj == "element" && verb == "add":
			s := t.sets[name]
			if s == nil {
				notes = append(notes, "nftables: element of an undeclared set: "+line)
				continue
			}
			for _, e := range parseElements(rest) {
				s.add(e)
			}
		case obj == "rule" && (verb == "add" || verb == "insert"):
			c := t.chains[name]
			if c == nil {
				c = &nftChain{name: name}
				t.chains[name] = c
			}
			r := parseNFTRule(line, rest)
			if verb == "insert" {
				c.rules = append([]*nftRule{r}, c.rules...)
			} else {
				c.rules = append(c.rules, r)
			}
		case obj == "counter" || obj == "flowtable" || obj == "quota" || obj == "limit":
		default:
			notes = append(notes, "nftables: "+line)
		}
	}
	return tables, notes
}

func at(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func containsChain(cs []*nftChain, c *nftChain) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// parseChainSpec reads "{ type T hook H priority P ; policy X ; }"; it
// reports whether the chain is a base chain.
func parseChainSpec(c *nftChain, f []string) bool {
	base := false
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "type":
			c.typ, base = at(f, i+1), true
			if at(f, i+2) == "hook" {
				c.hook = at(f, i+3)
				i += 3
			}
		case "priority":
			var expr []string
			for i++; i < len(f) && f[i] != ";" && f[i] != "}"; i++ {
				expr = append(expr, f[i])
			}
			c.prio = parsePrio(expr)
		case "policy":
			c.policy = at(f, i+1)
		}
	}
	return base
}

// parsePrio evaluates "-100", "dstnat", "dstnat - 10", "filter + 5".
func parsePrio(expr []string) int {
	total, sign := 0, 1
	for _, e := range expr {
		switch e {
		case "+":
			sign = 1
		case "-":
			sign = -1
		default:
			n, ok := nftPrio[e]
			if !ok {
				n, _ = strconv.Atoi(e)
			}
			total += sign * n
			sign = 1
		}
	}
	return total
}

func parseSetSpec(name string, isMap bool, f []string) *nftSet {
	s := &nftSet{name: name, isMap: isMap}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "type", "typeof":
			for i++; i < len(f) && f[i] != ";" && f[i] != ":" && f[i] != "}"; i++ {
				if f[i] != "." {
					s.types = append(s.types, f[i])
				}
			}
			for i < len(f) && f[i] != ";" && f[i] != "}" {
				i++
			}
		case "flags":
			for _, fl := range strings.Split(at(f, i+1), ",") {
				if fl == "dynamic" || fl == "timeout" {
					s.dynamic = true
				}
			}
		case "timeout":
			if n, err := strconv.Atoi(strings.TrimSuffix(at(f, i+1), "s")); err == nil {
				s.timeout = n
			}
			s.dynamic = true
		}
	}
	return s
}

// parseElements reads "{ k [comment "x"] [: v] , ... }".
func parseElements(f []string) []*nftElem {
	var out []*nftElem
	i := 0
	if at(f, 0) == "{" {
		i = 1
	}
	for i < len(f) && f[i] != "}" {
		e := &nftElem{}
		for ; i < len(f) && f[i] != ":" && f[i] != "," && f[i] != "}"; i++ {
			switch f[i] {
			case ".":
			case "comment", "timeout", "expires":
				i++
			default:
				e.key = append(e.key, f[i])
			}
		}
		if at(f, i) == ":" {
			for i++; i < len(f) && f[i] != "," && f[i] != "}"; i++ {
				if f[i] == "comment" {
					i++
					continue
				}
				e.value = append(e.value, f[i])
			}
		}
		if len(e.key) > 0 {
			out = append(out, e)
		}
		if at(f, i) == "," {
			i++
		}
	}
	return out
}

func (s *nftSet) add(e *nftElem) {
	s.elems = append(s.elems, e)
	for _, k := range e.key {
		if strings.ContainsAny(k, "/-") {
			s.ranged = true
		}
	}
	if s.ranged {
		s.index = nil
		return
	}
	if s.index == nil {
		s.index = map[string]*nftElem{}
		for _, x := range s.elems {
			s.index[canonKey(x.key)] = x
		}
	}
	s.index[canonKey(e.key)] = e
}

func canonKey(key []string) string {
	out := make([]string, len(key))
	for i, k := range key {
		out[i] = canonValue(k)
	}
	return strings.Join(out, " . ")
}

// canonValue spells a literal as the packet's values are spelt.
func canonValue(v string) string {
	if a, err := netip.ParseAddr(v); err == nil {
		return a.String()
	}
	switch v {
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "132":
		return "sctp"
	}
	return strings.ToLower(v)
}

// lookup finds the element whose key holds vals.
func (s *nftSet) lookup(vals []string) *nftElem {
	if !s.ranged {
		return s.index[strings.Join(vals, " . ")]
	}
	for _, e := range s.elems {
		if len(e.key) != len(vals) {
			continue
		}
		ok := true
		for i, k := range e.key {
			if !literalHolds(k, vals[i]) {
				ok = false
				break
			}
		}
		if ok {
			return e
		}
	}
	return nil
}

// literalHolds: the packet's value v is the literal k (an address in a
// prefix or range, a port in a range, equal otherwise).
func literalHolds(k, v string) bool {
	if a, err := netip.ParseAddr(v); err == nil {
		if lo, hi, ok := strings.Cut(k, "-"); ok {
			l, err1 := netip.ParseAddr(lo)
			h, err2 := netip.ParseAddr(hi)
			return err1 == nil && err2 == nil && l.Compare(a) <= 0 && a.Compare(h) <= 0
		}
		return prefixOrAddr(k).Contains(a)
	}
	if n, err := strconv.Atoi(v); err == nil {
		if lo, hi, ok := strings.Cut(k, "-"); ok {
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			return err1 == nil && err2 == nil && l <= n && n <= h
		}
		if m, err := strconv.ParseUint(k, 0, 32); err == nil {
			return uint64(n) == m
		}
	}
	return canonValue(k) == v
}

// parseNFTRule compiles a rule's tokens (after "add rule FAMILY TABLE
// CHAIN").
func parseNFTRule(line string, f []string) *nftRule {
	r := &nftRule{text: line}
	i := 0
	bad := func() { r.unsure = true; i = len(f) }
	for i < len(f) {
		switch tok := f[i]; tok {
		case "comment":
			i += 2
		case "counter":
			i++
			switch at(f, i) {
			case "name":
				i += 2
			case "packets":
				i += 4
			}
		case "jump", "goto":
			r.steps = append(r.steps, nftStep{kind: stVerdict, verdict: tok, target: at(f, i+1)})
			i += 2
		case "accept", "drop", "return", "continue":
			r.steps = append(r.steps, nftStep{kind: stVerdict, verdict: tok})
			i++
		case "reject":
			r.steps = append(r.steps, nftStep{kind: stVerdict, verdict: tok})
			i++
			if at(f, i) == "with" {
				for i < len(f) && f[i] != "comment" {
					i++
				}
			}
		case "masquerade", "snat":
			r.steps = append(r.steps, nftStep{kind: stMasq})
			for i++; i < len(f) && f[i] != "comment"; i++ {
			}
		case "dnat":
			i++
			if at(f, i) == "to" {
				r.steps = append(r.steps, nftStep{kind: stDNAT, to: at(f, i+1)})
				i += 2
				break
			}
			// dnat ip addr . port to numgen random mod N map { ... }
			j := i
			for j < len(f) && f[j] != "to" {
				j++
			}
			if at(f, j+1) != "numgen" || at(f, j+2) != "random" || at(f, j+3) != "mod" || at(f, j+5) != "map" || at(f, j+6) != "{" {
				bad()
				break
			}
			end := j + 6
			for end < len(f) && f[end] != "}" {
				end++
			}
			r.steps = append(r.steps, nftStep{kind: stDNATMap, inline: parseElements(f[j+6 : min(end+1, len(f))])})
			i = end + 1
		case "update", "add", "delete":
			// update @set { ip saddr }: the kernel's affinity
			// bookkeeping, nothing a first packet depends on.
			i += 2
			if at(f, i) == "{" {
				for i < len(f) && f[i] != "}" {
					i++
				}
				i++
			}
		case "log", "notrack", "limit", "queue":
			bad()
		default:
			if (tok == "mark" || (tok == "meta" && at(f, i+1) == "mark")) && at(f, i+1+b2i(tok == "meta")) == "set" {
				i += 2 + b2i(tok == "meta")
				st := nftStep{kind: stMark}
				if (at(f, i) == "mark" || at(f, i) == "meta") && (at(f, i+1) == "or" || at(f, i+1) == "xor" || at(f, i+1) == "and") {
					st.markOp, i = at(f, i+1), i+2
				} else if at(f, i) == "meta" && at(f, i+1) == "mark" {
					st.markOp, i = at(f, i+2), i+3
				} else {
					st.markOp = "set"
				}
				v, err := strconv.ParseUint(at(f, i), 0, 32)
				if err != nil {
					bad()
					break
				}
				st.markVal = uint32(v)
				i++
				r.steps = append(r.steps, st)
				break
			}
			st, n, ok := parseNFTMatch(f[i:])
			if !ok {
				bad()
				break
			}
			r.steps = append(r.steps, st)
			i += n
		}
	}
	return r
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseSel reads one selector; n is the tokens it took.
func parseSel(f []string) (s nftSel, n int, ok bool) {
	switch at(f, 0) {
	case "ip":
		switch at(f, 1) {
		case "saddr", "daddr":
			return nftSel{kind: f[1]}, 2, true
		case "protocol":
			return nftSel{kind: "l4proto"}, 2, true
		}
	case "meta":
		switch at(f, 1) {
		case "l4proto":
			return nftSel{kind: "l4proto"}, 2, true
		case "mark", "iifname", "oifname":
			return nftSel{kind: f[1]}, 2, true
		}
	case "mark", "iifname", "oifname":
		return nftSel{kind: f[0]}, 1, true
	case "tcp", "udp", "sctp", "th":
		if at(f, 1) == "dport" || at(f, 1) == "sport" {
			s := nftSel{kind: f[1]}
			if f[0] != "th" {
				s.proto = f[0]
			}
			return s, 2, true
		}
	case "fib":
		if (at(f, 1) == "saddr" || at(f, 1) == "daddr") && at(f, 2) == "type" {
			return nftSel{kind: "fib" + f[1]}, 3, true
		}
	case "ct":
		switch at(f, 1) {
		case "state":
			return nftSel{kind: "ctstate"}, 2, true
		case "status":
			return nftSel{kind: "ctstatus"}, 2, true
		}
	case "numgen":
		if at(f, 1) == "random" && at(f, 2) == "mod" {
			m, err := strconv.Atoi(at(f, 3))
			if err == nil && m > 0 {
				return nftSel{kind: "numgen", mod: m}, 4, true
			}
		}
	}
	return nftSel{}, 0, false
}

var nftOps = map[string]string{"==": "==", "eq": "==", "!=": "!=", "ne": "!="}

// parseNFTMatch reads "sel [. sel]* [and MASK] [op] (value | { ... } | @set
// | vmap ...)"; n is the tokens it took.
func parseNFTMatch(f []string) (st nftStep, n int, ok bool) {
	for {
		s, k, ok := parseSel(f[n:])
		if !ok {
			return st, 0, false
		}
		st.sels = append(st.sels, s)
		n += k
		if at(f, n) != "." {
			break
		}
		n++
	}
	if at(f, n) == "and" {
		v, err := strconv.ParseUint(at(f, n+1), 0, 32)
		if err != nil {
			return st, 0, false
		}
		st.mask, st.hasMask = uint32(v), true
		n += 2
	}
	if op, isOp := nftOps[at(f, n)]; isOp {
		st.neg = op == "!="
		n++
	}
	switch v := at(f, n); {
	case v == "vmap":
		st.kind = stVmap
		n++
		if strings.HasPrefix(at(f, n), "@") {
			st.set = f[n][1:]
			return st, n + 1, true
		}
		if at(f, n) != "{" {
			return st, 0, false
		}
		end := n
		for end < len(f) && f[end] != "}" {
			end++
		}
		st.inline = parseElements(f[n:min(end+1, len(f))])
		return st, end + 1, true
	case strings.HasPrefix(v, "@"):
		st.kind, st.set = stSet, v[1:]
		return st, n + 1, true
	case v == "{":
		st.kind = stMatch
		for n++; n < len(f) && f[n] != "}"; n++ {
			if f[n] != "," {
				st.vals = append(st.vals, f[n])
			}
		}
		return st, n + 1, true
	case v == "" || len(st.sels) != 1:
		return st, 0, false
	default:
		st.kind = stMatch
		st.vals = strings.Split(v, ",")
		return st, n + 1, true
	}
}

// selValue is the packet's value for a selector (numgen has none: it
// forks).
func selValue(d *Dataplane, p *packet, s nftSel) (string, bool) {
	if s.proto != "" && p.proto != s.proto {
		return "", false // "tcp dport" on a UDP packet: no match
	}
	switch s.kind {
	case "saddr":
		return p.src.String(), true
	case "daddr":
		return p.dst.String(), true
	case "l4proto":
		return p.proto, true
	case "dport":
		return strconv.Itoa(p.dport), true
	case "sport":
		return strconv.Itoa(p.sport), true
	case "fibsaddr", "fibdaddr":
		a := p.src
		if s.kind == "fibdaddr" {
			a = p.dst
		}
		if d.isLocal(a) {
			return "local", true
		}
		return "unicast", true
	case "ctstate":
		return "new", true
	case "ctstatus":
		if p.dnat {
			return "dnat", true
		}
		return "", true
	case "mark":
		return strconv.FormatUint(uint64(p.mark), 10), true
	case "iifname":
		return p.iif, true
	case "oifname":
		return p.oif, true
	}
	return "", false
}

// outcome of one rule on a packet: the packet as the rule leaves it and
// the verdict it reached ("" none: the next rule).
type nftOut struct {
	p       packet
	verdict string
	target  string
}

// evalRule runs a rule's steps from k on.
func (t *nftTable) evalRule(d *Dataplane, r *nftRule, k int, p packet, hook string) []nftOut {
	// miss: the rule does not match; the next one sees the packet as the
	// rule's statements so far left it.
	miss := []nftOut{{p, "", ""}}
	for ; k < len(r.steps); k++ {
		miss[0].p = p
		st := &r.steps[k]
		switch st.kind {
		case stVerdict:
			return []nftOut{{p, st.verdict, st.target}}
		case stMark:
			switch st.markOp {
			case "or":
				p.mark |= st.markVal
			case "xor":
				p.mark ^= st.markVal
			case "and":
				p.mark &= st.markVal
			default:
				p.mark = st.markVal
			}
		case stMasq:
			p.snat, p.natted = true, hook
			return []nftOut{{p, "accept", ""}}
		case stDNAT:
			host, port, hasPort := strings.Cut(st.to, ":")
			if ap, err := netip.ParseAddrPort(st.to); err == nil {
				host, port, hasPort = ap.Addr().String(), strconv.Itoa(int(ap.Port())), true
			}
			a, err := netip.ParseAddr(host)
			if err != nil {
				p.addUnsure(r.text)
				return miss
			}
			p.dst = a
			if hasPort {
				p.dport, _ = strconv.Atoi(port)
			}
			p.dnat, p.natted = true, hook
			return []nftOut{{p, "accept", ""}}
		case stDNATMap:
			var out []nftOut
			for _, e := range st.inline {
				if len(e.value) < 3 || e.value[1] != "." {
					p.addUnsure(r.text)
					continue
				}
				a, err := netip.ParseAddr(e.value[0])
				port, err2 := strconv.Atoi(e.value[2])
				if err != nil || err2 != nil {
					p.addUnsure(r.text)
					continue
				}
				q := p
				q.dst, q.dport, q.dnat, q.natted = a, port, true, hook
				out = append(out, nftOut{q, "accept", ""})
			}
			return out
		case stMatch:
			v, ok := selValue(d, &p, st.sels[0])
			if !ok {
				return miss
			}
			if st.hasMask {
				m, _ := strconv.ParseUint(v, 10, 32)
				v = strconv.FormatUint(m&uint64(st.mask), 10)
			}
			hit := false
			for _, lit := range st.vals {
				if st.sels[0].kind == "ctstatus" {
					hit = hit || (lit == "dnat" && p.dnat)
				} else if literalHolds(lit, v) {
					hit = true
				}
			}
			if hit == st.neg {
				return miss
			}
		case stSet, stVmap:
			if len(st.sels) == 1 && st.sels[0].kind == "numgen" && st.kind == stVmap && st.inline != nil {
				var out []nftOut
				for _, e := range st.inline {
					out = append(out, t.elemVerdict(d, r, e, p, hook)...)
				}
				return out
			}
			vals := make([]string, len(st.sels))
			for i, s := range st.sels {
				v, ok := selValue(d, &p, s)
				if !ok {
					return miss
				}
				vals[i] = v
			}
			var e *nftElem
			if st.inline != nil {
				tmp := &nftSet{}
				for _, x := range st.inline {
					tmp.add(x)
				}
				e = tmp.lookup(vals)
			} else {
				s := t.sets[st.set]
				if s == nil {
					p.addUnsure(r.text)
					return miss
				}
				if s.dynamic && st.kind == stSet {
					// An affinity set: whether this client is in it
					// is state the plan does not hold. Both ways.
					in := p
					in.affinity = max(s.timeout, 1)
					if st.neg {
						return append(t.evalRule(d, r, k+1, p, hook), nftOut{in, "", ""})
					}
					return append(t.evalRule(d, r, k+1, in, hook), nftOut{p, "", ""})
				}
				e = s.lookup(vals)
			}
			if st.kind == stSet {
				if (e != nil) == st.neg {
					return miss
				}
				continue
			}
			if e == nil {
				return miss
			}
			return t.elemVerdict(d, r, e, p, hook)
		}
	}
	return []nftOut{{p, "", ""}}
}

// elemVerdict is a vmap element's verdict.
func (t *nftTable) elemVerdict(d *Dataplane, r *nftRule, e *nftElem, p packet, hook string) []nftOut {
	switch at(e.value, 0) {
	case "jump", "goto":
		return []nftOut{{p, e.value[0], at(e.value, 1)}}
	case "accept", "drop", "reject", "return", "continue":
		return []nftOut{{p, e.value[0], ""}}
	}
	p.addUnsure(r.text)
	return []nftOut{{p, "", ""}}
}

// runBase evaluates a base chain at hook, its policy last.
func (t *nftTable) runBase(d *Dataplane, c *nftChain, p packet, hook string) []flow {
	flows := t.run(d, c, p, hook, 0)
	for i := range flows {
		if flows[i].v == vContinue {
			flows[i].v = vAccept
			if c.policy == "drop" {
				flows[i].v = vDrop
			}
		}
	}
	return flows
}

// run evaluates a chain: rule by rule, each outcome of a rule going on
// from there.
func (t *nftTable) run(d *Dataplane, c *nftChain, p packet, hook string, depth int) []flow {
	if depth > maxDepth {
		p.addUnsure("nftables jumps nested deeper than " + strconv.Itoa(maxDepth))
		return []flow{{p, vContinue}}
	}
	return t.runFrom(d, c, 0, p, hook, depth)
}

func (t *nftTable) runFrom(d *Dataplane, c *nftChain, i int, p packet, hook string, depth int) []flow {
	for ; i < len(c.rules); i++ {
		r := c.rules[i]
		if r.unsure {
			p.addUnsure(r.text)
			continue
		}
		outs := t.evalRule(d, r, 0, p, hook)
		if len(outs) == 0 {
			continue
		}
		if len(outs) == 1 && outs[0].verdict == "" {
			p = outs[0].p
			continue
		}
		var flows []flow
		for _, o := range outs {
			switch o.verdict {
			case "":
				flows = append(flows, t.runFrom(d, c, i+1, o.p, hook, depth)...)
			case "accept":
				flows = append(flows, flow{o.p, vAccept})
			case "drop":
				flows = append(flows, flow{o.p, vDrop})
			case "reject":
				flows = append(flows, flow{o.p, vReject})
			case "return":
				flows = append(flows, flow{o.p, vContinue})
			case "continue":
				flows = append(flows, t.runFrom(d, c, i+1, o.p, hook, depth)...)
			case "jump", "goto":
				sub := t.chains[o.target]
				if sub == nil {
					q := o.p
					q.addUnsure(r.text)
					flows = append(flows, t.runFrom(d, c, i+1, q, hook, depth)...)
					continue
				}
				for _, f := range t.run(d, sub, o.p, hook, depth+1) {
					if f.v == vContinue && o.verdict == "jump" {
						flows = append(flows, t.runFrom(d, c, i+1, f.p, hook, depth)...)
					} else {
						flows = append(flows, f)
					}
				}
			}
		}
		return flows
	}
	return []flow{{p, vContinue}}
}
