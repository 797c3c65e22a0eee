package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads (ReadScenarioFile) and validates a scenario file.
func LoadFile(path string) (*Topology, error) {
	data, err := ReadScenarioFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load parses, defaults and validates a scenario. file names the source in
// messages. On any problem it returns Problems listing all of them.
func Load(file string, data []byte) (*Topology, error) {
	c := &collector{file: file}
	if len(data) > MaxScenarioBytes {
		return nil, Problems{sizeProblem(file)}
	}
	root := parseDocument(c, data)
	if root == nil {
		return nil, c.err()
	}
	if root.Kind != yaml.MappingNode {
		c.add(root.Line, "", "a scenario is a mapping with name, cni, nodes, pods, probes", "the top level is not a mapping")
		return nil, c.err()
	}
	if !checkLimits(c, root) {
		return nil, c.err()
	}
	t := &Topology{File: file}
	checkTypes(c, root, reflect.TypeOf(t).Elem(), "")
	if len(c.ps) > 0 {
		return nil, c.err()
	}
	if err := root.Decode(t); err != nil {
		// checkTypes should have caught it; say what yaml.v3 says.
		var te *yaml.TypeError
		msgs := []string{err.Error()}
		if errors.As(err, &te) {
			msgs = te.Errors
		}
		for _, m := range msgs {
			line, msg := splitYAMLError(errors.New(m))
			if strings.Contains(msg, "excessive aliasing") {
				c.add(line, "", "write the repeated parts out or use fewer aliases", "the aliases (*name) expand to too much for the YAML decoder: %s", msg)
				continue
			}
			c.add(line, "", "check the value's type on this line", "%s", msg)
		}
		return nil, c.err()
	}
	setLines(root, reflect.ValueOf(t).Elem())
	t.Line = root.Line
	applyDefaultsAndValidate(c, t)
	if err := c.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// parseDocument parses data into a YAML tree and returns its top node, or
// nil after reporting why not. A scenario is one document: yaml.v3 would
// decode the first and silently drop the rest.
func parseDocument(c *collector, data []byte) *yaml.Node {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line, msg := splitYAMLError(err)
		if errors.Is(err, io.EOF) {
			msg = "the file is empty"
		}
		c.add(line, "", "check the YAML syntax (indentation, colons, quotes)", "%s", msg)
		return nil
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := splitYAMLError(err)
			c.add(line, "", "check the YAML syntax (indentation, colons, quotes)", "%s", msg)
			return nil
		}
		if len(next.Content) == 1 && isNull(next.Content[0]) && next.Content[0].Value == "" {
			continue // a bare "---" at the end adds nothing
		}
		c.add(next.Line, "", `a scenario is one YAML document: remove this "---" and what follows, or move it to a file of its own`, "a second YAML document starts here")
		return nil
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return &doc
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

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest names the closest known field, or lists them all.
func suggest(key string, fields map[string]int) string {
	names := sortedKeys(fields)
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

// sortedKeys lists a map's keys in order, for messages.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
