package textdiff

// This file finds which lines of a and b are not part of a longest common
// subsequence, in O(len(a)+len(b)) memory: Myers' "middle snake"
// divide and conquer (E. W. Myers, An O(ND) Difference Algorithm and Its
// Variations, 1986, section 4b). A node's rules are 50,000 lines a side;
// the table of the plain LCS dynamic programme would be 2.5e9 cells.

// costLimit bounds the edit distance one middle-snake search explores
// before it settles for the furthest-reaching forward path as its split
// point. Below it every split is the optimal one, so the script is minimal
// whenever no subproblem needs more than costLimit edits (the tests rely on
// that: they stay far below it). Above it the running time stays
// O((n+m)·costLimit) per level instead of O((n+m)·D), at the price of a
// script that may be longer than the shortest.
const costLimit = 2048

// differ holds the two sequences as line numbers (equal lines, equal
// numbers) and the result: changedA[i] is set when a[i] is deleted,
// changedB[j] when b[j] is inserted.
type differ struct {
	a, b               []int32
	changedA, changedB []bool
	// fwd and bwd are the furthest-reaching x per diagonal, indexed by
	// diagonal+off, shared by every search (a search never outlives its
	// caller's use of them).
	fwd, bwd []int
	limit    int
}

// changes marks the lines of a and b outside a longest common subsequence
// (exactly one, unless a subproblem exceeds costLimit).
func changes(a, b []string) (changedA, changedB []bool) {
	changedA, changedB = make([]bool, len(a)), make([]bool, len(b))
	// Number the lines. A line that the other side lacks altogether is in
	// no common subsequence: mark it now and leave it out of the search,
	// which keeps the search small when the sides share little (an
	// iptables ruleset against an IPVS one).
	ids := make(map[string]int32, len(a))
	const inA, inB = 1, 2
	var seen []uint8
	id := func(s string, side uint8) int32 {
		n, ok := ids[s]
		if !ok {
			n = int32(len(seen))
			ids[s] = n
			seen = append(seen, 0)
		}
		seen[n] |= side
		return n
	}
	na, nb := make([]int32, len(a)), make([]int32, len(b))
	for i, s := range a {
		na[i] = id(s, inA)
	}
	for j, s := range b {
		nb[j] = id(s, inB)
	}
	// keptA[k] is the index in a of the k-th line searched.
	var keptA, keptB []int
	var sa, sb []int32
	for i, n := range na {
		if seen[n] == inA|inB {
			keptA, sa = append(keptA, i), append(sa, n)
		} else {
			changedA[i] = true
		}
	}
	for j, n := range nb {
		if seen[n] == inA|inB {
			keptB, sb = append(keptB, j), append(sb, n)
		} else {
			changedB[j] = true
		}
	}
	size := len(sa) + len(sb) + 3
	d := &differ{
		a: sa, b: sb,
		changedA: make([]bool, len(sa)), changedB: make([]bool, len(sb)),
		fwd: make([]int, 2*size), bwd: make([]int, 2*size),
		limit: costLimit,
	}
	d.compare(0, len(sa), 0, len(sb))
	for k, c := range d.changedA {
		if c {
			changedA[keptA[k]] = true
		}
	}
	for k, c := range d.changedB {
		if c {
			changedB[keptB[k]] = true
		}
	}
	return changedA, changedB
}

// compare marks the changes between a[aLo:aHi] and b[bLo:bHi].
func (d *differ) compare(aLo, aHi, bLo, bHi int) {
	for {
		for aLo < aHi && bLo < bHi && d.a[aLo] == d.b[bLo] {
			aLo, bLo = aLo+1, bLo+1
		}
		for aLo < aHi && bLo < bHi && d.a[aHi-1] == d.b[bHi-1] {
			aHi, bHi = aHi-1, bHi-1
		}
		if aLo == aHi {
			for j := bLo; j < bHi; j++ {
				d.changedB[j] = true
			}
			return
		}
		if bLo == bHi {
			for i := aLo; i < aHi; i++ {
				d.changedA[i] = true
			}
			return
		}
		x, y := d.split(aLo, aHi, bLo, bHi)
		// Recurse into the smaller half, loop on the larger: the stack
		// stays logarithmic even when the splits are lopsided.
		if (x-aLo)+(y-bLo) < (aHi-x)+(bHi-y) {
			d.compare(aLo, x, bLo, y)
			aLo, bLo = x, y
		} else {
			d.compare(x, aHi, y, bHi)
			aHi, bHi = x, y
		}
	}
}

