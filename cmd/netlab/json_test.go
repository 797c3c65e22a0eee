package main

import (
	"encoding"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/graph"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/probes"
)

var update = flag.Bool("update", false, "rewrite the key lists in docs/json.md")

// jsonShapes is what each command prints under -o json, in the order
// docs/json.md documents them; also are the commands that print the same
// (one key list, an example each). A command that prints JSON and is
// missing here fails TestEveryJSONCommandIsDocumented.
var jsonShapes = []struct {
	cmd  string
	also []string
	v    any
}{
	{"error", nil, errorView{}},
	{"status", []string{"up"}, labView{}},
	{"ls", nil, []lsRow{}},
	{"down", nil, []downRow{}},
	{"probe", []string{"trace"}, probes.Result{}},
	{"test", nil, testReport{}},
	{"conntrack", nil, map[string][]probes.Flow{}},
	{"rules", nil, rulesView{}},
	{"plan", nil, plan.Plan{}},
	{"graph", nil, graph.Graph{}},
	{"diff", nil, []nodeDiff{}},
	{"doctor", nil, doctorReport{}},
	{"scenarios", nil, []scenarioRow{}},
	{"scenarios show", nil, scenarioYAML{}},
	{"version", nil, versionView{}},
}

// seeAlso: a type printed whole by one command is referred to, not
// listed again, where another command's output holds it.
var seeAlso = map[reflect.Type]string{reflect.TypeFor[probes.Result](): "probe"}

var camelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// key is one JSON key path of a command's output: .a.b[].c, .[] for a
// list's elements, .{key} for an object's own keys. An object of a type
// listed before at another path has its keys there (same), or in another
// command's section (other).
type key struct {
	path, kind  string
	optional    bool
	same, other string
}

// keys walks a type as encoding/json prints it and lists every key path,
// failing on an exported field whose key is not camelCase (no json tag
// prints the Go name: "Result", "DecidedBy").
func keys(t *testing.T, typ reflect.Type) []key {
	var out []key
	seen := map[reflect.Type]string{}
	var walk func(typ reflect.Type, path string, owner int)
	walk = func(typ reflect.Type, path string, owner int) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if leaf(typ) {
			return
		}
		if owner >= 0 && typ.Kind() == reflect.Struct {
			if cmd, ok := seeAlso[typ]; ok {
				out[owner].other = cmd
				out[owner].kind += " (its keys as " + cmd + " -o json prints them)"
				return
			}
			if p, ok := seen[typ]; ok {
				out[owner].same = p
				out[owner].kind += " (its keys as " + p + ")"
				return
			}
			seen[typ] = path
		}
		switch typ.Kind() {
		// Pointers in a slice or map are never nil here: no "or null".
		case reflect.Slice, reflect.Array:
			p := path + "[]"
			if path == "" {
				p = ".[]"
			}
			out = append(out, key{path: p, kind: strings.TrimSuffix(kindOf(typ.Elem()), orNull)})
			walk(typ.Elem(), p, len(out)-1)
		case reflect.Map:
			out = append(out, key{path: path + ".{key}", kind: strings.TrimSuffix(kindOf(typ.Elem()), orNull)})
			walk(typ.Elem(), path+".{key}", len(out)-1)
		case reflect.Struct:
			for i := 0; i < typ.NumField(); i++ {
				f := typ.Field(i)
				if !f.IsExported() {
					continue
				}
				tag, hasTag := f.Tag.Lookup("json")
				name, opts, _ := strings.Cut(tag, ",")
				if f.Anonymous && name == "" {
					walk(f.Type, path, -1) // embedded: its fields are inlined
					continue
				}
				if name == "-" {
					continue
				}
				if !hasTag || !camelCase.MatchString(name) {
					t.Errorf("%s.%s (in %s.) prints as %q: give it a camelCase json tag", typ, f.Name, path, cmp(name, f.Name))
					continue
				}
				out = append(out, key{path: path + "." + name, kind: kindOf(f.Type), optional: strings.Contains(opts, "omitempty")})
				walk(f.Type, path+"."+name, len(out)-1)
			}
		}
	}
	walk(typ, "", -1)
	return out
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
)

// leaf: printed as one value (a number, a string, or a type that
// marshals itself, such as time.Time and netip.Addr).
func leaf(typ reflect.Type) bool {
	if typ.Implements(textMarshaler) || typ.Implements(jsonMarshaler) || reflect.PointerTo(typ).Implements(textMarshaler) {
		return true
	}
	switch typ.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map, reflect.Pointer, reflect.Interface:
		return false
	}
	return true
}

const orNull = " or null"

func kindOf(typ reflect.Type) string {
	null := ""
	for typ.Kind() == reflect.Pointer {
		typ, null = typ.Elem(), orNull
	}
	switch {
	case typ == reflect.TypeFor[time.Time]():
		return "string (RFC 3339 time)" + null
	case typ.Implements(textMarshaler) || reflect.PointerTo(typ).Implements(textMarshaler):
		return "string" + null
	}
	switch typ.Kind() {
	case reflect.String:
		return "string" + null
	case reflect.Bool:
		return "boolean" + null
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number" + null
	case reflect.Slice, reflect.Array:
		return "array" + null
	case reflect.Map, reflect.Struct:
		return "object" + null
	}
	return typ.Kind().String() + null
}

