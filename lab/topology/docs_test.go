package topology_test

import (
	"bufio"
	"bytes"
	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
	"os"
	"strings"
	"testing"
)

// docsFile is the scenario reference whose examples TestDocExamples loads.
const docsFile = "../../docs/scenario.md"

// Markers on the first line of a ```yaml block in docs/scenario.md.
// Blocks without one are fragments of a scenario and are not loaded.
const (
	markComplete = "# complete scenario"
	markBad      = "# bad scenario"
)

// docBlock is one fenced code block of a Markdown file.
type docBlock struct {
	lang string
	line int // of the opening fence, for messages
	text string
}

// fencedBlocks returns the fenced code blocks of a Markdown text in order.
func fencedBlocks(t *testing.T, md []byte) []docBlock {
	var out []docBlock
	var cur *docBlock
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.HasPrefix(strings.TrimSpace(line), "```")
		switch {
		case cur == nil && fence:
			cur = &docBlock{lang: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "```")), line: n}
			body.Reset()
		case cur != nil && fence:
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: code block is never closed", docsFile, cur.line)
	}
	return out
}

// TestDocExamples keeps docs/scenario.md true: every ```yaml block marked
// "# complete scenario" must load, and every one marked "# bad scenario"
// must fail (loaded as bad.yaml) with exactly the problems of the ```text
// block that follows it.
func TestDocExamples(t *testing.T) {
	md, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocks(t, md)
	complete, bad := 0, 0
	for i, b := range blocks {
		if b.lang != "yaml" {
			continue
		}
		first, _, _ := strings.Cut(b.text, "\n")
		switch strings.TrimSpace(first) {
		case markComplete:
			complete++
			if _, err := topology.Load("scenario.yaml", []byte(b.text)); err != nil {
				t.Errorf("%s:%d: the example does not load:\n%v", docsFile, b.line, err)
			}
		case markBad:
			bad++
			if i+1 >= len(blocks) || blocks[i+1].lang != "text" {
				t.Errorf("%s:%d: a bad scenario must be followed by a ```text block with its messages", docsFile, b.line)
				continue
			}
			want := strings.TrimSpace(blocks[i+1].text)
			_, err := topology.Load("bad.yaml", []byte(b.text))
			switch {
			case err == nil:
				t.Errorf("%s:%d: the bad example loads without an error", docsFile, b.line)
			case err.Error() != want:
				t.Errorf("%s:%d: the bad example's messages differ from the ```text block after it\ngot:\n%v\nwant:\n%s", docsFile, b.line, err, want)
			}
		}
	}
	// A marker typo must not make the test pass on nothing.
	if complete < 5 || bad < 1 {
		t.Errorf("%s: found %d complete and %d bad examples; is the %q / %q marker spelled right?", docsFile, complete, bad, markComplete, markBad)
	}
}
