package kubeproxy

import (
	"fmt"

	"github.com/netlab/netlab/internal/registry"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// Mode is the contract of one kube-proxy mode (--proxy-mode): what it is
// called, the versions it exists in, what the kernel must have, and what it
// installs on a node. Each mode registers itself (Register) from its own
// file; the compile step, the scenario checks and the doctor ask the
// registry, so adding a mode touches nothing else.
type Mode struct {
	// Name is the --proxy-mode value; Label the name in prose ("IPVS"),
	// Name when empty.
	Name, Label string
	// Since is the first minor (1.Since) that has the mode, SincePR the
	// change that added it and SinceStage its maturity then ("alpha");
	// Until is the first minor that no longer has it (0: every minor
	// since), UntilPR the change that removed it.
	Since      int
	SincePR    string
	SinceStage string
	Until      int
	UntilPR    string
	// Needs are the kernel features and tools a node running the mode
	// needs, beyond what every lab with Services needs.
	Needs []kernel.Feature
	// Proxies: the mode proxies connections in user space, on sockets the
	// lab daemon opens for it (NodeState.Proxies).
	Proxies bool
	// Default marks the mode a scenario with Services gets when it names
	// none (iptables, kube-proxy's own default on Linux).
	Default bool
	// Views are the commands that show a node's state in this mode beyond
	// iptables-save (netlab rules prints them first).
	Views []View
	// Gate is the feature gate the mode runs behind in the versions that
	// have it (NFTablesProxyMode while nftables was alpha, KubeProxyIPVS
	// from 1.37): kube-proxy refuses the mode while it is off, and so does
	// a scenario's validation.
	Gate string
	// Render is the node's state after kube-proxy's first full sync at
	// version v.
	Render func(v Version, n Node, o Options) (*NodeState, error)
	// Warning is what kube-proxy logs when it starts in this mode at
	// version v, such as a deprecation notice, verbatim; "" for nothing
	// (nil: never anything). gates are the node's feature-gate overrides
	// as in Node.FeatureGates (nil: the version's defaults). It is not
	// an error: the node renders as usual; when the gates make the mode
	// refuse to start, Render says so and Warning is "". netlab up and
	// test print it, and status/up -o json carry it (StartWarning).
	Warning func(v Version, gates map[string]bool) string
}

// StartWarning is the Warning of a registered mode at a version written
// as in a scenario ("1.35", "v1.35.4"); "" when the mode is unknown or has
// no Warning, or the version does not parse or lacks the mode.
func StartWarning(mode, version string, gates map[string]bool) string {
	m, ok := Lookup(mode)
	if !ok || m.Warning == nil {
		return ""
	}
	v, err := ParseVersion(version)
	if err != nil || m.exists(v.Minor) != nil {
		return ""
	}
	return m.Warning(v, gates)
}

// View is one command that shows part of a mode's state on a node.
type View struct {
	Name    string   // "ipvs"
	Command []string // ipvsadm -Ln
}

// Options are the facts of the node that are not in kube-proxy's view of
// the cluster.
type Options struct {
	// KernelVersion of the node ("6.1", "5.4.0-150-generic"; "" = 6.1):
	// the IPVS mode writes conn_reuse_mode only on some kernels.
	KernelVersion string
	// StrictARP is the IPVS mode's --ipvs-strict-arp (1.14+): arp_ignore=1,
	// arp_announce=2.
	StrictARP bool
}

// NodeState is what a kube-proxy mode installs on one node, in the plan's
// terms: one shape for every mode, so the compile step merges it into the
// node's namespace without knowing which mode made it.
type NodeState struct {
	// Rules are kube-proxy's iptables rules (prepended to the CNI's).
	Rules *plan.Ruleset
	// NFTables is the nftables mode's table as nft -f input ("add ..."
	// commands, knftables' Dump form, in the oracle's canonical order);
	// "" in the other modes.
	NFTables string
	// Sysctls the proxier sets when it starts.
	Sysctls []plan.Sysctl
	// NFAcct counters kube-proxy creates (nfacct objects).
	NFAcct []string
	// Links and Addrs the mode creates, such as IPVS's kube-ipvs0.
	Links []plan.Link
	Addrs []plan.Addr
	// IPSets and IPVS virtual servers (IPVS mode).
	IPSets []plan.IPSet
	IPVS   []plan.IPVSService
	// Proxies are the proxy sockets of the userspace mode, which the lab
	// daemon opens on the node.
	Proxies []plan.Proxy
}

var modes registry.Of[Mode]

// Register makes a mode known to the compile step and to scenarios
// (topology validation: its name, default version and version window). A
// name registered again replaces the first.
func Register(m Mode) {
	modes.Put(m.Name, m)
	topology.RegisterKubeProxyMode(topology.KubeProxyModeInfo{
		Name: m.Name, DefaultVersion: DefaultVersion, Default: m.Default, Exists: m.exists,
		Gates: m.checkGates,
	})
}

// Lookup returns a registered mode.
func Lookup(name string) (Mode, bool) { return modes.Get(name) }

// DefaultVersion is the kube-proxy minor a scenario gets when it names none.
const DefaultVersion = "1.28"

// exists says whether the mode exists at 1.minor, naming the change that
// added or removed it when not.
func (m Mode) exists(minor int) error {
	switch {
	case minor < MinVersion.Minor || minor > MaxVersion.Minor:
		return fmt.Errorf("kube-proxy 1.%d is outside what netlab models, %s to %s", minor, MinVersion, MaxVersion)
	case minor < m.Since:
		stage := ""
		if m.SinceStage != "" {
			stage = " as " + m.SinceStage
		}
		return fmt.Errorf("kube-proxy 1.%d has no %s mode: it arrived%s in 1.%d (%s)", minor, m.label(), stage, m.Since, m.SincePR)
	case m.Until != 0 && minor >= m.Until:
		return fmt.Errorf("kube-proxy 1.%d has no %s mode: it was removed in 1.%d (%s); use 1.%d or older", minor, m.label(), m.Until, m.UntilPR, m.Until-1)
	}
	return nil
}

// checkGates resolves feature gate overrides at 1.minor and says when the
// mode's own gate is off there.
func (m Mode) checkGates(minor int, overrides map[string]bool) error {
	v := Version{1, minor}
	gates, err := v.featureGates(overrides)
	if err != nil {
		return err
	}
	if on, ok := gates[m.Gate]; ok && m.Gate != "" && !on {
		return fmt.Errorf("kube-proxy %s runs the %s mode only with feature gate %s on (fix: featureGates: {%s: true})", v, m.label(), m.Gate, m.Gate)
	}
	return nil
}

func (m Mode) label() string {
	if m.Label != "" {
		return m.Label
	}
	return m.Name
}

// Render renders a node in a registered mode at version v.
func Render(mode string, v Version, n Node, o Options) (*NodeState, error) {
	m, ok := Lookup(mode)
	if !ok {
		return nil, fmt.Errorf("kube-proxy mode %q is not registered", mode)
	}
	if err := m.exists(v.Minor); err != nil {
		return nil, err
	}
	if err := m.checkGates(v.Minor, n.FeatureGates); err != nil {
		return nil, err
	}
	return m.Render(v, n, o)
}
