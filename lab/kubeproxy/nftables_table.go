package kubeproxy

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/knftables"
)

// nftTable is kube-proxy's "ip kube-proxy" table as its first full sync
// leaves it: the objects of the one transaction, with what the
// transaction's flushes, deletes and re-adds would leave. It is written
// out through knftables (kube-proxy's own library), so every object is
// validated and spelt exactly as kube-proxy's transaction spells it.
//
// The text is in the canonical order of the kube-proxy oracle (see
// docs/testing.md): the table, the declarations by kind (chains, sets,
// maps) each sorted by name, the rules chain by chain in chain-name order
// (kube-proxy's order inside a chain, which is meaningful), then the
// elements container by container, each container's lines sorted
// bytewise. The real proxier walks Go maps, so only the rule order inside
// a chain is fixed upstream; everything else is put in this order so that
// two renderings compare line by line.
type nftTable struct {
	comment string
	chains  map[string]*knftables.Chain
	rules   map[string][]*knftables.Rule
	sets    map[string]*knftables.Set
	maps    map[string]*knftables.Map
	// elems holds each set's or map's elements by key (" . "-joined):
	// kube-proxy adds an element once per key and replaces it when the
	// value changes (nftElementStorage.ensureElem).
	elems map[string]map[string]*knftables.Element
}

func newNFTTable(comment string) *nftTable {
	return &nftTable{
		comment: comment,
		chains:  map[string]*knftables.Chain{},
		rules:   map[string][]*knftables.Rule{},
		sets:    map[string]*knftables.Set{},
		maps:    map[string]*knftables.Map{},
		elems:   map[string]map[string]*knftables.Element{},
	}
}

// chain declares a chain (the add+flush of ensureChain: declaring it again
// keeps its rules only when they were added after the last flush, which
// kube-proxy never relies on, so a second declaration is a no-op).
func (t *nftTable) chain(c *knftables.Chain) {
	if _, ok := t.chains[c.Name]; !ok {
		t.chains[c.Name] = c
	}
}

// rule appends a rule to a chain; the chain must be declared (else nft
// would fail the transaction, and so this is a renderer bug).
func (t *nftTable) rule(chain, rule string, comment ...string) {
	if t.chains[chain] == nil {
		panic(fmt.Sprintf("kubeproxy: nftables rule for undeclared chain %q", chain))
	}
	r := &knftables.Rule{Chain: chain, Rule: rule}
	if len(comment) > 0 {
		r.Comment = &comment[0]
	}
	t.rules[chain] = append(t.rules[chain], r)
}

func (t *nftTable) set(s *knftables.Set)   { t.sets[s.Name] = s }
func (t *nftTable) mapOf(m *knftables.Map) { t.maps[m.Name] = m }

// deleteSet is the "add+delete" kube-proxy uses to make sure a set is gone.
func (t *nftTable) deleteSet(name string) {
	delete(t.sets, name)
	delete(t.elems, name)
}

// elem adds an element to a set or map (ensureElem): a key seen before
// keeps its first element unless the value differs.
func (t *nftTable) elem(e *knftables.Element) {
	container := e.Set + e.Map
	byKey := t.elems[container]
	if byKey == nil {
		byKey = map[string]*knftables.Element{}
		t.elems[container] = byKey
	}
	key := strings.Join(e.Key, " . ")
	if old, ok := byKey[key]; ok && strings.Join(old.Value, " . ") == strings.Join(e.Value, " . ") {
		return
	}
	byKey[key] = e
}

// text is the table as nft -f input, in the canonical order.
func (t *nftTable) text() (string, error) {
	tx := knftables.NewFake(knftables.IPv4Family, kubeProxyTable).NewTransaction()
	tx.Add(&knftables.Table{Comment: &t.comment})
	chains := sortedKeys(t.chains)
	for _, name := range chains {
		tx.Add(t.chains[name])
	}
	for _, name := range sortedKeys(t.sets) {
		tx.Add(t.sets[name])
	}
	for _, name := range sortedKeys(t.maps) {
		tx.Add(t.maps[name])
	}
	for _, name := range chains {
		for _, r := range t.rules[name] {
			tx.Add(r)
		}
	}
	var b strings.Builder
	b.WriteString(tx.String())
	for _, name := range sortedKeys(t.elems) {
		if t.sets[name] == nil && t.maps[name] == nil {
			return "", fmt.Errorf("kubeproxy: nftables elements for undeclared set or map %q", name)
		}
		etx := knftables.NewFake(knftables.IPv4Family, kubeProxyTable).NewTransaction()
		for _, key := range sortedKeys(t.elems[name]) {
			etx.Add(t.elems[name][key])
		}
		lines := strings.SplitAfter(etx.String(), "\n")
		sort.Strings(lines)
		for _, l := range lines {
			b.WriteString(l)
		}
	}
	out := b.String()
	// knftables validates each object as it is added and, on the first
	// invalid one, stops and ends the transaction's text with this line.
	if i := strings.Index(out, "# ERROR: "); i >= 0 {
		return "", fmt.Errorf("kubeproxy: invalid nftables object: %s", strings.TrimSpace(out[i+len("# ERROR: "):]))
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
