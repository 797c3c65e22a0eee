package topology_test

import (
	"testing"

	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
)

const withService = good + `services:
  - {name: web, type: NodePort, selector: {app: b}, ports: [{port: 80, nodePort: 30080}]}
`

// TestResolveTargetErrors: each bad target gets the message about what is
// wrong with it, not a neighbouring one ("no pod named 1.2.3.4").
func TestResolveTargetErrors(t *testing.T) {
	topo, err := topology.Load("t.yaml", []byte(withService))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ target, want string }{
		{"1.2.3.4:0", `"1.2.3.4:0": port "0" is not a number in 1-65535`},
		{"1.2.3.4:99999", `"1.2.3.4:99999": port "99999" is not a number in 1-65535`},
		{"1.2.3.4:http", `"1.2.3.4:http": port "http" is not a number in 1-65535`},
		{"1.2.3.4", `"1.2.3.4": an IP target needs a port, e.g. 1.2.3.4:80`},
		{"svc/web:nodeport", `"svc/web:nodeport": name the node whose NodePort to use, e.g. svc/web:nodeport@node-1`},
		{"svc/web:nodeport@node-9", `"svc/web:nodeport@node-9": no node is named "node-9" (nodes: node-1, node-2)`},
		{"pod/b:0", `"pod/b:0": port "0" is not a number in 1-65535`},
	} {
		_, err := topo.ResolveTarget(c.target)
		if err == nil || err.Error() != c.want {
			t.Errorf("ResolveTarget(%q) = %v\n want %s", c.target, err, c.want)
		}
	}
	for target, want := range map[string]string{"10.0.0.10:80": "10.0.0.10:80", "[::1]:80": "[::1]:80", "svc/web:nodeport@node-2": "10.0.0.50:30080"} {
		r, err := topo.ResolveTarget(target)
		if err != nil || r.AddrPort().String() != want {
			t.Errorf("ResolveTarget(%q) = %v, %v; want %s", target, r.AddrPort(), err, want)
		}
	}
}
