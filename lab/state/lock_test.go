package state

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func scratch(t *testing.T) {
	old := Dir
	Dir = t.TempDir()
	t.Cleanup(func() { Dir = old })
}

// TestLockExcludes: an exclusive holder keeps out another exclusive and a
// shared taker, who are told who holds it and get in once it is released.
func TestLockExcludes(t *testing.T) {
	scratch(t)
	ctx := context.Background()
	up, err := Exclusive(ctx, "lab-a", "netlab up", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	done := make(chan *Lock, 1)
	go func() {
		l, err := Exclusive(ctx, "lab-a", "netlab down", func(by string) { got <- by })
		if err != nil {
			t.Error(err)
		}
		done <- l
	}()
	select {
	case by := <-got:
		if !strings.HasPrefix(by, "netlab up (pid ") {
			t.Errorf("waiter was told %q", by)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second taker did not wait")
	}
	select {
	case <-done:
		t.Fatal("two exclusive holders at once")
	case <-time.After(150 * time.Millisecond):
	}
	up.Unlock()
	down := <-done
	// A shared taker waits for down; down's Release removes the file once
	// the lab is gone, and the waiter then finds no lab (nil, nil).
	shared := make(chan *Lock, 1)
	go func() {
		l, err := Shared(ctx, "lab-a", func(string) {})
		if err != nil {
			t.Error(err)
		}
		shared <- l
	}()
	time.Sleep(100 * time.Millisecond)
	down.Release()
	if l := <-shared; l != nil {
		t.Error("a shared lock on a lab that is gone")
	}
	if _, err := os.Stat(LockPath("lab-a")); !os.IsNotExist(err) {
		t.Errorf("lock file left after the lab is gone: %v", err)
	}
}

// TestSharedLocksCoexist: probes of one lab run side by side, and a down
// waits for all of them; a waiter gives up when its context ends.
func TestSharedLocksCoexist(t *testing.T) {
	scratch(t)
	ctx := context.Background()
	if err := Create(&State{Lab: "lab-b", Phase: PhaseReady}); err != nil {
		t.Fatal(err)
	}
	mk, _ := Exclusive(ctx, "lab-b", "netlab up", nil)
	mk.Release() // the lab exists: the file stays
	a, err := Shared(ctx, "lab-b", nil)
	if err != nil || a == nil {
		t.Fatal(a, err)
	}
	b, err := Shared(ctx, "lab-b", nil)
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := Exclusive(short, "lab-b", "netlab down", nil); err == nil || !strings.Contains(err.Error(), "waiting for lab lab-b") {
		t.Errorf("exclusive with readers: %v", err)
	}
	a.Unlock()
	b.Unlock()
	if l, err := Exclusive(ctx, "lab-b", "netlab down", nil); err != nil {
		t.Error(err)
	} else {
		l.Unlock()
	}
}

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "/", "../netlab", "a/b", "A", "-a", strings.Repeat("x", 41)} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
		if _, err := Load(bad); err == nil {
			t.Errorf("Load(%q) accepted", bad)
		}
		if err := Remove(bad); err == nil {
			t.Errorf("Remove(%q) accepted", bad)
		}
	}
	if CheckName("my-lab-1") != nil {
		t.Error("a good name refused")
	}
}
