// Package state records what a lab created, in /run/netlab/<lab>/, before it
// is created, so that `down` can remove everything by name after a crash, a
// kill -9 in the middle of `up`, or a dead daemon.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/netlab/netlab/lab/topology"
)

// Dir is the root of all labs' state; a variable so tests can move it.
var Dir = "/run/netlab"

// Lab phases.
const (
	PhaseCreating = "creating"
	PhaseReady    = "ready"
	PhaseFailed   = "failed"
)

// State is one lab's record.
type State struct {
	Lab string `json:"lab"`
	// Scenario is the scenario's name; Source where it came from (a path, or
	// "builtin:<name>"); Topology the YAML text itself, so that status,
	// probe and test work even if the file has changed or gone.
	Scenario string `json:"scenario"`
	Source   string `json:"source"`
	Topology string `json:"topology"`
	// KubeProxy is the --kube-proxy override the lab was brought up with.
	KubeProxy string `json:"kubeProxy,omitempty"`
	// Namespaces are every netns the lab may have created, written before
	// the first one is made.
	Namespaces []string  `json:"namespaces"`
	Phase      string    `json:"phase"`
	Created    time.Time `json:"created"`
	Daemon     *Process  `json:"daemon,omitempty"`
}

// Process identifies a process safely: the PID plus its start time in clock
// ticks since boot (field 22 of /proc/PID/stat), so a recycled PID is never
// mistaken for ours.
type Process struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// LabDir is a lab's state directory. Callers pass a name that CheckName
// accepted: every exported function here that takes a lab name checks it,
// so no name can reach outside Dir ("", ".", "..", "a/b").
func LabDir(lab string) string { return filepath.Join(Dir, lab) }

func file(lab string) string { return filepath.Join(LabDir(lab), "state.json") }

// markerName is the first file Create makes in a lab's directory. Remove
// and List only treat a directory that has it as a lab: a directory someone
// else put under Dir is never deleted.
const markerName = ".netlab-lab"

// ownFiles are every file netlab writes in a lab's directory; Remove deletes
// these and then the directory, which fails if anything else is in it.
var ownFiles = append([]string{"state.json", "state.json.tmp", "daemon.pid", "daemon.log", markerName}, planFiles()...)

// ErrNotFound is returned by Load for a lab with no state.
var ErrNotFound = errors.New("no such lab")

// CheckName rejects a lab name that is not a DNS label of at most
// topology.MaxNameLen characters, the rule for every name in a scenario.
// Lab names become directory and namespace names, so this is what keeps
// "", ".", ".." and "../x" from reaching the file system.
func CheckName(lab string) error {
	if err := topology.ValidName(lab); err != nil {
		return fmt.Errorf("lab name %w (fix: use a name like my-lab)", err)
	}
	return nil
}

// Create makes the lab's directory; it fails if the lab already exists.
func Create(s *State) error {
	if err := CheckName(s.Lab); err != nil {
		return err
	}
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(LabDir(s.Lab), 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return AlreadyExists(s.Lab)
		}
		return err
	}
	if err := os.WriteFile(filepath.Join(LabDir(s.Lab), markerName), []byte("made by netlab up\n"), 0o644); err != nil {
		return err
	}
	return Save(s)
}

// AlreadyExists is the error for a lab name that is taken.
func AlreadyExists(lab string) error {
	return fmt.Errorf("lab %q already exists (netlab status %s; netlab down %s)", lab, lab, lab)
}

// IsLab reports whether Dir/lab is a lab directory netlab made.
func IsLab(lab string) bool {
	if CheckName(lab) != nil {
		return false
	}
	_, err := os.Lstat(filepath.Join(LabDir(lab), markerName))
	return err == nil
}

// Save writes the state atomically.
func Save(s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := file(s.Lab) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file(s.Lab))
}

// Load reads a lab's state.
func Load(lab string) (*State, error) {
	if err := CheckName(lab); err != nil {
		return nil, err
	}
	if _, err := os.Stat(LabDir(lab)); err == nil && !IsLab(lab) {
		return nil, fmt.Errorf("%s was not made by netlab (no %s in it): not touching it", LabDir(lab), markerName)
	}
	data, err := os.ReadFile(file(lab))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab %q: %w", lab, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("lab %q: %w: %s: %v (fix: netlab down --force %s)", lab, ErrCorrupt, file(lab), err, lab)
	}
	if s.Lab != lab {
		return nil, fmt.Errorf("lab %q: %w: %s records lab %q (fix: netlab down --force %s)", lab, ErrCorrupt, file(lab), s.Lab, lab)
	}
	return &s, nil
}

// ErrCorrupt is returned by Load for a state file that cannot be read
// (truncated, edited by hand); down --force recovers from it.
var ErrCorrupt = errors.New("corrupt state")

// Remove deletes the lab's state directory: the files netlab wrote there,
// then the directory itself. A directory without netlab's marker is left
// alone, and so is anything netlab did not write (the final rmdir then
// fails and says so). A lab with no directory is not an error.
func Remove(lab string) error {
	if err := CheckName(lab); err != nil {
		return err
	}
	dir := LabDir(lab)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if !IsLab(lab) {
		return fmt.Errorf("%s was not made by netlab (no %s in it): not removing it", dir, markerName)
	}
	for _, f := range ownFiles {
		if f == markerName {
			continue // last: until the directory is gone, it stays a lab
		}
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 1 {
		var names []string
		for _, e := range ents {
			if e.Name() != markerName {
				names = append(names, e.Name())
			}
		}
		return fmt.Errorf("%s holds files netlab did not write (%s): remove them by hand", dir, strings.Join(names, ", "))
	}
	if err := os.Remove(filepath.Join(dir, markerName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Remove(dir)
}

// List returns the names of all labs with a state directory.
func List() ([]string, error) {
	ents, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && IsLab(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// DaemonPIDFile is where the daemon records itself as soon as it starts, in
// case `up` dies before it can write the PID into the state.
func DaemonPIDFile(lab string) string { return filepath.Join(LabDir(lab), "daemon.pid") }

// DaemonLog is the daemon's output.
func DaemonLog(lab string) string { return filepath.Join(LabDir(lab), "daemon.log") }

// Self describes the calling process.
func Self() (*Process, error) { return Describe(os.Getpid()) }

// Describe reads a process's start time.
func Describe(pid int) (*Process, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return nil, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(f[19], 10, 64) // field 22 overall
	if err != nil {
		return nil, err
	}
	return &Process{PID: pid, StartTime: st}, nil
}

// Alive reports whether p is still the same running process (not a zombie,
// not a recycled PID).
func (p *Process) Alive() bool {
	if p == nil || p.PID <= 0 {
		return false
	}
	cur, err := Describe(p.PID)
	if err != nil || cur.StartTime != p.StartTime {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] != 'Z'
}

// WriteProcess records a process in a file (the daemon's own PID file).
func WriteProcess(path string, p *Process) error {
	data, _ := json.Marshal(p)
	return os.WriteFile(path, data, 0o644)
}

// ReadProcess reads a process record written by WriteProcess.
func ReadProcess(path string) (*Process, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
