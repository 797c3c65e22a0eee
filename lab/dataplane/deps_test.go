package dataplane

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure: the reading is pure, so of netlab it links only the plan it
// reads and the topology its questions come from: no compile step (it
// reads a plan, never renders one), nothing that configures, serves or
// observes a lab (lab, lab/apply, lab/daemon, lab/netns, lab/state,
// probes), no kernel probe (lab/kernel), no CLI. Nor does it link a
// netlink or IPVS client. Tests may compile plans (go list -deps leaves
// test imports out).
func TestPure(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/netlab/netlab/"
	allowed := map[string]bool{"lab/dataplane": true, "lab/plan": true, "lab/topology": true, "internal/registry": true}
	for _, dep := range strings.Fields(string(out)) {
		if name, ok := strings.CutPrefix(dep, module); ok && !allowed[name] {
			t.Errorf("dataplane depends on %s", dep)
		}
		for _, kernel := range []string{"github.com/vishvananda/", "github.com/moby/ipvs", "golang.org/x/sys/unix"} {
			if strings.HasPrefix(dep, kernel) {
				t.Errorf("dataplane depends on %s", dep)
			}
		}
	}
}
