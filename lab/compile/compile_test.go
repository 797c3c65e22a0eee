package compile

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestCompileGolden compiles every built-in scenario and compares the
// rendered plan with testdata/<scenario>.plan. Run with -update after an
// intended change and review the diff.
func TestCompileGolden(t *testing.T) {
	for _, name := range topologies.Names() {
		t.Run(name, func(t *testing.T) {
			data, _ := topologies.Get(name)
			topo, err := topology.Load(name+".yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(topo, name)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := p.Render(&got); err != nil {
				t.Fatal(err)
			}
			// Deterministic: a second compile renders the same text.
			p2, _ := Compile(topo, name)
			var again bytes.Buffer
			_ = p2.Render(&again)
			if !bytes.Equal(got.Bytes(), again.Bytes()) {
				t.Fatal("two compiles of the same scenario differ")
			}
			golden := filepath.Join("testdata", name+".plan")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./lab/compile -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("plan for %s differs from %s; run go test ./lab/compile -update and review the diff.\n%s", name, golden, firstDiff(string(want), got.String()))
			}
		})
	}
}

func firstDiff(want, got string) string {
	wl, gl := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return ""
}
