package probes

import (
	"bufio"
	"net/netip"
	"strconv"
	"strings"
)

// nftTable is what tracing needs of one table as `nft -a list table`
// prints it: every rule's text by chain and handle, and the elements of
// its verdict maps.
type nftTable struct {
	family, name string
	chains       map[string]*nftChain
	maps         map[string][]nftElem
}

type nftChain struct {
	name    string
	handles []uint64 // in rule order
	rules   map[uint64]string
}

// nftElem is one element of a map: its key and its value as nft prints
// them ("10.96.0.10 . tcp . 53", "goto service-...").
type nftElem struct {
	key, value string
	// comment is the element's comment, unquoted (kube-proxy writes the
	// service port's name there).
	comment string
}

// parseNFTList reads `nft -a list table FAMILY NAME` (or several tables).
func parseNFTList(text string) []*nftTable {
	var out []*nftTable
	var table *nftTable
	var chain *nftChain
	var mapName string // the map (or set) being read
	var elems strings.Builder
	inElems := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if inElems {
			elems.WriteString(" " + line)
			if braceDepth(elems.String()) == 0 {
				inElems = false
				table.maps[mapName] = parseElements(elems.String())
			}
			continue
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "table "):
			f := strings.Fields(strings.TrimSuffix(stripHandle(line), "{"))
			if len(f) >= 3 {
				table = &nftTable{family: f[1], name: unquote(f[2]), chains: map[string]*nftChain{}, maps: map[string][]nftElem{}}
				out = append(out, table)
			}
			chain, mapName = nil, ""
		case table == nil:
		case strings.HasPrefix(line, "chain "):
			name := unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(stripHandle(line), "chain ")), "{")))
			chain = &nftChain{name: name, rules: map[uint64]string{}}
			table.chains[name] = chain
			mapName = ""
		case strings.HasPrefix(line, "map ") || strings.HasPrefix(line, "set "):
			f := strings.Fields(line)
			mapName, chain = unquote(f[1]), nil
		case line == "}":
			chain, mapName = nil, ""
		case mapName != "" && strings.HasPrefix(line, "elements = {"):
			elems.Reset()
			elems.WriteString(strings.TrimPrefix(line, "elements = "))
			if braceDepth(elems.String()) == 0 {
				table.maps[mapName] = parseElements(elems.String())
			} else {
				inElems = true
			}
		case chain != nil:
			i := strings.LastIndex(line, " # handle ")
			if i < 0 {
				continue // type ... hook ...; policy ...; or a comment
			}
			h, err := strconv.ParseUint(strings.TrimSpace(line[i+len(" # handle "):]), 10, 64)
			if err != nil {
				continue
			}
			chain.handles = append(chain.handles, h)
			chain.rules[h] = line[:i]
		}
	}
	return out
}

// stripHandle drops a trailing "# handle N" (and "# progname ...").
func stripHandle(line string) string {
	if i := strings.Index(line, " # "); i >= 0 {
		return strings.TrimSpace(line[:i])
	}
	return line
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// braceDepth is the depth of the braces opened and not closed in s,
// outside double quotes.
func braceDepth(s string) int {
	depth, quoted := 0, false
	for _, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '{':
			depth++
		case c == '}':
			depth--
		}
	}
	return depth
}

// parseElements reads "{ KEY : VALUE, KEY comment "x" : VALUE, ... }" (a
// set's elements have no values).
func parseElements(s string) []nftElem {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	var out []nftElem
	for _, part := range splitTop(s, ',') {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := cutTop(part, " : ")
		if !ok {
			key, value = part, ""
		}
		out = append(out, nftElem{key: elementKey(key), value: strings.TrimSpace(value), comment: elementComment(key)})
	}
	return out
}

// elementKey drops what nft prints after a key: its comment, timeout,
// expiry, counter.
func elementKey(k string) string {
	for _, word := range []string{" comment ", " timeout ", " expires ", " counter "} {
		if i := indexTop(k, word); i >= 0 {
			k = k[:i]
		}
	}
	return strings.TrimSpace(k)
}