// keyList is the text docs/json.md lists a command's keys as.
func keyList(t *testing.T, v any) string {
	typ := reflect.TypeOf(v)
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %s\n", ".", kindOf(typ))
	for _, k := range keys(t, typ) {
		kind := k.kind
		if k.optional {
			// Omitted when nil, so never null.
			kind = strings.Replace(kind, orNull, "", 1) + ", omitted when empty"
		}
		fmt.Fprintf(&b, "%-40s %s\n", k.path, kind)
	}
	return b.String()
}

// TestJSONKeysAreCamelCase walks every type a command prints.
func TestJSONKeysAreCamelCase(t *testing.T) {
	for _, s := range jsonShapes {
		keys(t, reflect.TypeOf(s.v))
	}
}

const docsFile = "../../docs/json.md"

// docBlock finds the fenced block after marker in the docs.
func docBlock(doc, marker string) (start, end int, ok bool) {
	i := strings.Index(doc, marker)
	if i < 0 {
		return 0, 0, false
	}
	open := strings.Index(doc[i:], "```")
	if open < 0 {
		return 0, 0, false
	}
	start = i + open + strings.IndexByte(doc[i+open:], '\n') + 1
	close := strings.Index(doc[start:], "```")
	if close < 0 {
		return 0, 0, false
	}
	return start, start + close, true
}

// TestJSONDocs: docs/json.md lists exactly the keys each command prints
// (go test -run TestJSONDocs -update rewrites the lists), and every key of
// its examples exists.
func TestJSONDocs(t *testing.T) {
	data, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, s := range jsonShapes {
		want := keyList(t, s.v)
		start, end, ok := docBlock(doc, "<!-- keys: "+s.cmd+" -->")
		if !ok {
			t.Errorf("%s lacks <!-- keys: %s --> and its block", docsFile, s.cmd)
			continue
		}
		if doc[start:end] != want {
			if *update {
				doc = doc[:start] + want + doc[end:]
			} else {
				t.Errorf("%s: the keys of %s -o json have changed; update it (go test ./cmd/netlab -run TestJSONDocs -update) and say so in the release note:\n%s", docsFile, s.cmd, want)
			}
		}
		known := map[string]key{}
		for _, k := range keys(t, reflect.TypeOf(s.v)) {
			known[k.path] = k
		}
		for _, cmd := range append([]string{s.cmd}, s.also...) {
			checkExample(t, doc, cmd, known)
		}
	}
	if *update {
		if err := os.WriteFile(docsFile, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkExample: cmd's example in the docs is JSON, and every key in it
// is one the command prints.
func checkExample(t *testing.T, doc, cmd string, known map[string]key) {
	start, end, ok := docBlock(doc, "<!-- example: "+cmd+" -->")
	if !ok {
		t.Errorf("%s lacks <!-- example: %s --> and its block", docsFile, cmd)
		return
	}
	var ex any
	if err := json.NewDecoder(strings.NewReader(doc[start:end])).Decode(&ex); err != nil {
		t.Errorf("%s: example of %s: %v", docsFile, cmd, err)
		return
	}
	for _, p := range examplePaths(ex, "", known) {
		if _, ok := known[p]; !ok {
			t.Errorf("%s: example of %s has %s, which %s does not print", docsFile, cmd, p, cmd)
		}
	}
}

// examplePaths lists the key paths in a decoded example, as keys names
// them: an object's own keys as {key}, a type listed at another path by
// that path; the inside of a type another command's section lists is not
// followed.
func examplePaths(v any, path string, known map[string]key) []string {
	if k, ok := known[path]; ok {
		if k.other != "" {
			return nil
		}
		if k.same != "" {
			path = k.same
		}
	}
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for name, e := range x {
			p := path + "." + name
			if _, ok := known[path+".{key}"]; ok {
				p = path + ".{key}"
			}
			out = append(out, p)
			out = append(out, examplePaths(e, p, known)...)
		}
	case []any:
		p := path + "[]"
		if path == "" {
			p = ".[]"
		}
		for _, e := range x {
			out = append(out, examplePaths(e, p, known)...)
		}
	}
	return out
}

// TestEveryJSONCommandIsDocumented: a command with -o json has its shape
// in jsonShapes (and so in docs/json.md).
func TestEveryJSONCommandIsDocumented(t *testing.T) {
	documented := map[string]bool{}
	for _, s := range jsonShapes {
		documented[s.cmd] = true
		for _, c := range s.also {
			documented[c] = true
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		name := strings.TrimPrefix(c.CommandPath(), "netlab ")
		if slices.Contains(outputFormats(c), outputJSON) && !documented[name] {
			t.Errorf("%s has -o json but no entry in jsonShapes (and docs/json.md)", name)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}

// TestDownJSON: down's own row type prints the keys docs/json.md lists.
func TestDownJSON(t *testing.T) {
	testenv.RequireRoot(t)
	scratchState(t)
	code, out, stderr := cli(t, "down", testenv.Prefix(t)+"-none", "-o", "json", "--ignore-not-found")
	var got []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 1 {
		t.Fatalf("exit %d %s\n%s", code, stderr, out)
	}
	var want map[string]any
	b, _ := json.Marshal(downRow{})
	json.Unmarshal(b, &want)
	if len(got[0]) != len(want) {
		t.Errorf("down prints %v, documented %v", got[0], want)
	}
	for k := range want {
		if _, ok := got[0][k]; !ok {
			t.Errorf("down prints %v, documented %v", got[0], want)
		}
	}
}
