// Package wire is the app protocol between a probe and the servers the lab
// daemon runs: what a probe sends first and what a server answers. It is
// its own package so that probes (which parses the answer) and lab/daemon
// (which writes it) share it without either importing the other.
package wire

// Answer is what an app server says to every connection: who it is and the
// client address it saw (after any NAT on the way).
type Answer struct {
	Pod    string `json:"pod"`
	Node   string `json:"node"`
	Client string `json:"client"`
	Local  string `json:"local"`
}

// Hello is what a probe sends first, so the server answers at once
// instead of waiting to see whether an HTTP request follows.
const Hello = "NETLAB-PROBE\n"