// elementComment is the quoted comment nft prints after a key, unquoted.
func elementComment(k string) string {
	i := indexTop(k, " comment ")
	if i < 0 {
		return ""
	}
	c := strings.TrimSpace(k[i+len(" comment "):])
	if !strings.HasPrefix(c, `"`) {
		return ""
	}
	end := strings.Index(c[1:], `"`)
	if end < 0 {
		return ""
	}
	return c[1 : end+1]
}

// splitTop splits s at sep outside quotes and braces.
func splitTop(s string, sep rune) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '{':
			depth++
		case c == '}':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// indexTop is strings.Index outside quotes.
func indexTop(s, sub string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			quoted = !quoted
			continue
		}
		if !quoted && strings.HasPrefix(s[i:], sub) {
			return i
		}
	}
	return -1
}

func cutTop(s, sep string) (string, string, bool) {
	i := indexTop(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// ---- which element of a verdict map decided --------------------------------

// vmapElement names the element of a rule's verdict map that gave the
// verdict the trace saw: the rule's anonymous map ("vmap { 0 : goto a,
// 1 : goto b }") or a named one ("vmap @service-ips", from the table).
// When several elements give the same verdict, the packet's own key
// decides, where the key is made of fields the trace's headers show.
// "" when the rule has no verdict map or no element fits.
func vmapElement(t *nftTable, rule, verdict string, p *packet) string {
	i := indexTop(rule, " vmap ")
	if i < 0 || verdict == "" {
		return ""
	}
	keyExpr, rest := rule[:i], strings.TrimSpace(rule[i+len(" vmap "):])
	var elems []nftElem
	where := ""
	switch {
	case strings.HasPrefix(rest, "@"):
		name := strings.Fields(rest)[0][1:]
		if t == nil {
			return ""
		}
		elems, where = t.maps[name], "map "+name
	case strings.HasPrefix(rest, "{"):
		end := closingBrace(rest)
		if end < 0 {
			return ""
		}
		elems, where = parseElements(rest[:end+1]), "the rule's anonymous map"
	default:
		return ""
	}
	var fits []nftElem
	for _, e := range elems {
		if e.value == verdict {
			fits = append(fits, e)
		}
	}
	if len(fits) > 1 && p != nil {
		if key, ok := packetKey(keyExpr, p); ok {
			for _, e := range fits {
				if e.key == key {
					fits = []nftElem{e}
					break
				}
			}
		}
	}
	if len(fits) != 1 {
		return ""
	}
	e := fits[0]
	if e.comment != "" {
		return "element " + e.key + " comment " + strconv.Quote(e.comment) + " : " + e.value + " in " + where
	}
	return "element " + e.key + " : " + e.value + " in " + where
}

// closingBrace is the index of the brace closing s's first one.
func closingBrace(s string) int {
	depth, quoted := 0, false
	for i, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// packetKey evaluates a map's key expression (the concatenation just
// before "vmap": "ip daddr . meta l4proto . th dport") on a packet, as nft
// prints such a key; ok is false for a field it does not know.
func packetKey(expr string, p *packet) (string, bool) {
	f := strings.Fields(expr)
	var parts []string
	for n := len(f); n >= 2; {
		sel := f[n-2] + " " + f[n-1]
		v, ok := fieldValue(sel, p)
		if !ok {
			return "", false
		}
		parts = append([]string{v}, parts...)
		n -= 2
		if n == 0 || f[n-1] != "." {
			break
		}
		n--
	}
	if len(parts) == 0 {
		return "", false
	}
	return strings.Join(parts, " . "), true
}

func fieldValue(sel string, p *packet) (string, bool) {
	port := func(a netip.AddrPort) string { return strconv.Itoa(int(a.Port())) }
	switch sel {
	case "ip daddr":
		return p.Dst.Addr().String(), true
	case "ip saddr":
		return p.Src.Addr().String(), true
	case "meta l4proto", "ip protocol":
		return p.Proto, true
	case "th dport", "tcp dport", "udp dport":
		return port(p.Dst), p.Proto == "tcp" || p.Proto == "udp"
	case "th sport", "tcp sport", "udp sport":
		return port(p.Src), p.Proto == "tcp" || p.Proto == "udp"
	}
	return "", false
}
