//go:build linux

// Package testenv holds helpers for tests that touch the kernel: skip when not root, skip natively
// (and fail in the qemu guest) when the kernel lacks a feature, and short unique names.
//
// Tests run in two places (docs/testing.md, "In the qemu guest"): natively, where
// features the host kernel lacks are skipped with the reason, and in the qemu guest booted by
// scripts/vmtest (NETLAB_IN_GUEST=1), where every feature must be present, so a missing one fails.
package testenv

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/kernel"
)

// RequireRoot skips the test when not running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if InGuest() {
			t.Fatal("not root inside the qemu guest (scripts/vmtest runs commands as root)")
		}
		t.Skip("needs root (creates network namespaces); run as root, or in the qemu guest (make vmtest)")
	}
}

// InGuest reports whether the test runs inside the qemu guest of scripts/vmtest (NETLAB_IN_GUEST=1).
func InGuest() bool {
	return os.Getenv("NETLAB_IN_GUEST") == "1"
}

// RequireFeatures probes the kernel features (for real, in a scratch network namespace) and, when some
// are missing, skips the test natively with the reason, or fails it inside the qemu guest, where the
// Debian kernel has them all. It implies RequireRoot. No features: nothing is required (not, as
// for kernel.Missing, all of them).
func RequireFeatures(t testing.TB, fs ...kernel.Feature) {
	t.Helper()
	RequireRoot(t)
	if len(fs) == 0 {
		return
	}
	missing := kernel.Missing(fs...)
	if len(missing) == 0 {
		return
	}
	var b strings.Builder
	for i, c := range missing {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "needs %s: %s", c.Feature, c.Detail)
	}
	if InGuest() {
		t.Fatalf("%s (the qemu guest's kernel must have every feature)", b.String())
	}
	t.Skipf("%s; runs in the qemu guest (make vmtest)", b.String())
}

// Prefix returns a short name prefix for the test's network namespaces, labs and devices: "t", six
// hex digits of the SHA-1 of t.Name() and the process id in base 36 (at most five digits), so at most
// 12 characters of [a-z0-9]. It is stable within a test and differs between tests and between
// concurrent test processes.
func Prefix(t testing.TB) string {
	sum := sha1.Sum([]byte(t.Name()))
	pid := strconv.FormatUint(uint64(os.Getpid()), 36)
	if len(pid) > 5 {
		pid = pid[len(pid)-5:]
	}
	return "t" + hex.EncodeToString(sum[:])[:6] + pid
}
