package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lock is one lab's lock: a flock(2) on Dir/<lab>.lock. Commands that change
// a lab (up, down) hold it exclusively for their whole run; commands that
// use a running lab (probe, trace, test) hold it shared, so a down waits for
// them instead of pulling namespaces from under a probe, and never runs in
// the middle of an up. The kernel drops the lock when the holder exits, so
// a crashed or kill -9'd command never leaves a lab locked.
//
// The lock file lives beside the lab's directory, not in it, so that it
// exists before the directory (up) and after it (down). down deletes it
// while holding it; a waiter that then gets the lock on the unlinked file
// notices and retries on a fresh one.
type Lock struct {
	f         *os.File
	lab, path string
	exclusive bool
}

// LockPath is the lab's lock file.
func LockPath(lab string) string { return filepath.Join(Dir, lab+".lock") }

// Exclusive takes the lab's lock for a command that changes the lab,
// creating the lock file if needed. While another command holds it, wait is
// called once with that command's description ("" when unknown) and
// Exclusive keeps trying until ctx is done.
func Exclusive(ctx context.Context, lab, holder string, wait func(by string)) (*Lock, error) {
	l, err := lock(ctx, lab, syscall.LOCK_EX, true, wait)
	if err != nil || l == nil {
		return l, err
	}
	l.exclusive = true
	// Say who holds it, for the next waiter's message.
	if err := l.f.Truncate(0); err == nil {
		_, _ = l.f.WriteAt([]byte(fmt.Sprintf("%s (pid %d)\n", holder, os.Getpid())), 0)
	}
	return l, nil
}

// Shared takes the lab's lock for a command that uses a running lab. It
// returns nil and no error when the lab has no lock file: the lab does not
// exist (the caller's Load then says so), and a reader must not create one.
func Shared(ctx context.Context, lab string, wait func(by string)) (*Lock, error) {
	return lock(ctx, lab, syscall.LOCK_SH, false, wait)
}

func lock(ctx context.Context, lab string, how int, create bool, wait func(string)) (*Lock, error) {
	if err := CheckName(lab); err != nil {
		return nil, err
	}
	path := LockPath(lab)
	if create {
		if err := os.MkdirAll(Dir, 0o755); err != nil {
			return nil, err
		}
	}
	waited := false
	for {
		flags := os.O_RDWR
		if create {
			flags |= os.O_CREATE
		}
		f, err := os.OpenFile(path, flags, 0o644)
		if errors.Is(err, os.ErrNotExist) && !create {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for {
			err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				break
			}
			if !waited && wait != nil {
				wait(holderOf(f))
			}
			waited = true
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("waiting for lab %s: %w", lab, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if sameFile(f, path) {
			return &Lock{f: f, lab: lab, path: path}, nil
		}
		// down removed the file while we waited: lock the current one.
		f.Close()
		if !create {
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
		}
	}
}

func holderOf(f *os.File) string {
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, 0)
	return strings.TrimSpace(string(buf[:n]))
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// Unlock releases the lock. Nil-safe.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		if l.exclusive {
			_ = l.f.Truncate(0) // no stale holder for the next waiter's message
		}
		l.f.Close()
		l.f = nil
	}
}

// Release releases an exclusive lock and, when the lab no longer exists
// (after down, or an up that failed and cleaned up), removes the lock file
// too, so nothing is left under Dir. Removing it while holding it is safe:
// a waiter notices and locks a fresh file.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	if _, err := os.Lstat(LabDir(l.lab)); errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(l.path)
	}
	l.Unlock()
}
