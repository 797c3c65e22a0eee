package graph

import (
	"fmt"

	"github.com/netlab/netlab/lab/plan"
)

// Which way a probe's packets crossed a vertex or an edge (their Path).
const (
	PathRequest = "request"
	PathReply   = "reply"
	PathBoth    = "both"
)

// EdgePath is a step of a probe that no edge of the lab draws: a
// namespace routing the packet from one of its devices to another
// (cni0 to flannel.1), or devices the graph does not join.
const EdgePath = "path"

// Path is one probe as graph --path draws it. It is plain data (the CLI
// fills it from the probe's result), so drawing a path needs no lab.
type Path struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Target string `json:"target"`
	Result string `json:"result"`
	// Service is the Service the probe was sent to and Server the pod
	// that answered: their endpoint edge is part of the path.
	Service string `json:"service,omitempty"`
	Server  string `json:"server,omitempty"`
	// Request is the devices the first packet crossed, in order; Reply
	// the answer's, only where it did not retrace Request.
	Request []Hop `json:"request"`
	Reply   []Hop `json:"reply,omitempty"`
}

// Hop is a device a packet crossed: a vertex of the graph, found by its
// namespace and device name.
type Hop struct {
	Namespace string `json:"namespace"`
	Owner     string `json:"owner,omitempty"`
	Device    string `json:"device"`
	Dir       string `json:"dir,omitempty"`
	Src       string `json:"src,omitempty"`
	Dst       string `json:"dst,omitempty"`
}

// AddPath marks the vertices and edges p's packets crossed, in g itself:
// the request's, then the answer's where it differs. Consecutive hops
// that no edge joins get an EdgePath edge, so the drawn path is never
// broken. Hops on devices the graph lacks (a userspace proxy's relay
// step) are passed over. A VXLAN tunnel is marked when the packet left
// one of its ends and next reached a VTEP at the other.
func (g *Graph) AddPath(p *Path) {
	g.Path = p
	idx := g.index()
	g.walk(idx, p.Request, PathRequest)
	g.walk(idx, p.Reply, PathReply)
	if svc, server := idx.service[p.Service], p.Server; svc != nil && server != "" {
		for _, e := range g.Edges {
			if to := idx.vertex[e.To]; e.Kind == EdgeEndpoint && e.From == svc.ID && idx.ownerOf(to) == server {
				mark(&svc.Path, PathRequest)
				mark(&e.Path, PathRequest)
			}
		}
	}
}

// index looks vertices up by ID, by device and (Services) by name.
type index struct {
	vertex  map[string]*Vertex
	device  map[devKey]*Vertex
	service map[string]*Vertex
	cluster map[string]*Cluster
}

func (g *Graph) index() *index {
	x := &index{vertex: map[string]*Vertex{}, device: map[devKey]*Vertex{}, service: map[string]*Vertex{}, cluster: map[string]*Cluster{}}
	for _, v := range g.Vertices {
		x.vertex[v.ID] = v
		if v.Kind == KindService {
			x.service[v.Name] = v
		} else {
			x.device[devKey{v.Namespace, v.Name}] = v
		}
	}
	for _, c := range g.Clusters {
		x.cluster[c.ID] = c
	}
	return x
}

// ownerOf is the pod, node or client whose namespace holds v; for a
// hostNetwork endpoint (its node's eth0) that is the node.
func (x *index) ownerOf(v *Vertex) string {
	if v == nil || x.cluster[v.Cluster] == nil {
		return ""
	}
	return x.cluster[v.Cluster].Owner
}

func (g *Graph) walk(x *index, hops []Hop, way string) {
	var prev, lastVTEP *Vertex
	for _, h := range hops {
		v := x.device[devKey{h.Namespace, h.Device}]
		if v == nil {
			continue
		}
		mark(&v.Path, way)
		if prev != nil && prev != v {
			e := g.between(prev, v)
			if e == nil {
				e = &Edge{From: prev.ID, To: v.ID, Kind: EdgePath}
				g.Edges = append(g.Edges, e)
			}
			mark(&e.Path, way)
		}
		if v.Kind == plan.KindVXLAN {
			if lastVTEP != nil && lastVTEP != v {
				if e := g.edgeOf(EdgeVXLAN, lastVTEP, v); e != nil {
					mark(&e.Path, way)
				}
			}
			lastVTEP = v
		}
		prev = v
	}
}

// between is an edge joining a and b either way round, preferring the
// cables (veth, bridge port) to what is logical; nil if none.
func (g *Graph) between(a, b *Vertex) *Edge {
	for _, kind := range []string{EdgeVeth, EdgeBridge, EdgeRoute, EdgeSLB, EdgeVXLAN, EdgePath} {
		if e := g.edgeOf(kind, a, b); e != nil {
			return e
		}
	}
	return nil
}

func (g *Graph) edgeOf(kind string, a, b *Vertex) *Edge {
	for _, e := range g.Edges {
		if e.Kind == kind && (e.From == a.ID && e.To == b.ID || e.From == b.ID && e.To == a.ID) {
			return e
		}
	}
	return nil
}

// mark adds a way to a Path field: request and reply make both.
func mark(field *string, way string) {
	switch *field {
	case "", way:
		*field = way
	default:
		*field = PathBoth
	}
}

// pathNote is the drawing's line about the path and its colours.
func (p *Path) note() string {
	s := fmt.Sprintf("path %s -> %s (%s): %s; red: request", p.From, p.To, p.Target, p.Result)
	if len(p.Reply) > 0 {
		s += ", teal: answer (its own way back)"
	} else if p.Result == "connected" {
		s += " (the answer retraced it)"
	}
	return s
}
