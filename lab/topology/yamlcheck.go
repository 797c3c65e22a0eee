package topology

import (
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Bounds on the YAML tree, checked before yaml.v3 decodes it: its
// duplicate-key check is quadratic in the keys of one mapping (40,000 keys
// take seconds, 500,000 never finish), and aliases multiply the nodes it
// decodes. A 5,000-pod scenario has about 40,000 nodes and no mapping with
// more than a dozen keys.
const (
	MaxMappingKeys = 1000
	MaxYAMLNodes   = 500_000
)

// checkLimits refuses a tree beyond MaxMappingKeys / MaxYAMLNodes or whose
// aliases refer to themselves. It walks the tree as parsed (an alias is one
// node), then counts what aliases expand to, so that every later walk that
// follows aliases is bounded too.
func checkLimits(c *collector, root *yaml.Node) bool {
	raw := 0
	var firstAlias *yaml.Node
	var walk func(n *yaml.Node, path string) bool
	walk = func(n *yaml.Node, path string) bool {
		if raw++; raw > MaxYAMLNodes {
			c.add(0, "", "check that this is the scenario you meant: a 5,000-pod scenario has about 40,000", "the file has more than %d YAML nodes (keys, values and list entries)", MaxYAMLNodes)
			return false
		}
		switch n.Kind {
		case yaml.AliasNode:
			if firstAlias == nil {
				firstAlias = n
			}
		case yaml.MappingNode:
			if k := len(n.Content) / 2; k > MaxMappingKeys {
				c.add(n.Line, path, fmt.Sprintf("no scenario needs more than %d keys in one mapping (fields, labels or selector): check that this is the file you meant", MaxMappingKeys), "the mapping has %d keys, more than %d", k, MaxMappingKeys)
				return false
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				if !walk(n.Content[i], path) || !walk(n.Content[i+1], childPath(path, n.Content[i])) {
					return false
				}
			}
		default:
			for i, ch := range n.Content {
				if !walk(ch, fmt.Sprintf("%s[%d]", path, i)) {
					return false
				}
			}
		}
		return true
	}
	if !walk(root, "") {
		return false
	}
	if firstAlias == nil {
		return true
	}
	e := expander{size: map[*yaml.Node]int{}}
	switch n := e.expand(root); {
	case e.cycle != nil:
		c.add(e.cycle.Line, "", "an anchor (&name) cannot be used (*name) inside its own value", "alias *%s refers to the value that contains it", e.cycle.Value)
		return false
	case n > MaxYAMLNodes:
		c.add(firstAlias.Line, "", "write the repeated parts out or use fewer aliases (*name): a 5,000-pod scenario has about 40,000 nodes", "aliases expand the file to more than %d YAML nodes", MaxYAMLNodes)
		return false
	}
	return true
}

func childPath(path string, key *yaml.Node) string {
	if key.Kind == yaml.ScalarNode {
		return join(path, key.Value)
	}
	return path
}

// expander counts the nodes of a tree with every alias expanded,
// remembering each anchored node's count (only anchored nodes are shared)
// and saturating past MaxYAMLNodes, so that "billion laughs" costs no more
// than its size.
type expander struct {
	size  map[*yaml.Node]int // -1 while being counted
	cycle *yaml.Node
}

func (e *expander) expand(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1
		}
		if e.size[n.Alias] == -1 {
			e.cycle = n
			return MaxYAMLNodes + 1
		}
		return min(1+e.expand(n.Alias), MaxYAMLNodes+1)
	}
	if s, ok := e.size[n]; ok && s >= 0 {
		return s
	}
	if n.Anchor != "" {
		e.size[n] = -1
	}
	s := 1
	for _, ch := range n.Content {
		if s += e.expand(ch); s > MaxYAMLNodes || e.cycle != nil {
			s = MaxYAMLNodes + 1
			break
		}
	}
	if n.Anchor != "" {
		e.size[n] = s
	}
	return s
}

// deref follows an alias to its value.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull: ~, null or nothing at all.
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// isMerge is yaml.v3's test for a "<<" merge key.
func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.Tag == "!!merge" || n.Tag == "tag:yaml.org,2002:merge")
}

var (
	podPortType         = reflect.TypeFor[PodPort]()
	durationType        = reflect.TypeFor[time.Duration]()
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	intLiteralRE        = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)
)

