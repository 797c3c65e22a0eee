package kubeproxy

import (
	"crypto/sha256"
	"encoding/base32"
)

// Chain-name prefixes of the iptables proxier (pkg/proxy/iptables/proxier.go,
// portProtoHash and the chain-name helpers next to it). SVC, SVL,
// EXT, FW and XLB share one hash per service port; SEP adds the endpoint.
const (
	prefixSVC = "KUBE-SVC-" // cluster policy chain (every version)
	prefixSVL = "KUBE-SVL-" // local policy chain (1.24+)
	prefixEXT = "KUBE-EXT-" // external traffic chain (1.24+)
	prefixFW  = "KUBE-FW-"  // load balancer source-range firewall (1.5+)
	prefixXLB = "KUBE-XLB-" // externalTrafficPolicy=Local chain (1.5-1.23)
	prefixSEP = "KUBE-SEP-" // one per endpoint
)

// ChainHash is kube-proxy's portProtoHash: the first 16 characters of the
// standard base32 encoding of sha256(svcPortName + proto). svcPortName is
// "ns/name" or "ns/name:port" (ServicePortName.String()) and proto is the
// lower-case protocol ("tcp", "udp", "sctp"). Chain names must fit the
// 28-character iptables limit, hence the truncation.
//
//	ChainHash("default/kubernetes:https", "tcp") == "NPX46M4PTMTKRN6Y"
func ChainHash(svcPortName, proto string) string {
	return hash16(svcPortName + proto)
}

// ServicePortChainName is the KUBE-SVC- chain of a service port:
// ServicePortChainName("default/kubernetes:https", "tcp") ==
// "KUBE-SVC-NPX46M4PTMTKRN6Y".
func ServicePortChainName(svcPortName, proto string) string {
	return prefixSVC + ChainHash(svcPortName, proto)
}

// EndpointChainName is the KUBE-SEP- chain of one endpoint of a service
// port; endpoint is "ip:port" (net.JoinHostPort, so IPv6 is bracketed).
func EndpointChainName(svcPortName, proto, endpoint string) string {
	return prefixSEP + hash16(svcPortName+proto+endpoint)
}

func hash16(s string) string {
	sum := sha256.Sum256([]byte(s))
	var buf [56]byte // base32 of 32 bytes is 56 characters
	base32.StdEncoding.Encode(buf[:], sum[:])
	return string(buf[:16])
}