// split returns a point (x, y), aLo <= x <= aHi and bLo <= y <= bHi, on a
// shortest edit path from (aLo, bLo) to (aHi, bHi), strictly between the
// two ends. The first and last lines differ (compare stripped the common
// prefix and suffix) and neither range is empty.
//
// Coordinates are relative to (aLo, bLo): x indexes a, y indexes b,
// diagonal k = x - y. The forward search extends D-paths from (0, 0); the
// backward search extends them from (n, m), storing for each diagonal of
// its own reversed coordinates (x' = n - x, y' = m - y) the furthest x'.
// Forward diagonal k and backward diagonal k' meet when k = delta - k'.
func (d *differ) split(aLo, aHi, bLo, bHi int) (int, int) {
	a, b := d.a[aLo:aHi], d.b[bLo:bHi]
	n, m := len(a), len(b)
	maxD := (n + m + 1) / 2
	off := maxD + 1
	delta := n - m
	odd := delta&1 != 0
	fwd, bwd := d.fwd[:2*off+2], d.bwd[:2*off+2]
	for i := range fwd {
		fwd[i], bwd[i] = -1, -1
	}
	fwd[off+1], bwd[off+1] = 0, 0
	// The diagonals a round looks at shrink from either end once a path
	// has run off the grid (x > n or y > m there), so no round scans
	// diagonals that can only lead outside it.
	fLo, fHi, bLo2, bHi2 := 0, 0, 0, 0
	for D := 0; D <= maxD; D++ {
		if D > d.limit {
			return d.bestForward(a, b, D, fLo, fHi, off, aLo, bLo)
		}
		for k := -D + fLo; k <= D-fHi; k += 2 {
			var x int
			if k == -D || (k != D && fwd[off+k-1] < fwd[off+k+1]) {
				x = fwd[off+k+1] // down: an insertion from b
			} else {
				x = fwd[off+k-1] + 1 // right: a deletion from a
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			fwd[off+k] = x
			switch {
			case x > n:
				fHi += 2
			case y > m:
				fLo += 2
			case odd:
				// A backward path that ran off the grid is no
				// path: only one inside it can meet this one.
				if kb := delta - k; kb >= -(D-1) && kb <= D-1 {
					if xb := bwd[off+kb]; xb >= 0 && xb <= n && xb-kb <= m && x >= n-xb {
						return aLo + x, bLo + y
					}
				}
			}
		}
		for k := -D + bLo2; k <= D-bHi2; k += 2 {
			var x int
			if k == -D || (k != D && bwd[off+k-1] < bwd[off+k+1]) {
				x = bwd[off+k+1]
			} else {
				x = bwd[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[n-x-1] == b[m-y-1] {
				x, y = x+1, y+1
			}
			bwd[off+k] = x
			switch {
			case x > n:
				bHi2 += 2
			case y > m:
				bLo2 += 2
			case !odd:
				if kf := delta - k; kf >= -D && kf <= D {
					if xf := fwd[off+kf]; xf >= 0 && xf <= n && xf-kf <= m && xf >= n-x {
						return aLo + xf, bLo + xf - kf
					}
				}
			}
		}
	}
	// Unreachable: the paths meet by round ceil((n+m)/2).
	panic("textdiff: the forward and backward searches never met")
}

// bestForward is split's way out when the edit distance exceeds the limit:
// the forward path that got furthest (largest x+y) ends at a point that
// an edit path passes, so splitting there is valid, just maybe not
// optimal. It lies strictly inside the grid: every forward path of round
// D-1 >= 1 made progress, and none reached (n, m) (the searches would
// have met).
func (d *differ) bestForward(a, b []int32, D, fLo, fHi, off, aLo, bLo int) (int, int) {
	n, m := len(a), len(b)
	bx, by := -1, -1
	for k := -(D - 1) + fLo; k <= D-1-fHi; k += 2 {
		x := d.fwd[off+k]
		y := x - k
		if x < 0 || x > n || y < 0 || y > m {
			continue
		}
		if x+y > bx+by && x+y < n+m {
			bx, by = x, y
		}
	}
	if bx+by <= 0 {
		panic("textdiff: no forward progress to split at")
	}
	return aLo + bx, bLo + by
}
