package textdiff

import "testing"

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
