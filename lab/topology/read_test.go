package topology_test

import (
	"bytes"
	"errors"
	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadScenarioFile: what is not a regular file is refused at once
// (a FIFO without a writer used to block up forever, /dev/zero to run out of
// memory), and so is a file beyond topology.MaxScenarioBytes.
func TestReadScenarioFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "s.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), topology.MaxScenarioBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, fifo + ": is a named pipe (FIFO), not a regular file (fix: pass the path of a scenario's .yaml file, or the name of a built-in scenario)"},
		{"/dev/zero", "/dev/zero: is a character device, not a regular file (fix: pass the path of a scenario's .yaml file, or the name of a built-in scenario)"},
		{dir, dir + ": is a directory, not a regular file"},
		{sock, sock + ": is a socket, not a regular file"},
		{big, big + ": the file is larger than 2 MiB, the most a scenario may be (fix: check that this is the scenario you meant: a 5,000-pod scenario is about 215 KB)"},
	} {
		done := make(chan error, 1)
		go func() { _, err := topology.LoadFile(tc.path); done <- err }()
		select {
		case err := <-done:
			var ps topology.Problems
			if !errors.As(err, &ps) || len(ps) != 1 || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("LoadFile(%s) = %v, want %s", tc.path, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("LoadFile(%s) blocks", tc.path)
		}
	}
	if _, err := topology.ReadScenarioFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadScenarioFileAtTheLimit: a file of exactly topology.MaxScenarioBytes is
// read whole.
func TestReadScenarioFileAtTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	want := append([]byte(good), bytes.Repeat([]byte("#"), topology.MaxScenarioBytes-len(good))...)
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := topology.ReadScenarioFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadScenarioFile: %d bytes, %v", len(got), err)
	}
	if _, err := topology.LoadFile(path); err != nil {
		t.Error(err)
	}
	if _, err := topology.Load("big.yaml", append(want, '#')); err == nil || err.Error() != "big.yaml: the file is larger than 2 MiB, the most a scenario may be (fix: check that this is the scenario you meant: a 5,000-pod scenario is about 215 KB)" {
		t.Errorf("Load of MaxScenarioBytes+1: %v", err)
	}
}
