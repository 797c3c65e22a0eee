// Package textdiff compares texts line by line, for netlab diff and for
// tests that show how two renderings differ.
package textdiff

import (
	"fmt"
	"strings"
)

// context is the number of unchanged lines shown around a change.
const context = 3

// op is one line of the edit script: kept (' '), deleted ('-') or inserted
// ('+'); ai and bi are the line's index in a and b (for an insertion, ai is
// the index of the next line of a, and the other way round).
type op struct {
	kind   byte
	ai, bi int
}

// Lines splits a text into lines without their "\n"; "" has none.
func Lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Unified is a line diff of a and b in unified format with three lines of
// context; "" when a == b. The edit script is a shortest one (Myers'
// algorithm in linear space; see myers.go) unless a stretch of the texts
// needs more than costLimit edits, where it can be a little longer (two
// 5,000-Service iptables rulesets, 1.23 against 1.28: 96,046 edits for a
// shortest 96,018, in half a second). Memory is O(len(a)+len(b)): two
// 75,000-line rulesets compare in tens of megabytes.
func Unified(a, b, nameA, nameB string) string {
	if a == b {
		return ""
	}
	x, y := Lines(a), Lines(b)
	ops := script(x, y)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", nameA, nameB)
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk runs from context lines before this change to context
		// lines after the last change that is less than 2*context kept
		// lines from the one before it.
		start := max(k-context, 0)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*context || run == len(ops) {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(ops[start].ai, na), hunkRange(ops[start].bi, nb))
		for _, o := range ops[start:end] {
			sb.WriteByte(o.kind)
			if o.kind == '+' {
				sb.WriteString(y[o.bi])
			} else {
				sb.WriteString(x[o.ai])
			}
			sb.WriteByte('\n')
		}
		k = end
	}
	return sb.String()
}

// hunkRange is one side of a hunk header: the first line (1-based) and the
// count. A side with no lines in the hunk names the line before it, as
// diff -u does ("-0,0" for an empty file).
func hunkRange(first, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", first)
	}
	return fmt.Sprintf("%d,%d", first+1, n)
}

// script is the edit script turning x into y: kept lines in order, and
// between two kept lines the deletions before the insertions.
func script(x, y []string) []op {
	ca, cb := changes(x, y)
	ops := make([]op, 0, max(len(x), len(y)))
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && ca[i]:
			ops = append(ops, op{'-', i, j})
			i++
		case j < len(y) && cb[j]:
			ops = append(ops, op{'+', i, j})
			j++
		default:
			ops = append(ops, op{' ', i, j})
			i, j = i+1, j+1
		}
	}
	return ops
}

// Stats counts the lines a shortest edit script deletes from a and inserts
// from b (0, 0 when the texts are equal).
func Stats(a, b string) (deleted, inserted int) {
	if a == b {
		return 0, 0
	}
	ca, cb := changes(Lines(a), Lines(b))
	for _, c := range ca {
		if c {
			deleted++
		}
	}
	for _, c := range cb {
		if c {
			inserted++
		}
	}
	return deleted, inserted
}
