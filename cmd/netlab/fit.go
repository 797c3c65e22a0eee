package main

import (
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// defaultWidth is the width tables are fitted to when stdout is not a
// terminal and $COLUMNS is unset (a pipe into less or grep): wide enough
// for most rows, and -o wide has the rest.
const defaultWidth = 120

// termWidth is the width tables are fitted to: $COLUMNS when it is set (as
// GNU ls does, so a script or test can ask for a width), else the width of
// the terminal on stdout, else defaultWidth.
func termWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if ws, err := unix.IoctlGetWinsize(int(os.Stdout.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col)
	}
	return defaultWidth
}

// ellipsis marks text cut to fit.
const ellipsis = "…"

// truncate cuts s to at most n columns, ending it with "…" when cut; at
// a space when that loses at most a quarter of the room, so that words
// stay whole.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	kept := string(r[:n-1])
	if r[n-1] != ' ' {
		if i := strings.LastIndexByte(kept, ' '); i >= 0 && utf8.RuneCountInString(kept[:i]) >= (n-1)*3/4 {
			kept = kept[:i]
		}
	}
	return strings.TrimRight(kept, " ,;:") + ellipsis
}

// wrap breaks text at spaces into lines of at most width columns (a word
// longer than that gets a line of its own).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}

// column is one column of a table. A flex column gives up width (its cells
// truncated with "…") when the table is wider than the terminal; Min is
// the narrowest it gets.
type column struct {
	Header string
	Flex   bool
	Min    int
}

// table prints aligned columns two spaces apart, like tabwriter, and
// fits them to a width by truncating the flex columns. A row may carry
// note lines, printed under it as they are.
type table struct {
	cols []column
	rows []tableRow
}

type tableRow struct {
	cells []string
	notes []string
}

func newTable(cols ...column) *table { return &table{cols: cols} }

// add appends a row; missing cells are empty.
func (t *table) add(cells ...string) {
	t.rows = append(t.rows, tableRow{cells: cells})
}

// note adds lines under the last row.
func (t *table) note(lines ...string) {
	r := &t.rows[len(t.rows)-1]
	r.notes = append(r.notes, lines...)
}

const gap = 2

// widths is each column's natural width (its widest cell or header).
func (t *table) widths() []int {
	w := make([]int, len(t.cols))
	for i, c := range t.cols {
		w[i] = utf8.RuneCountInString(c.Header)
	}
	for _, r := range t.rows {
		for i, c := range r.cells {
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	return w
}

// naturalWidth is how wide the table is unfitted.
func (t *table) naturalWidth() int { return total(t.widths()) }

func total(w []int) int {
	n := gap * max(len(w)-1, 0)
	for _, x := range w {
		n += x
	}
	return n
}

// fit shrinks the flex columns, the last first, until the table is at
// most width columns wide: to their Min, and if that is not enough to
// their header's width. Only the fixed columns can make it wider.
func (t *table) fit(w []int, width int) {
	over := total(w) - width
	for pass := 0; pass < 2 && over > 0; pass++ {
		for i := len(t.cols) - 1; i >= 0 && over > 0; i-- {
			c := t.cols[i]
			if !c.Flex {
				continue
			}
			floor := utf8.RuneCountInString(c.Header)
			if pass == 0 {
				floor = max(c.Min, floor)
			}
			shrink := min(over, max(w[i]-floor, 0))
			w[i] -= shrink
			over -= shrink
		}
	}
}

// write prints the table fitted to width; width <= 0 prints every cell
// whole (-o wide).
func (t *table) write(out io.Writer, width int) error {
	w := t.widths()
	if width > 0 {
		t.fit(w, width)
	}
	var b strings.Builder
	line := func(cells []string) {
		var l strings.Builder
		for i := range t.cols {
			c := ""
			if i < len(cells) {
				c = truncate(cells[i], w[i])
			}
			l.WriteString(c)
			if i < len(t.cols)-1 {
				l.WriteString(strings.Repeat(" ", w[i]-utf8.RuneCountInString(c)+gap))
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	headers := make([]string, len(t.cols))
	for i, c := range t.cols {
		headers[i] = c.Header
	}
	line(headers)
	for _, r := range t.rows {
		line(r.cells)
		for _, n := range r.notes {
			b.WriteString(n)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// fitWidth is the width to fit a table to for an -o value: none for wide.
func fitWidth(out string) int {
	if out == outputWide {
		return 0
	}
	return termWidth()
}
