package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads and validates a scenario file.
func LoadFile(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load parses, defaults and validates a scenario. file names the source in
// messages. On any problem it returns Problems listing all of them.
func Load(file string, data []byte) (*Topology, error) {
	c := &collector{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line, msg := splitYAMLError(err)
		if errors.Is(err, io.EOF) {
			msg = "the file is empty"
		}
		c.add(line, "", "check the YAML syntax (indentation, colons, quotes)", "%s", msg)
		return nil, c.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		c.add(root.Line, "", "a scenario is a mapping with name, cni, nodes, pods, probes", "the top level is not a mapping")
		return nil, c.err()
	}
	t := &Topology{File: file}
	if err := root.Decode(t); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				line, msg := splitYAMLError(errors.New(e))
				c.add(line, "", "", "%s", msg)
			}
		} else {
			line, msg := splitYAMLError(err)
			c.add(line, "", "", "%s", msg)
		}
	}
	walkStrict(c, root, reflect.ValueOf(t).Elem(), "")
	if len(c.ps) > 0 {
		return nil, c.err()
	}
	t.Line = root.Line
	applyDefaultsAndValidate(c, t)
	if err := c.err(); err != nil {
		return nil, err
	}
	return t, nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// splitYAMLError pulls "line N:" out of a yaml.v3 message.
func splitYAMLError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// walkStrict reports keys that no field accepts (yaml.v3's KnownFields stops
// at the first one and is lost inside custom decoders; this reports all of
// them with a suggestion) and records each struct's line in its Line field.
func walkStrict(c *collector, n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrict(c, n, v.Elem(), path)
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // type error already reported by Decode
		}
		if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
			f.SetInt(int64(n.Line))
		}
		fields := yamlFields(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			idx, ok := fields[k.Value]
			if !ok {
				c.add(k.Line, join(path, k.Value), suggest(k.Value, fields), "unknown field %q", k.Value)
				continue
			}
			walkStrict(c, val, v.Field(idx), join(path, k.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, el := range n.Content {
			if i < v.Len() {
				walkStrict(c, el, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
	}
	return m
}

// suggest names the closest known field, or lists them all.
func suggest(key string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 1<<30
	for _, k := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= 2 || (bestD <= len(key)/2 && bestD < 4) {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "known fields here: " + strings.Join(names, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
