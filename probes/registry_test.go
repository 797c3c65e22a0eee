package probes

// The tests load scenarios, which name kube-proxy modes and CNI plugins:
// link their implementations (probes itself does not: it only observes).
import _ "github.com/netlab/netlab/lab/compile"
