package e2e

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/probes"
)

// TestConntrackListFilterFlush: two probes from a pod to a ClusterIP leave
// two entries on the client's node; the listing shows each as conntrack -L
// does (ASSURED, a timeout, the DNAT), the filters select exactly one, a
// flush with that filter deletes only it, and a flush of a whole table
// leaves nothing that was there before.
func TestConntrackListFilterFlush(t *testing.T) {
	l := upWith(t, "flannel-services", "", "ctl")
	first, second := probe(t, l, "client", "svc/web"), probe(t, l, "client", "svc/web")
	for _, r := range []*probes.Result{first, second} {
		if r.Result != "connected" {
			t.Fatalf("probe: %s %s", r.Result, r.Error)
		}
	}
	node1 := []string{"node-1"}

	all := conntrack(t, l, node1, probes.ConntrackFilter{})["node-1"]
	mine := probeFilter(t, first)
	got := conntrack(t, l, node1, mine)["node-1"]
	if len(got) != 1 {
		t.Fatalf("filter %+v selects %d entries, want the probe's one:\n%v\nof all:\n%v", mine, len(got), got, all)
	}
	f := got[0]
	if f.Proto != "tcp" || f.ProtoNum != 6 || f.Orig.Src != first.ClientAddr || f.Orig.Dst != "10.96.0.10:80" || f.NAT != "dnat" ||
		!slices.Contains(f.Flags, "ASSURED") || slices.Contains(f.Flags, "UNREPLIED") || f.TimeoutSeconds == 0 || f.State == "" || f.Use == 0 {
		t.Errorf("the probe's entry: %+v", f)
	}
	// The probe's own capture (a GET by tuple) found the same entry.
	if c := first.Conntrack["node-1"]; len(c) != 1 || c[0].ID != f.ID {
		t.Errorf("probe capture %+v, listing %+v", c, f)
	}
	if !containsID(all, f.ID) {
		t.Errorf("the unfiltered listing lacks entry %d: %v", f.ID, all)
	}
	compareWithConntrackTool(t, l, f, first)
	igmp := 0
	for _, g := range all {
		if g.Proto != "igmp" {
			continue
		}
		igmp++
		if g.ProtoNum != 2 || strings.Contains(g.Orig.Src, ":") || strings.Contains(g.Orig.Dst, ":") || strings.Contains(g.String(), "sport=") {
			t.Errorf("an IGMP entry with ports: %v", g)
		}
	}
	t.Logf("%d IGMP entries on node-1 (the bridge's reports; there may be none yet)", igmp)

	// --dst and --port of the Service select both probes' entries and
	// nothing else; the first probe's source port only its own.
	svc := mustFilter(t, "", "10.96.0.10", "", "80")
	if both := conntrack(t, l, node1, svc)["node-1"]; len(both) != 2 {
		t.Errorf("--dst 10.96.0.10 --port 80: %v", both)
	}

	deleted, err := probes.FlushConntrack(l, node1, mine)
	if err != nil || deleted["node-1"] != 1 {
		t.Fatalf("flush %+v: %v deleted, %v", mine, deleted, err)
	}
	if left := conntrack(t, l, node1, mine)["node-1"]; len(left) != 0 {
		t.Errorf("after the flush the filter still finds %v", left)
	}
	left := conntrack(t, l, node1, svc)["node-1"]
	if len(left) != 1 || left[0].Orig.Src != second.ClientAddr {
		t.Errorf("the flush took more than its filter: the Service's entries now %v", left)
	}

	// No filter: the whole table of that node.
	before := conntrack(t, l, node1, probes.ConntrackFilter{})["node-1"]
	deleted, err = probes.FlushConntrack(l, node1, probes.ConntrackFilter{})
	if err != nil || deleted["node-1"] < len(before)-1 {
		t.Fatalf("flush of node-1 (%d entries): %v deleted, %v", len(before), deleted, err)
	}
	for _, g := range conntrack(t, l, node1, probes.ConntrackFilter{})["node-1"] {
		if containsID(before, g.ID) {
			t.Errorf("entry left after a full flush: %v", g)
		}
	}
}

// TestConntrackObjects: every node when none is named; a bad name is
// refused with the lab's nodes listed.
func TestConntrackObjects(t *testing.T) {
	l := upWith(t, "flannel-services", "", "cto")
	if objs, err := probes.ConntrackObjects(l, nil); err != nil || !slices.Equal(objs, []string{"node-1", "node-2", "node-3"}) {
		t.Errorf("default objects %v, %v", objs, err)
	}
	if objs, err := probes.ConntrackObjects(l, []string{"node-2", "slb", "client"}); err != nil || len(objs) != 3 {
		t.Errorf("node, slb and pod: %v, %v", objs, err)
	}
	_, err := probes.ConntrackObjects(l, []string{"node-1", "node-9"})
	want := "lab " + l.State.Lab + ` has no node named "node-9" (nodes: node-1, node-2, node-3; a pod, client, vpc or slb works too)`
	if err == nil || err.Error() != want {
		t.Errorf("unknown node: %v, want %s", err, want)
	}
}

func conntrack(t *testing.T, l *lab.Lab, objects []string, f probes.ConntrackFilter) map[string][]probes.Flow {
	t.Helper()
	out, err := probes.Conntrack(l, objects, f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustFilter(t *testing.T, src, dst, proto, port string) probes.ConntrackFilter {
	t.Helper()
	f, err := probes.ParseConntrackFilter(src, dst, proto, port)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// probeFilter selects a probe's entry on its node by everything the
// filters take: its source IP and port, the Service IP, tcp.
func probeFilter(t *testing.T, r *probes.Result) probes.ConntrackFilter {
	t.Helper()
	ip, port, _ := strings.Cut(r.ClientAddr, ":")
	return mustFilter(t, ip, "10.96.0.10", "tcp", port)
}

func containsID(fs []probes.Flow, id uint32) bool {
	return slices.ContainsFunc(fs, func(f probes.Flow) bool { return f.ID == id })
}

// compareWithConntrackTool checks the entry against conntrack -L, where
// conntrack-tools is installed: the same line but for the timeout (which
// may have ticked between the reads) and netlab's NAT reading.
func compareWithConntrackTool(t *testing.T, l *lab.Lab, f probes.Flow, r *probes.Result) {
	t.Helper()
	if _, err := exec.LookPath("conntrack"); err != nil {
		t.Log("conntrack-tools not installed: not compared with conntrack -L")
		return
	}
	ip, port, _ := strings.Cut(r.ClientAddr, ":")
	out := nsExec(t, l, "node-1", "conntrack", "-L", "-p", "tcp", "-s", ip, "-d", "10.96.0.10", "--sport", port)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("conntrack -L: %q", out)
	}
	theirs := strings.Fields(lines[0])
	ours := strings.Fields(f.String())
	ours = ours[:len(ours)-1] // "(dnat)"
	if len(theirs) < 3 || len(ours) < 3 {
		t.Fatalf("conntrack -L %q, ours %q", lines[0], f.String())
	}
	if _, err := strconv.Atoi(theirs[2]); err != nil {
		t.Fatalf("conntrack -L has no timeout where expected: %q", lines[0])
	}
	theirs, ours = slices.Delete(theirs, 2, 3), slices.Delete(ours, 2, 3)
	if !slices.Equal(theirs, ours) {
		t.Errorf("conntrack -L and netlab differ:\nconntrack: %s\nnetlab:    %s", strings.Join(theirs, " "), strings.Join(ours, " "))
	}
}
