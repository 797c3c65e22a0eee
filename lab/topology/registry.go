package topology

import (
	"fmt"
	"strings"

	"github.com/netlab/netlab/internal/registry"
)

// The scenario layer knows kube-proxy modes and CNI plugins only through
// these registries. Each mode (lab/kubeproxy) and each plugin (lab/cni)
// registers itself from its own file, with the facts validation needs:
// its name, the versions it exists in (and the change that added or
// removed it), its backends and its own field checks. So every PR number
// and default lives once, beside the code it describes, and a new mode or
// plugin is a new file: nothing here names one.
//
// A program that loads scenarios must link the implementations (lab/compile
// does); a scenario naming a mode or plugin that is not registered gets the
// list of those that are.

// KubeProxyModeInfo is what validation knows of a kube-proxy mode.
type KubeProxyModeInfo struct {
	Name string
	// DefaultVersion is the minor a scenario gets when it names none.
	DefaultVersion string
	// Exists says whether the mode exists at a minor version (1.minor),
	// and if not, why: "kube-proxy 1.26 has no userspace mode: it was
	// removed in 1.26 (#112133); use 1.25 or older".
	Exists func(minor int) error
	// Gates checks feature gate overrides at a minor version: unknown,
	// absent or locked gates, and a gate the mode itself needs that is off
	// (nil: the mode takes none).
	Gates func(minor int, gates map[string]bool) error
	// Default marks the mode a scenario with Services but no kubeProxy gets.
	Default bool
}

// CNIPluginInfo is what validation knows of a CNI plugin.
type CNIPluginInfo struct {
	Name string
	// Backends the plugin supports; the first is the default.
	Backends []string
	// Validate checks the plugin's own fields of cni (after the backend has
	// been defaulted); nil when it has none.
	Validate func(r Reporter, cni *CNI)
	// Default marks the plugin a scenario without a cni gets.
	Default bool
	// SecurityGroups: the plugin gives nodes ENIs that the VPC's security
	// groups apply to (a node's securityGroups mean something).
	SecurityGroups bool
	// PodENIBackends are the backends that give a pod an ENI of its own,
	// whose groups a pod's securityGroups set.
	PodENIBackends []string
	// VLANBackends are the backends whose pod ENIs are member ENIs on a
	// VLAN of the node's trunk ENI, which a pod's vlan sets.
	VLANBackends []string
	// RefusedBackends are backends the plugin has that netlab does not
	// build, with the reason.
	RefusedBackends map[string]string
}

// Reporter records one problem of a scenario at a line, as every check does:
// the field, the fix, and the message.
type Reporter func(line int, field, fix, format string, args ...any)

var (
	modes   registry.Of[KubeProxyModeInfo]
	plugins registry.Of[CNIPluginInfo]
)

// RegisterKubeProxyMode makes a kube-proxy mode known to scenarios. A name
// registered twice replaces the first (tests register fakes).
func RegisterKubeProxyMode(m KubeProxyModeInfo) { modes.Put(m.Name, m) }

// RegisterCNIPlugin makes a CNI plugin known to scenarios.
func RegisterCNIPlugin(p CNIPluginInfo) { plugins.Put(p.Name, p) }

// KubeProxyMode returns a registered mode.
func KubeProxyMode(name string) (KubeProxyModeInfo, bool) { return modes.Get(name) }

// CNIPlugin returns a registered plugin.
func CNIPlugin(name string) (CNIPluginInfo, bool) { return plugins.Get(name) }

// KubeProxyModeNames lists the registered modes, sorted.
func KubeProxyModeNames() []string { return modes.Names() }

// CNIPluginNames lists the registered plugins, sorted.
func CNIPluginNames() []string { return plugins.Names() }

// DefaultKubeProxyMode is the name of the registered default mode ("" if none).
func DefaultKubeProxyMode() string {
	m, _ := defaultKubeProxyMode()
	return m.Name
}

// defaultKubeProxyMode and defaultCNIPlugin are the registered defaults.
func defaultKubeProxyMode() (KubeProxyModeInfo, bool) {
	for _, m := range modes.All() {
		if m.Default {
			return m, true
		}
	}
	return KubeProxyModeInfo{}, false
}

func defaultCNIPlugin() (CNIPluginInfo, bool) {
	for _, p := range plugins.All() {
		if p.Default {
			return p, true
		}
	}
	return CNIPluginInfo{}, false
}

// orList words a list for a fix: "iptables, ipvs or userspace".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "none is registered"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// unknownMode is the message for a mode nobody registered.
func unknownMode(name string) string {
	return fmt.Sprintf("unknown kube-proxy mode %q", name)
}
