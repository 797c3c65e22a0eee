package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
)

// NSName is the network namespace name of a lab object: "<lab>-<name>".
func NSName(lab, name string) string { return lab + "-" + name }

// Marker is the alias of the loopback device of every namespace a lab
// creates. It marks the namespace as that lab's inside the kernel, so that
// down --force, when the lab's state is lost or corrupt, deletes only
// namespaces that carry it, never another tool's namespace whose name
// happens to start with the lab's prefix.
func Marker(lab string) string { return "netlab lab " + lab }

// MAC derives a stable, locally administered unicast MAC from a seed, so the
// same scenario always yields the same plan (golden files, remote VTEP MACs
// known at compile time).
func MAC(seed ...string) string {
	h := sha256.New()
	for _, s := range seed {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	return net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}.String()
}

// VethName is the host end of a pod's veth, "veth" + 8 hex digits like the
// CNI bridge plugin's RandomVethName, but derived from the pod's name so
// that plans are deterministic.
func VethName(pod string) string {
	sum := sha256.Sum256([]byte(pod))
	return "veth" + hex.EncodeToString(sum[:4])
}

// Port names the VPC-side end of a node's or client's NIC.
func Port(kind string, index int) string { return fmt.Sprintf("%s%d", kind, index) }