// checkTypes reports every value of the tree that does not fit the field it
// sets, before yaml.v3 decodes it: yaml.v3 stops at nothing it can coerce
// (80.5 becomes 80, a null list entry vanishes) and says nothing of the
// field when it cannot ("cannot unmarshal !!str `abc` into int"). It also
// reports unknown fields (KnownFields stops at the first one and is lost
// inside custom decoders), keys given twice, and empty list entries, each
// with its field path. It follows aliases, which checkLimits has bounded.
func checkTypes(c *collector, n *yaml.Node, t reflect.Type, path string) {
	n = deref(n)
	if isNull(n) {
		return // the field keeps its zero value; empty list entries are refused by the list
	}
	if t == podPortType && n.Kind == yaml.ScalarNode {
		checkTypes(c, n, reflect.TypeFor[int](), path) // the bare-number form
		return
	}
	if t != podPortType && (reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)) {
		return // decodes itself: yaml.v3 reports its errors
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkTypes(c, n, t.Elem(), path)
	case reflect.Struct:
		fields := yamlFields(t)
		if n.Kind != yaml.MappingNode {
			c.add(n.Line, path, "write a mapping of its fields: "+strings.Join(sortedKeys(fields), ", "), "expected a mapping, not %s", describe(n))
			return
		}
		eachKey(c, n, path, func(k, v *yaml.Node) {
			idx, ok := fields[k.Value]
			if !ok {
				c.add(k.Line, join(path, k.Value), suggest(k.Value, fields), "unknown field %q", k.Value)
				return
			}
			checkTypes(c, v, t.Field(idx).Type, join(path, k.Value))
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(n.Line, path, `write a list: [a, b], or one "- " line per entry`, "expected a list, not %s", describe(n))
			return
		}
		for i, el := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if isNull(deref(el)) {
				c.add(el.Line, p, `remove the empty "-" entry, or write it out`, "the list entry is empty")
				continue
			}
			checkTypes(c, el, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n.Line, path, "write key: value pairs, e.g. {app: web}", "expected a mapping, not %s", describe(n))
			return
		}
		eachKey(c, n, path, func(k, v *yaml.Node) { checkTypes(c, v, t.Elem(), join(path, k.Value)) })
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.add(n.Line, path, `write a single value (quote it if it contains ": " or starts with [ or {)`, "expected a single value, not %s", describe(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		checkInt(c, n, t, path)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Decode(new(bool)) != nil {
			c.add(n.Line, path, "write true or false", "%s is not true or false", describe(n))
		}
	}
}

// checkInt refuses what yaml.v3 would truncate (80.5 -> 80) or reject.
func checkInt(c *collector, n *yaml.Node, t reflect.Type, path string) {
	fix := intFix(path)
	if t == durationType {
		fix = "write a duration such as 5s or 1m30s"
	}
	if n.Kind != yaml.ScalarNode {
		c.add(n.Line, path, fix, "expected a number, not %s", describe(n))
		return
	}
	tag := n.ShortTag()
	switch {
	case tag == "!!float" && intLiteralRE.MatchString(n.Value):
		c.add(n.Line, path, fix, "%s is too large", n.Value)
	case tag == "!!float":
		c.add(n.Line, path, fix, "%s is not a whole number", n.Value)
	case n.Decode(reflect.New(t).Interface()) == nil:
	case tag == "!!int":
		c.add(n.Line, path, fix, "%s is too large", n.Value)
	case tag == "!!str" && intLiteralRE.MatchString(n.Value):
		c.add(n.Line, path, fix+" (without quotes)", "%s is not a number", describe(n))
	default:
		c.add(n.Line, path, fix, "%s is not a number", describe(n))
	}
}

// intFix says what a number field holds, by its name.
func intFix(path string) string {
	name := path
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "ports":
		return "a port is a number from 1 to 65535; a named one is {name: http, port: 80}"
	case "port", "backendPort":
		return "a port is a number from 1 to 65535"
	case "nodePort", "healthCheckNodePort":
		return fmt.Sprintf("a node port is a number from %d to %d", NodePortMin, NodePortMax)
	case "podCIDRSize":
		return "a prefix length such as 24"
	case "sessionAffinityTimeoutSeconds":
		return "a number of seconds from 1 to 86400"
	case "repeat", "servers":
		return "a count such as 10"
	}
	return "write a whole number"
}

// describe names a node for a message: its value, or what kind it is.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if isNull(n) && v == "" {
		return "an empty value"
	}
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	if n.ShortTag() == "!!str" {
		return strconv.Quote(v)
	}
	return v
}

// eachKey calls f for each key of a mapping (keys of "<<" merges
// included), reporting keys that are not names and keys given twice.
func eachKey(c *collector, n *yaml.Node, path string, f func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			eachMerged(c, k, v, path, f)
			continue
		}
		k = deref(k)
		if k.Kind != yaml.ScalarNode || isNull(k) {
			c.add(k.Line, path, "a key is a field name or label key: write name: value", "a key is %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.add(k.Line, join(path, k.Value), "keep one of them", "%q is given twice (first on line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		f(k, v)
	}
}

func eachMerged(c *collector, k, v *yaml.Node, path string, f func(k, v *yaml.Node)) {
	for _, m := range mergedMappings(v) {
		if m.Kind != yaml.MappingNode {
			c.add(k.Line, join(path, "<<"), "merge an anchored mapping: <<: *name, or <<: [*a, *b]", "a merge key takes a mapping or a list of mappings, not %s", describe(m))
			continue
		}
		eachKey(c, m, path, f)
	}
}

// setLines records each decoded struct's line in its Line field.
func setLines(n *yaml.Node, v reflect.Value) {
	n = deref(n)
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			setLines(n, v.Elem())
		}
	case reflect.Struct:
		if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int && f.CanSet() {
			f.SetInt(int64(n.Line))
		}
		if n.Kind == yaml.MappingNode {
			setFieldLines(n, v, yamlFields(v.Type()))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, el := range n.Content {
			if i < v.Len() {
				setLines(el, v.Index(i))
			}
		}
	}
}

// setFieldLines walks a struct's mapping: merged mappings first, so that
// the struct's own keys win, as they do in yaml.v3.
func setFieldLines(n *yaml.Node, v reflect.Value, fields map[string]int) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			for _, m := range mergedMappings(n.Content[i+1]) {
				if m.Kind == yaml.MappingNode {
					setFieldLines(m, v, fields)
				}
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); !isMerge(k) {
			if idx, ok := fields[k.Value]; ok {
				setLines(n.Content[i+1], v.Field(idx))
			}
		}
	}
}

func mergedMappings(v *yaml.Node) []*yaml.Node {
	v = deref(v)
	if v.Kind != yaml.SequenceNode {
		return []*yaml.Node{v}
	}
	out := make([]*yaml.Node, len(v.Content))
	for i, m := range v.Content {
		out[i] = deref(m)
	}
	return out
}

var fieldsCache sync.Map // reflect.Type -> map[string]int

// yamlFields maps a struct's YAML keys to its field indexes.
func yamlFields(t reflect.Type) map[string]int {
	if m, ok := fieldsCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
	}
	fieldsCache.Store(t, m)
	return m
}
