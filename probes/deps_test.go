package probes

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoRenderers: observing a lab never renders it, so probes (and all it
// imports) links none of the renderers; the plan it observes is the one up
// stored. A compile step creeping back into observation fails here. Nor
// does it configure the kernel (lab/apply) or serve (lab/daemon, the lab
// daemon's servers and proxies).
func TestNoRenderers(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, renderer := range []string{"lab/compile", "lab/kubeproxy", "lab/cni", "lab/cloud", "lab/apply", "lab/daemon"} {
			if dep == "github.com/netlab/netlab/"+renderer {
				t.Errorf("probes depends on %s", dep)
			}
		}
	}
}
