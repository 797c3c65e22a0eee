package graph

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

// Formats are the drawings Render knows.
var Formats = []string{"mermaid", "dot"}

// CheckFormat reports a format Render does not know.
func CheckFormat(format string) error {
	if !slices.Contains(Formats, format) {
		return fmt.Errorf("unknown graph format %q (use %s)", format, strings.Join(Formats, " or "))
	}
	return nil
}

// Render writes g in a format of Formats, summarised where it is large
// (see PodsPerNode and Crowd).
func Render(w io.Writer, g *Graph, format string) error {
	switch format {
	case "mermaid":
		return g.drawing().mermaid(w)
	case "dot":
		return g.drawing().dot(w)
	}
	return CheckFormat(format)
}

// layout is the cluster tree a renderer walks: the children and vertices
// of each cluster ("" is the top level), in graph order.
type layout struct {
	clusters map[string][]*Cluster
	vertices map[string][]*Vertex
}

func (g *Graph) layout() layout {
	l := layout{clusters: map[string][]*Cluster{}, vertices: map[string][]*Vertex{}}
	for _, c := range g.Clusters {
		l.clusters[c.Parent] = append(l.clusters[c.Parent], c)
	}
	for _, v := range g.Vertices {
		l.vertices[v.Cluster] = append(l.vertices[v.Cluster], v)
	}
	return l
}

// Path colours: the request red, an answer that took its own way teal,
// what both crossed in both (dot draws such an edge twice).
var pathColor = map[string]string{PathRequest: "#d62728", PathReply: "#17a2a2", PathBoth: "#d62728"}

// Mermaid shapes per vertex kind, as opening and closing brackets.
var mermaidShape = map[string][2]string{
	plan.KindVeth:   {"(", ")"},
	plan.KindBridge: {"[", "]"},
	plan.KindVXLAN:  {"{{", "}}"},
	plan.KindDummy:  {"[", "]"},
	KindService:     {"[[", "]]"},
	KindPods:        {"[/", "/]"},
}

// Mermaid links per edge kind: thick for the cables, dotted for what is
// logical (tunnels, Service endpoints), arrows where traffic has a
// direction.
var mermaidLink = map[string]string{
	EdgeVeth:     "===",
	EdgeBridge:   "---",
	EdgeVXLAN:    "-.-",
	EdgeRoute:    "-->",
	EdgeSLB:      "==>",
	EdgeEndpoint: "-.->",
	EdgePath:     "-->",
}

// mermaidClasses colour the vertex kinds; veth ends keep the default.
var mermaidClasses = []string{
	"classDef bridge fill:#fde7c8,stroke:#c77d1a",
	"classDef vxlan fill:#dcecff,stroke:#2f6db5",
	"classDef dummy fill:#eeeeee,stroke:#888888,stroke-dasharray:4 2",
	"classDef service fill:#e3f5e1,stroke:#3c8a34",
}

// mermaidExtraClasses are defined only where used, so that small drawings
// stay as they were.
var mermaidExtraClasses = map[string]string{
	KindPods: "classDef pods fill:#f4f4f4,stroke:#888888,stroke-dasharray:4 2",
	"note":   "classDef note fill:#fffbe6,stroke:#c9a400",
}

// notesID is the vertex holding a drawing's notes in Mermaid, which has
// no title of its own.
const notesID = "netlab_notes"

// mermaidMaxLinks is the most links Mermaid draws unless the page that
// embeds it raises its maxEdges setting (a diagram cannot).
const mermaidMaxLinks = 500

