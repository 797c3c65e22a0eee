package topology

// What the SLB's model (lab/cloud renders it) and the probes that pin it
// share: which nodes the SLB sends a Service to, and how a client picks
// one. Both follow from the scenario alone, so they live here, where a
// probe reads them without linking the renderer.

// MaxPinnedNodes is how many nodes a probe can pin the SLB to: the pin is
// the DSCP of the client's packets (PinDSCP), 1-63.
const MaxPinnedNodes = 63

// PinDSCP is the DSCP value of a client's packets that makes the SLB pick
// node i (its index in the topology); 0, the default, leaves the choice to
// the SLB's balancing. A DSCP survives what a source port does not: a pod's
// connection to an LB IP leaves its node masqueraded (flannel's MASQUERADE
// --random-fully), which picks a new random source port, so a pin carried
// in the port would be lost on the way.
func PinDSCP(i int) int { return i + 1 }

// LBBackends are the nodes the SLB sends a Service to: every node for
// externalTrafficPolicy Cluster; for Local only nodes with a ready local
// endpoint, because the SLB's health check against healthCheckNodePort
// fails everywhere else.
func (t *Topology) LBBackends(s *Service) []*Node {
	var out []*Node
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if s.ExternalTrafficPolicy != PolicyLocal {
			out = append(out, n)
			continue
		}
		for _, p := range t.Endpoints(s) {
			if p.Node == n.Name && p.IsReady() {
				out = append(out, n)
				break
			}
		}
	}
	return out
}
