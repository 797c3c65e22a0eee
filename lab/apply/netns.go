package apply

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
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/plan"
)

// NetnsDir is where named network namespaces are bind-mounted, as by
// `ip netns add`, so `ip netns exec` works on a lab from any shell.
const NetnsDir = "/run/netns"

// NetnsPath is the bind mount of a named namespace.
func NetnsPath(name string) string { return filepath.Join(NetnsDir, name) }

// ensureNetnsDir makes /run/netns a shared mount point, the way iproute2
// does, so namespaces mounted here propagate to other mount namespaces.
func ensureNetnsDir() error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == unix.EINVAL {
		if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", NetnsDir, err)
		}
		err = unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s shared: %w", NetnsDir, err)
	}
	return nil
}

// nsJob is one namespace for a creator thread: its name and the sysctls
// to write while the thread is inside it.
type nsJob struct {
	name    string
	sysctls [][2]string
	// marker is written as lo's alias: see plan.Marker.
	marker string
}

// createNamespaces creates named namespaces on a dedicated OS thread: the
// thread unshares into a fresh namespace, mounts it under /run/netns,
// writes its sysctls and brings lo up from inside, then unshares again for
// the next one. It never returns to the caller's namespace; the thread is
// left locked so the Go runtime discards it when the goroutine ends. This
// is what makes creation cheap: no setns round trips, no helper processes.
func createNamespaces(jobs []nsJob) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not unlocked on purpose: the thread's namespace is no longer the
		// process's, so it must die with this goroutine.
		errc <- func() error {
			for _, j := range jobs {
				if err := createOne(j); err != nil {
					return fmt.Errorf("namespace %s: %w", j.name, err)
				}
			}
			return nil
		}()
	}()
	return <-errc
}

func createOne(j nsJob) error {
	path := NetnsPath(j.name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists (another lab of that name? run netlab down first)", path)
		}
		return err
	}
	f.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		os.Remove(path)
		return fmt.Errorf("unshare: %w", err)
	}
	if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("bind-mount: %w", err)
	}
	for _, s := range j.sysctls {
		if err := writeSysctl(s[0], s[1]); err != nil {
			return err
		}
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if j.marker != "" {
		if err := netlink.LinkSetAlias(lo, j.marker); err != nil {
			return fmt.Errorf("mark lo: %w", err)
		}
	}
	return netlink.LinkSetUp(lo)
}

// LabNamespaces lists the named namespaces whose names start with the lab's
// prefix ("<lab>-"): marked are those whose lo carries plan.Marker(lab), others
// those that do not (another tool's, or a lab's made before markers).
func LabNamespaces(lab string) (marked, others []string, err error) {
	ents, err := os.ReadDir(NetnsDir)
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
	ns, err := netns.GetFromPath(NetnsPath(name))
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

// writeSysctl writes a dotted key under /proc/sys; net.* keys resolve in the
// calling thread's namespace at open time.
func writeSysctl(key, value string) error {
	p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// DeleteNamespace unmounts and removes a named namespace. A missing one is
// not an error: down is idempotent. The kernel frees the namespace once
// nothing (no process, no socket) holds it.
func DeleteNamespace(name string) error {
	path := NetnsPath(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Exists reports whether a named namespace is mounted.
func Exists(name string) bool {
	_, err := os.Stat(NetnsPath(name))
	return err == nil
}

// Do runs fn on a thread inside the named namespace and returns to the
// caller's namespace afterwards. Sockets fn opens stay in that namespace,
// and processes it starts inherit it.
func Do(name string, fn func() error) error {
	target, err := netns.GetFromPath(NetnsPath(name))
	if err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	defer target.Close()
	return DoHandle(target, fn)
}

// DoHandle is Do for an open namespace handle.
func DoHandle(target netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
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
