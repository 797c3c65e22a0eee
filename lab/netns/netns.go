// Package netns is the toolbox for named network namespaces: where they
// are mounted, whether one exists, running a function or a command inside
// one, finding a lab's by their marker and deleting them.
//
// It exists so that the packages that only look at a lab (probes, the CLI's
// exec and rules, the lab daemon, the tests) can enter its namespaces without
// linking the code that configures the kernel (lab/apply), as
// containernetworking/plugins keeps its pkg/ns apart from the plugins.
// Creating namespaces is applying a plan and stays in lab/apply.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/plan"
)

// Dir is where named network namespaces are bind-mounted, as by
// `ip netns add`, so `ip netns exec` works on a lab from any shell.
const Dir = "/run/netns"

// Path is the bind mount of a named namespace.
func Path(name string) string { return filepath.Join(Dir, name) }

// Exists reports whether a named namespace is mounted.
func Exists(name string) bool {
	_, err := os.Stat(Path(name))
	return err == nil
}

// Do runs fn on a thread inside the named namespace and returns to the
// caller's namespace afterwards. Sockets fn opens stay in that namespace,
// and processes it starts inherit it.
func Do(name string, fn func() error) error {
	target, err := vnetns.GetFromPath(Path(name))
	if err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	defer target.Close()
	return DoHandle(target, fn)
}

// DoHandle is Do for an open namespace handle.
func DoHandle(target vnetns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := vnetns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			// Leave the thread locked: the runtime discards it.
			errc <- errors.Join(ferr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Output runs a command inside a named namespace and returns its standard
// output; a failure carries its standard error.
func Output(name string, args ...string) (string, error) {
	var out []byte
	err := Do(name, func() error {
		var stderr bytes.Buffer
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stderr = &stderr
		var err error
		if out, err = cmd.Output(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
	return string(out), err
}

// LabNamespaces lists the named namespaces whose names start with the lab's
// prefix ("<lab>-"): marked are those whose lo carries plan.Marker(lab), others
// those that do not (another tool's, or a lab's made before markers).
func LabNamespaces(lab string) (marked, others []string, err error) {
	ents, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	want := plan.Marker(lab)
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, lab+"-") {
			continue
		}
		if alias, err := loAlias(name); err == nil && alias == want {
			marked = append(marked, name)
		} else {
			others = append(others, name)
		}
	}
	return marked, others, nil
}

// loAlias reads the alias of lo in a named namespace through a netlink
// socket opened there (no thread switch).
func loAlias(name string) (string, error) {
	ns, err := vnetns.GetFromPath(Path(name))
	if err != nil {
		return "", err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return "", err
	}
	return lo.Attrs().Alias, nil
}

// Delete unmounts and removes a named namespace. A missing one is not an
// error: down is idempotent. It is here, not in lab/apply, because down
// deletes what LabNamespaces finds without a plan to apply. The kernel frees the namespace once
// nothing (no process, no socket) holds it.
func Delete(name string) error {
	path := Path(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
