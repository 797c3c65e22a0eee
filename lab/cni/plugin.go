// Package cni compiles a CNI mode into plan fragments: the node-side devices,
// the pod side as the plugin's delegate would build it, routes, neighbours,
// FDB entries and the plugin's own iptables rules. Each plugin is one file
// that registers a Plugin; nothing outside it names the plugin or its
// backends.
package cni

import (
	"fmt"

	"github.com/netlab/netlab/internal/registry"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// Plugin is the contract of one CNI plugin.
type Plugin struct {
	Name string
	// Backends the plugin supports (flannel's vxlan, host-gw, ...); the
	// first is the default.
	Backends []string
	// Default marks the plugin a scenario without a cni gets.
	Default bool
	// Validate checks the plugin's own fields of the scenario's cni, with
	// the backend already defaulted; nil when it has none.
	Validate func(r topology.Reporter, c *topology.CNI)
	// Needs are the kernel features the plugin's datapath needs for a
	// scenario's cni (beyond netns, veth and iptables, which every lab needs).
	Needs func(c topology.CNI) []kernel.Feature
	// Build wires every node and pod of the topology into the plan.
	Build func(p *plan.Plan, t *topology.Topology) error
	// SecurityGroups: Build gives nodes ENIs and applies the nodes'
	// security groups to them in the VPC (cloud.SecurityGroupRules).
	SecurityGroups bool
	// PodENIBackends are the backends whose pods have ENIs of their own;
	// a pod's securityGroups are those ENIs' groups.
	PodENIBackends []string
	// VLANBackends are the pod ENI backends whose pod ENIs are member ENIs
	// on a VLAN of the node's trunk ENI (a pod's vlan means something).
	VLANBackends []string
	// RefusedBackends are backends the real plugin has that are not
	// built, and why (Terway's eBPF datapaths need Cilium).
	RefusedBackends map[string]string
}

var plugins registry.Of[Plugin]

// Register makes a plugin known to the compile step and to scenarios.
func Register(p Plugin) {
	plugins.Put(p.Name, p)
	topology.RegisterCNIPlugin(topology.CNIPluginInfo{Name: p.Name, Backends: p.Backends, Validate: p.Validate, Default: p.Default,
		SecurityGroups: p.SecurityGroups, PodENIBackends: p.PodENIBackends, VLANBackends: p.VLANBackends, RefusedBackends: p.RefusedBackends})
}

// Lookup returns a registered plugin.
func Lookup(name string) (Plugin, bool) { return plugins.Get(name) }

// Build wires every node and pod for the topology's CNI plugin.
func Build(p *plan.Plan, t *topology.Topology) error {
	pl, ok := Lookup(t.CNI.Plugin)
	if !ok {
		return fmt.Errorf("cni: plugin %q is not registered", t.CNI.Plugin)
	}
	return pl.Build(p, t)
}

// Needs lists what the topology's plugin needs of the kernel.
func Needs(c topology.CNI) []kernel.Feature {
	if pl, ok := Lookup(c.Plugin); ok && pl.Needs != nil {
		return pl.Needs(c)
	}
	return nil
}
