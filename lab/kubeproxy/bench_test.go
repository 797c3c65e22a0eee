package kubeproxy

import (
	"fmt"
	"testing"
)

// benchNode is one node of a cluster with n Services of 3 endpoints each
// (every fifth Service a NodePort, every tenth with eTP=Local), endpoints
// spread over 50 nodes.
func benchNode(n int) Node {
	node := Node{Name: "node-0", IPs: []string{"192.168.0.2"}, ClusterCIDR: "10.244.0.0/16"}
	for i := 0; i < n; i++ {
		s := Service{
			Namespace: fmt.Sprintf("ns%d", i%20),
			Name:      fmt.Sprintf("svc%d", i),
			ClusterIP: fmt.Sprintf("10.96.%d.%d", i/250, i%250+1),
			Ports:     []Port{{Name: "http", Port: 80, TargetPort: 8080}},
		}
		if i%5 == 0 {
			s.Type = "NodePort"
			s.Ports[0].NodePort = 30000 + i%2768
			if i%10 == 0 {
				s.ExternalTrafficPolicy = "Local"
			}
		}
		for e := 0; e < 3; e++ {
			k := i*3 + e
			s.Endpoints = append(s.Endpoints, Endpoint{
				IP:       fmt.Sprintf("10.244.%d.%d", k/250%250, k%250+1),
				NodeName: fmt.Sprintf("node-%d", k%50),
			})
		}
		node.Services = append(node.Services, s)
	}
	return node
}

// BenchmarkIPTables5000 renders 5,000 Services x 3 endpoints for one node
// (large-cluster mode: 15,000 endpoints), and then the restore text.
func BenchmarkIPTables5000(b *testing.B) {
	node := benchNode(5000)
	for _, ver := range []string{"1.22", "1.31"} {
		v := mustVersion(b, ver)
		b.Run("render-"+ver, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := IPTables(v, node); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("render+restore-text-"+ver, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r, err := IPTables(v, node)
				if err != nil {
					b.Fatal(err)
				}
				_ = r.Rules.Restore()
			}
		})
	}
}

// TestBenchNodeRestores loads the 5,000-Service ruleset into a scratch
// network namespace, so the benchmark measures something iptables accepts.
func TestBenchNodeRestores(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	check := restoreTester(t)
	r, err := IPTables(mustVersion(t, "1.31"), benchNode(5000))
	if err != nil {
		t.Fatal(err)
	}
	check(t, r)
}
