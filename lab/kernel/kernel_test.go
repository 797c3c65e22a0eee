//go:build linux

package kernel

import (
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestAllIsCompleteAndUnique(t *testing.T) {
	all := All()
	if len(all) != 18 {
		t.Fatalf("All() has %d features, want 18: %v", len(all), all)
	}
	seen := map[Feature]bool{}
	for _, f := range all {
		if seen[f] {
			t.Errorf("feature %q twice in All()", f)
		}
		seen[f] = true
		s, ok := specs[f]
		if !ok || s.probe == nil {
			t.Errorf("feature %q has no probe", f)
		}
		if s.fix == "" {
			t.Errorf("feature %q has no fix text", f)
		}
	}
	if len(specs) != len(all) {
		t.Errorf("%d probes but %d features in All()", len(specs), len(all))
	}
	for _, f := range []Feature{IPVS, Ipvlan, VLAN, Dummy, ActVlan} {
		if !strings.Contains(specs[f].fix, "make vmtest") {
			t.Errorf("fix for %s does not point at the qemu guest: %q", f, specs[f].fix)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	b, err := json.Marshal(Check{Feature: IPVS, Detail: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"feature":"ipvs","ok":false,"detail":"x"}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}

func TestUnknownFeature(t *testing.T) {
	cs := Probe("no-such-feature")
	if len(cs) != 1 || cs[0].OK || cs[0].Feature != "no-such-feature" || !strings.Contains(cs[0].Detail, "unknown feature") {
		t.Fatalf("Probe(unknown) = %+v", cs)
	}
}

func TestNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root")
	}
	for _, c := range Probe(NetNS, Veth) {
		if c.OK || !strings.Contains(c.Fix, "root") {
			t.Errorf("as non-root: %+v, want a failure that says to run as root", c)
		}
	}
}

// linkNames lists the links of the current thread's network namespace.
func linkNames(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	sort.Strings(names)
	return names
}

func TestProbeAll(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: probing creates devices in a scratch network namespace")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	linksBefore := linkNames(t)

	start := time.Now()
	cs := Probe() // all
	took := time.Since(start)
	t.Logf("Probe() took %v", took)
	for _, c := range cs {
		t.Logf("%-15s ok=%-5v %s%s", c.Feature, c.OK, c.Detail, map[bool]string{true: "", false: "\n\t\tfix: " + c.Fix}[c.OK])
	}

	if got := len(cs); got != len(All()) {
		t.Fatalf("Probe() returned %d checks, want %d", got, len(All()))
	}
	for i, f := range All() {
		c := cs[i]
		if c.Feature != f {
			t.Errorf("check %d is %q, want %q (order of All())", i, c.Feature, f)
		}
		if c.Detail == "" {
			t.Errorf("%s: empty detail", f)
		}
		if !c.OK && c.Fix == "" {
			t.Errorf("%s: failed without a fix", f)
		}
		if c.OK && c.Fix != "" {
			t.Errorf("%s: ok but has a fix", f)
		}
	}
	// what every machine this project runs on has (docs/testing.md, "In the qemu guest")
	ok := map[Feature]bool{}
	for _, c := range cs {
		ok[c.Feature] = c.OK
	}
	for _, f := range []Feature{NetNS, Veth, Bridge, VXLAN, Macvlan, PolicyRouting, TEE} {
		if !ok[f] {
			t.Errorf("%s is missing; every supported kernel has it", f)
		}
	}
	if os.Getenv("NETLAB_IN_GUEST") == "1" { // the Debian kernel in scripts/vmtest has everything
		for _, c := range cs {
			if !c.OK {
				t.Errorf("in the qemu guest %s must be available: %s", c.Feature, c.Detail)
			}
		}
	}
	// natively it takes ~50 ms; in the TCG guest every exec and module load is slow
	if limit := 5 * time.Second; took > limit && os.Getenv("NETLAB_IN_GUEST") != "1" {
		t.Errorf("Probe() took %v; it must stay under %v", took, limit)
	}

	// the probe never touched this (the root) namespace
	after, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if !before.Equal(after) {
		t.Errorf("the calling thread changed network namespace")
	}
	if linksAfter := linkNames(t); !slices.Equal(linksBefore, linksAfter) {
		t.Errorf("links changed in the calling namespace: before %v, after %v", linksBefore, linksAfter)
	}
}

func TestMissingIsTheFailedSubset(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	fs := []Feature{Veth, IPVS, Dummy, Veth} // duplicate on purpose
	probed := Probe(fs...)
	if len(probed) != 3 {
		t.Fatalf("Probe(%v) = %d checks, want 3 (duplicates dropped)", fs, len(probed))
	}
	var want []Feature
	for _, c := range probed {
		if !c.OK {
			want = append(want, c.Feature)
		}
	}
	var got []Feature
	for _, c := range Missing(fs...) {
		if c.OK {
			t.Errorf("Missing returned an OK check: %+v", c)
		}
		got = append(got, c.Feature)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
}

func TestProbeConcurrent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	done := make(chan []Check)
	for range 4 {
		go func() { done <- Probe(Veth, Bridge, Iptables) }()
	}
	for range 4 {
		for _, c := range <-done {
			if !c.OK {
				t.Errorf("concurrent probe: %+v", c)
			}
		}
	}
}
