package textdiff

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nx\nh\ni\nj\n"
	b := "a\nb\nc\nD\ne\nf\ng\nx\nh\ni\nj\nk\n"
	want := `--- A
+++ B
@@ -1,7 +1,7 @@
 a
 b
 c
-d
+D
 e
 f
 g
@@ -9,3 +9,4 @@
 h
 i
 j
+k
`
	if got := Unified(a, b, "A", "B"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if Unified(a, a, "A", "B") != "" {
		t.Error("equal texts differ")
	}
}

// TestUnifiedEmptySide: an empty text has no lines (not one empty line),
// and its side of the hunk header is "0,0", as diff -u writes it.
func TestUnifiedEmptySide(t *testing.T) {
	if got, want := Unified("", "x\ny\n", "A", "B"), "--- A\n+++ B\n@@ -0,0 +1,2 @@\n+x\n+y\n"; got != want {
		t.Errorf("insert into empty: got\n%s\nwant\n%s", got, want)
	}
	if got, want := Unified("x\n", "", "A", "B"), "--- A\n+++ B\n@@ -1,1 +0,0 @@\n-x\n"; got != want {
		t.Errorf("delete all: got\n%s\nwant\n%s", got, want)
	}
}

// lcsLength is the plain dynamic programme the package used before (O(n·m)
// memory): the reference the linear-space search is held to.
func lcsLength(x, y []string) int {
	prev, cur := make([]int, len(y)+1), make([]int, len(y)+1)
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				cur[j] = prev[j+1] + 1
			} else {
				cur[j] = max(prev[j], cur[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[0]
}

// check verifies that script(x, y) is a valid edit script (the kept lines
// are equal, its deletions and insertions rebuild y from x) of minimal
// length: n + m - 2·LCS edits.
func check(t *testing.T, x, y []string) {
	t.Helper()
	ops := script(x, y)
	var got []string
	edits, i, j := 0, 0, 0
	for _, o := range ops {
		switch o.kind {
		case ' ':
			if o.ai != i || o.bi != j || x[i] != y[j] {
				t.Fatalf("kept line a[%d]=%q b[%d]=%q out of step or unequal (%d, %d)\nx=%q\ny=%q", o.ai, x[o.ai], o.bi, y[o.bi], i, j, x, y)
			}
			got = append(got, x[i])
			i, j = i+1, j+1
		case '-':
			if o.ai != i {
				t.Fatalf("deletion of a[%d] out of step (%d)", o.ai, i)
			}
			i++
			edits++
		case '+':
			if o.bi != j {
				t.Fatalf("insertion of b[%d] out of step (%d)", o.bi, j)
			}
			got = append(got, y[j])
			j++
			edits++
		}
	}
	if i != len(x) || j != len(y) || !slices.Equal(got, y) {
		t.Fatalf("script does not rebuild y\nx=%q\ny=%q\ngot=%q", x, y, got)
	}
	if want := len(x) + len(y) - 2*lcsLength(x, y); edits != want {
		t.Fatalf("%d edits, shortest is %d\nx=%q\ny=%q", edits, want, x, y)
	}
}

func randomLines(r *rand.Rand, n, alphabet int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string(rune('a' + r.IntN(alphabet)))
	}
	return out
}

// TestShortestScript holds the linear-space search to the LCS on random
// small inputs: few letters (many equal lines, many ties) and more
// letters, sides of unequal length, and one side a mutation of the other.
func TestShortestScript(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20000; n++ {
		alphabet := 2 + r.IntN(10)
		x := randomLines(r, r.IntN(30), alphabet)
		var y []string
		if r.IntN(2) == 0 {
			y = randomLines(r, r.IntN(30), alphabet)
		} else {
			y = slices.Clone(x)
			for e := r.IntN(6); e > 0; e-- {
				p := r.IntN(len(y) + 1)
				switch r.IntN(3) {
				case 0:
					y = slices.Insert(y, p, string(rune('a'+r.IntN(alphabet))))
				case 1:
					if p < len(y) {
						y = slices.Delete(y, p, p+1)
					}
				default:
					if p < len(y) {
						y[p] = "Z"
					}
				}
			}
		}
		check(t, x, y)
	}
}

// TestEditCountsMatchUnified: Stats counts the '-' and '+' lines that
// Unified prints.
func TestEditCountsMatchUnified(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 500; n++ {
		x, y := randomLines(r, r.IntN(40), 4), randomLines(r, r.IntN(40), 4)
		a, b := strings.Join(x, "\n")+"\n", strings.Join(y, "\n")+"\n"
		del, ins := Stats(a, b)
		u := Unified(a, b, "A", "B")
		var d, i int
		for _, l := range Lines(u)[min(2, len(Lines(u))):] {
			switch l[0] {
			case '-':
				d++
			case '+':
				i++
			}
		}
		if d != del || i != ins {
			t.Fatalf("Stats says -%d +%d, Unified prints -%d +%d\n%s", del, ins, d, i, u)
		}
	}
}

// TestOverTheCostLimit: past costLimit the script may be longer than the
// shortest but is still a valid one.
func TestOverTheCostLimit(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y := randomLines(r, 3*costLimit, 3), randomLines(r, 3*costLimit, 3)
	ops := script(x, y)
	var got []string
	for _, o := range ops {
		switch o.kind {
		case ' ':
			if x[o.ai] != y[o.bi] {
				t.Fatalf("kept a[%d] != b[%d]", o.ai, o.bi)
			}
			got = append(got, x[o.ai])
		case '+':
			got = append(got, y[o.bi])
		}
	}
	if !slices.Equal(got, y) {
		t.Fatal("script does not rebuild y")
	}
}

// rulesets is a node's iptables-restore text for services Services, with
// every changeEvery-th Service's rules changed in b (a new endpoint, a
// renamed comment): 10 lines a Service, like kube-proxy's.
func rulesets(services, changeEvery int) (a, b string) {
	var sa, sb strings.Builder
	for s := 0; s < services; s++ {
		for _, w := range []*strings.Builder{&sa, &sb} {
			changed := w == &sb && s%changeEvery == 0
			fmt.Fprintf(w, ":KUBE-SVC-%08d - [0:0]\n", s)
			fmt.Fprintf(w, "-A KUBE-SERVICES -m comment --comment \"ns/svc-%d:http cluster IP\" -d 10.96.%d.%d --dport 80 -j KUBE-SVC-%08d\n", s, s/256, s%256, s)
			fmt.Fprintf(w, "-A KUBE-SVC-%08d ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ\n", s)
			for e := 0; e < 3; e++ {
				fmt.Fprintf(w, "-A KUBE-SVC-%08d -m statistic --mode random --probability 0.33 -j KUBE-SEP-%08d%d\n", s, s, e)
				fmt.Fprintf(w, "-A KUBE-SEP-%08d%d -j DNAT --to-destination 10.244.%d.%d:80\n", s, e, e, s%250)
			}
			if changed {
				fmt.Fprintf(w, "-A KUBE-SEP-%08d3 -j DNAT --to-destination 10.244.9.%d:80\n", s, s%250)
			}
		}
	}
	return sa.String(), sb.String()
}

// BenchmarkUnified50k: two 50,000-line rulesets, one Service in ten
// changed. The old LCS table alone was 50,000² ints (20 GB); this reports
// its time and allocations (go test -bench Unified50k -benchmem).
func BenchmarkUnified50k(b *testing.B) {
	x, y := rulesets(6250, 10)
	b.Logf("%d and %d lines", strings.Count(x, "\n"), strings.Count(y, "\n"))
	b.ReportAllocs()
	for b.Loop() {
		Unified(x, y, "a", "b")
	}
}

// BenchmarkUnified50kUnrelated: the worst input for the search, two
// 50,000-line texts with the same few lines in different orders (no line
// is unique to one side, so nothing is set aside before the search).
func BenchmarkUnified50kUnrelated(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	x, y := randomLines(r, 50000, 26), randomLines(r, 50000, 26)
	a, c := strings.Join(x, "\n")+"\n", strings.Join(y, "\n")+"\n"
	b.ReportAllocs()
	for b.Loop() {
		Unified(a, c, "a", "b")
	}
}

// TestLinearMemory: the bytes a 50,000-line diff allocates grow with the
// input, not its square (the old table was 20 GB; allow 100 MB).
func TestLinearMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two 50,000-line texts")
	}
	x, y := rulesets(6250, 10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := Unified(x, y, "a", "b")
	runtime.ReadMemStats(&after)
	if total := after.TotalAlloc - before.TotalAlloc; total > 100<<20 {
		t.Errorf("a 50,000-line diff allocated %d MB", total>>20)
	}
	if del, ins := Stats(x, y); del != 0 || ins != 625 {
		t.Errorf("-%d +%d lines, want -0 +625 (one DNAT rule added per changed Service)", del, ins)
	}
	if !strings.Contains(d, "+-A KUBE-SEP-000000003 -j DNAT --to-destination 10.244.9.0:80\n") {
		t.Error("the diff lacks the first added rule")
	}
}

// oldTable is the memory the previous implementation's table took: one
// int per pair of lines.
func oldTable(x, y []string) [][]int {
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	return lcs
}

// BenchmarkOldLCS5k is the previous algorithm's table on a tenth of the
// input of BenchmarkUnified50k (5,000 lines a side): it is already
// 200 MB, and it grows with the square.
func BenchmarkOldLCS5k(b *testing.B) {
	x, y := rulesets(625, 10)
	xl, yl := Lines(x), Lines(y)
	b.ReportAllocs()
	for b.Loop() {
		oldTable(xl, yl)
	}
}

func BenchmarkUnified5k(b *testing.B) {
	x, y := rulesets(625, 10)
	b.ReportAllocs()
	for b.Loop() {
		Unified(x, y, "a", "b")
	}
}