// mermaid writes g as a Mermaid flowchart, one subgraph per namespace.
func (g *Graph) mermaid(w io.Writer) error {
	grid := g.gridLinks()
	if n := len(g.Edges) + len(grid); n > mermaidMaxLinks {
		return fmt.Errorf("the Mermaid drawing of %s would have %d links and Mermaid draws at most %d: use --format dot, or draw a part with --node or --service", g.Lab, n, mermaidMaxLinks)
	}
	var sb strings.Builder
	// The title goes after the diagram type: some renderers want that first.
	dir := "LR"
	if grid != nil {
		dir = "TB"
	}
	fmt.Fprintf(&sb, "flowchart %s\n  %%%% netlab graph %s\n", dir, g.Title)
	used := map[string]bool{}
	if len(g.notes) > 0 {
		fmt.Fprintf(&sb, "  %s%s:::note\n", g.freeID(notesID), mermaidShape[plan.KindBridge][0]+mermaidText(strings.Join(g.notes, "\n"))+mermaidShape[plan.KindBridge][1])
		used["note"] = true
	}
	l := g.layout()
	var walk func(parent, indent string)
	walk = func(parent, indent string) {
		for _, v := range l.vertices[parent] {
			sh := mermaidShape[v.Kind]
			if sh[0] == "" {
				sh = [2]string{"[", "]"}
			}
			fmt.Fprintf(&sb, "%s%s%s%s%s", indent, v.ID, sh[0], mermaidText(v.Label), sh[1])
			if v.Kind != plan.KindVeth {
				fmt.Fprintf(&sb, ":::%s", Sanitize(v.Kind))
				used[v.Kind] = true
			}
			sb.WriteString("\n")
		}
		for _, c := range l.clusters[parent] {
			fmt.Fprintf(&sb, "%ssubgraph %s[%s]\n", indent, c.ID, mermaidText(c.Label))
			walk(c.ID, indent+"  ")
			fmt.Fprintf(&sb, "%send\n", indent)
		}
	}
	walk("", "  ")
	links := map[string][]int{} // path way -> link numbers
	for i, e := range g.Edges {
		link := mermaidLink[e.Kind]
		if link == "" {
			link = "---"
		}
		to := e.To
		if e.toCluster != "" {
			to = e.toCluster
		}
		// Spaces around the link: "a ---oB" would be read as a circle end.
		if e.Label == "" {
			fmt.Fprintf(&sb, "  %s %s %s\n", e.From, link, to)
		} else {
			fmt.Fprintf(&sb, "  %s %s|%s| %s\n", e.From, link, mermaidText(e.Label), to)
		}
		if e.Path != "" {
			links[e.Path] = append(links[e.Path], i)
		}
	}
	// Invisible links after the others: linkStyle counts links in order.
	for _, l := range grid {
		fmt.Fprintf(&sb, "  %s ~~~ %s\n", l[0], l[1])
	}
	for _, c := range mermaidClasses {
		fmt.Fprintf(&sb, "  %s\n", c)
	}
	for _, k := range []string{KindPods, "note"} {
		if used[k] {
			fmt.Fprintf(&sb, "  %s\n", mermaidExtraClasses[k])
		}
	}
	// Mermaid draws a link in one colour: what both crossed is the request's.
	links[PathRequest] = append(links[PathRequest], links[PathBoth]...)
	slices.Sort(links[PathRequest])
	for _, way := range []string{PathRequest, PathReply} {
		if len(links[way]) > 0 {
			nums := make([]string, len(links[way]))
			for i, n := range links[way] {
				nums[i] = fmt.Sprint(n)
			}
			fmt.Fprintf(&sb, "  linkStyle %s stroke:%s,stroke-width:4px\n", strings.Join(nums, ","), pathColor[way])
		}
	}
	for _, v := range g.Vertices {
		if v.Path != "" {
			fmt.Fprintf(&sb, "  style %s stroke:%s,stroke-width:3px\n", v.ID, pathColor[v.Path])
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// mermaidText quotes a label: inside quotes Mermaid takes any character
// but the quote itself (written as an entity); lines break with <br>.
func mermaidText(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return `"` + strings.ReplaceAll(s, "\n", "<br>") + `"`
}

// Graphviz attributes per vertex and edge kind.
var (
	dotVertex = map[string]string{
		plan.KindVeth:   `shape=box, style="rounded"`,
		plan.KindBridge: `shape=box, style="filled", fillcolor="#fde7c8"`,
		plan.KindVXLAN:  `shape=hexagon, style="filled", fillcolor="#dcecff"`,
		plan.KindDummy:  `shape=box, style="dashed"`,
		KindService:     `shape=component, style="filled", fillcolor="#e3f5e1"`,
		KindPods:        `shape=folder, style="filled", fillcolor="#f4f4f4"`,
	}
	dotEdge = map[string]string{
		EdgeVeth:     `dir=none, penwidth=2`,
		EdgeBridge:   `dir=none`,
		EdgeVXLAN:    `dir=both, style=dashed, color="#2f6db5"`,
		EdgeRoute:    `color="#c77d1a"`,
		EdgeSLB:      `penwidth=2, color="#8e44ad"`,
		EdgeEndpoint: `style=dashed, color="#3c8a34"`,
		// A step inside a namespace must not move the devices around.
		EdgePath: `constraint=false`,
	}
)

// dot writes g as a Graphviz digraph, one cluster per namespace.
func (g *Graph) dot(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "digraph %s {\n", dotText(g.Lab))
	title := strings.Join(append([]string{"netlab graph " + g.Title}, g.notes...), "\n")
	grid := g.gridLinks()
	rankdir := "LR"
	if grid != nil {
		rankdir = "TB"
	}
	fmt.Fprintf(&sb, "  label=%s;\n  labelloc=t;\n  rankdir=%s;\n  fontname=\"Helvetica\";\n", dotText(title), rankdir)
	if slices.ContainsFunc(g.Edges, func(e *Edge) bool { return e.toCluster != "" }) {
		sb.WriteString("  compound=true;\n")
	}
	sb.WriteString("  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	l := g.layout()
	var walk func(parent, indent string)
	walk = func(parent, indent string) {
		for _, v := range l.vertices[parent] {
			attrs := dotVertex[v.Kind]
			if attrs == "" {
				attrs = "shape=box"
			}
			if v.Path != "" {
				attrs += fmt.Sprintf(`, color="%s", penwidth=2.5`, pathColor[v.Path])
			}
			fmt.Fprintf(&sb, "%s%s [label=%s, %s];\n", indent, v.ID, dotText(v.Label), attrs)
		}
		for _, c := range l.clusters[parent] {
			fmt.Fprintf(&sb, "%ssubgraph cluster_%s {\n%s  label=%s;\n", indent, c.ID, indent, dotText(c.Label))
			walk(c.ID, indent+"  ")
			fmt.Fprintf(&sb, "%s}\n", indent)
		}
	}
	walk("", "  ")
	for _, e := range g.Edges {
		attrs := dotEdge[e.Kind]
		if e.Path != "" {
			attrs = dotPathAttrs(attrs, e.Path)
		}
		if e.toCluster != "" {
			attrs += ", lhead=cluster_" + e.toCluster
		}
		if e.Label != "" {
			attrs += ", label=" + dotText(e.Label)
		}
		fmt.Fprintf(&sb, "  %s -> %s [%s];\n", e.From, e.To, strings.TrimPrefix(attrs, ", "))
	}
	for _, l := range grid {
		fmt.Fprintf(&sb, "  %s -> %s [style=invis, minlen=3, weight=10];\n", l[0], l[1])
	}
	sb.WriteString("}\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// dotPathAttrs recolours an edge on the path: thick, red for the request,
// teal for the answer, both colours side by side for both.
func dotPathAttrs(attrs, way string) string {
	var keep []string
	for _, a := range strings.Split(attrs, ", ") {
		if a != "" && !strings.HasPrefix(a, "color=") && !strings.HasPrefix(a, "penwidth=") {
			keep = append(keep, a)
		}
	}
	color := pathColor[way]
	if way == PathBoth {
		color = pathColor[PathRequest] + ":" + pathColor[PathReply]
	}
	return strings.Join(append(keep, fmt.Sprintf(`color="%s", penwidth=3`, color)), ", ")
}

// dotText quotes a Graphviz string; "\n" inside it is a centred line break.
func dotText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

// gridLinks are the invisible edges that lay the node boxes of a graph
// with more than Crowd nodes out in rows under the VPC (drawn top to
// bottom then): each box's first device to the one of the box below it,
// far enough (minlen) to clear the box's three ranks (its eth0 and
// bridges, the veth ends, the pods). Without them dot puts every node box
// side by side, each hanging off its vSwitch port. nil for fewer nodes,
// drawn left to right in one column as before.
func (g *Graph) gridLinks() [][2]string {
	var anchors []string
	for _, c := range g.Clusters {
		if c.Role != plan.RoleNode {
			continue
		}
		if v := g.anchor(c.ID); v != nil {
			anchors = append(anchors, v.ID)
		}
	}
	if len(anchors) <= Crowd {
		return nil
	}
	cols := gridColumns(len(anchors))
	var out [][2]string
	for i := 0; i+cols < len(anchors); i++ {
		out = append(out, [2]string{anchors[i], anchors[i+cols]})
	}
	return out
}

// gridColumns is how many node boxes a row holds: one fewer than a square
// grid's, as a box (its pods side by side) is about twice as wide as tall,
// so the picture comes out about twice as wide as tall, like a slide.
func gridColumns(nodes int) int {
	c := 1
	for c*c < nodes {
		c++
	}
	return max(c-1, 2)
}
