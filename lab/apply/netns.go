package apply

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab/netns"
)

// ensureNetnsDir makes /run/netns a shared mount point, the way iproute2
// does, so namespaces mounted here propagate to other mount namespaces.
func ensureNetnsDir() error {
	if err := os.MkdirAll(netns.Dir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", netns.Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == unix.EINVAL {
		if err := unix.Mount(netns.Dir, netns.Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", netns.Dir, err)
		}
		err = unix.Mount("", netns.Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s shared: %w", netns.Dir, err)
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
	path := netns.Path(j.name)
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

// writeSysctl writes a dotted key under /proc/sys; net.* keys resolve in the
// calling thread's namespace at open time.
func writeSysctl(key, value string) error {
	p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
