package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/netlab/netlab/lab/plan"
)

// A lab's applied plan is stored in its directory when up records the lab,
// so that every later command observes what was applied instead of
// compiling the scenario again (for another kernel, or after netlab
// changed). It is split by who reads what, one file per part, because
// decoding JSON costs about as much as compiling, and a probe must not
// decode megabytes of rules it does not look at. BenchmarkStoredPlan, on
// 2 cores (time to read the wiring plus the part, and its size):
//
//	                         compile   wiring          +network        +rules           whole
//	1 node, 5,000 Services   94 ms     0.1 ms  1.6 KB  0.2 ms  4.0 KB  78 ms  5.1 MB   76 ms  5.1 MB
//	100 nodes x 10 pods      23 ms     8 ms    295 KB  71 ms   2.7 MB  12 ms  424 KB   77 ms  2.9 MB
//
// A probe and a trace read only the wiring (planFile: namespaces, owners,
// links, and which namespaces have rules or IPVS); graph adds the network
// part, the lab daemon the proxies; nothing that observes reads the rules.
const planFile = "plan.json"

// PlanPart is one part of a stored plan beyond its wiring.
type PlanPart string

// The parts, each its own file (partFile).
const (
	// PartNetwork: sysctls, addresses, routes, policy rules, neighbours
	// and FDB entries.
	PartNetwork PlanPart = "network"
	// PartRules: iptables and nftables rulesets, nfacct counters, ipsets
	// and IPVS virtual servers.
	PartRules PlanPart = "rules"
	// PartProxies: kube-proxy userspace proxy sockets.
	PartProxies PlanPart = "proxies"
)

// PlanParts are all the parts.
var PlanParts = []PlanPart{PartNetwork, PartRules, PartProxies}

func partFile(pt PlanPart) string { return "plan-" + string(pt) + ".json" }

// planFiles are the stored plan's files and their temporary names.
func planFiles() []string {
	var out []string
	for _, f := range append([]string{planFile}, partFiles()...) {
		out = append(out, f, f+".tmp")
	}
	return out
}

func partFiles() []string {
	var out []string
	for _, pt := range PlanParts {
		out = append(out, partFile(pt))
	}
	return out
}

// move copies a part's fields of a namespace. Every field of
// plan.Namespace is in the wiring or in exactly one part
// (TestPlanRoundTripEveryField).
func (pt PlanPart) move(dst, src *plan.Namespace) {
	switch pt {
	case PartNetwork:
		dst.Sysctls, dst.Addrs, dst.Routes, dst.Rules, dst.Neighs, dst.FDB, dst.TC = src.Sysctls, src.Addrs, src.Routes, src.Rules, src.Neighs, src.FDB, src.TC
	case PartRules:
		dst.IPTables, dst.NFTables, dst.NFAcct, dst.IPSets, dst.IPVS = src.IPTables, src.NFTables, src.NFAcct, src.IPSets, src.IPVS
	case PartProxies:
		dst.UserspaceProxies = src.UserspaceProxies
	}
}

// ErrNoPlan is returned for a lab whose directory has no stored plan: one
// brought up by a netlab from before plans were stored.
var ErrNoPlan = errors.New("no stored plan")

// SavePlan stores the plan applied to a lab, every part, the wiring last:
// a lab with a wiring file has all of its plan.
func SavePlan(lab string, p *plan.Plan) error {
	if err := CheckName(lab); err != nil {
		return err
	}
	for _, pt := range PlanParts {
		part := &plan.Plan{Lab: p.Lab}
		for _, ns := range p.Namespaces {
			x := &plan.Namespace{Name: ns.Name}
			pt.move(x, ns)
			if !reflect.DeepEqual(*x, plan.Namespace{Name: ns.Name}) {
				part.Namespaces = append(part.Namespaces, x)
			}
		}
		if err := writeAtomic(filepath.Join(LabDir(lab), partFile(pt)), part); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(LabDir(lab), planFile), p.Wiring())
}

// LoadWiring reads the wiring of a lab's stored plan.
func LoadWiring(lab string) (*plan.Wiring, error) {
	if err := CheckName(lab); err != nil {
		return nil, err
	}
	var w plan.Wiring
	if err := readPlanFile(lab, planFile, &w); err != nil {
		return nil, err
	}
	if w.Lab != lab {
		return nil, fmt.Errorf("lab %q: %w: %s is lab %q's plan (fix: netlab down %s, then netlab up again)", lab, ErrCorrupt, filepath.Join(LabDir(lab), planFile), w.Lab, lab)
	}
	return &w, nil
}

// LoadPlan reads a lab's stored plan: the wiring and the parts named.
func LoadPlan(lab string, parts ...PlanPart) (*plan.Plan, error) {
	w, err := LoadWiring(lab)
	if err != nil {
		return nil, err
	}
	p := w.Plan()
	for _, pt := range parts {
		var part plan.Plan
		if err := readPlanFile(lab, partFile(pt), &part); err != nil {
			return nil, err
		}
		for _, x := range part.Namespaces {
			ns := p.Namespace(x.Name)
			if ns == nil {
				return nil, fmt.Errorf("lab %q: %w: %s has namespace %s, which its wiring lacks (fix: netlab down %s, then netlab up again)", lab, ErrCorrupt, partFile(pt), x.Name, lab)
			}
			pt.move(ns, x)
		}
	}
	return p, nil
}

func readPlanFile(lab, name string, v any) error {
	path := filepath.Join(LabDir(lab), name)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && name == planFile:
		return fmt.Errorf("lab %q: %w (%s): it was brought up by an older netlab, which did not record the plan it applied (fix: netlab down %s, then netlab up again)", lab, ErrNoPlan, path, lab)
	case err != nil:
		return fmt.Errorf("lab %q: %w: %v (fix: netlab down %s, then netlab up again)", lab, ErrCorrupt, err, lab)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("lab %q: %w: %s: %v (fix: netlab down %s, then netlab up again)", lab, ErrCorrupt, path, err, lab)
	}
	return nil
}

// writeAtomic writes v as JSON to path through a temporary file.
func writeAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
