package explain_test

import (
	"slices"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// TestDNSProxy: with ISTIO_META_DNS_CAPTURE the source's names are answered
// from istiod's name table first (the differential suite's TestNameTable
// checks the same against Istio's BuildNameTable on every world).
func TestDNSProxy(t *testing.T) {
	const world = "dns-capture-serviceentries.yaml"
	tests := []struct {
		src, target string
		source      api.DNSSource
		ips         []string
		listener    string
	}{
		// A ServiceEntry's address: only the DNS proxy knows the name.
		{"app/client", "http://api.partner.example/", api.DNSSourceIstioProxy, []string{"192.0.2.10"}, "0.0.0.0_80"},
		// The VIP istiod's controller wrote to status.addresses (1.25+):
		// the table answers it and the listener binds it.
		{"app/client", "tcp://billing.corp.example:9000", api.DNSSourceIstioProxy, []string{"240.240.0.1"}, "240.240.0.1_9000"},
		// Opted out of auto-allocation: not in the table, cluster DNS does not know it.
		{"app/client", "http://optout.corp.example:8080/", api.DNSSourceCluster, nil, ""},
		// Kubernetes names: the short form, the search-domain CNAME and a
		// per-pod name from the pod's hostname and subdomain.
		{"app/client", "http://web.demo/", api.DNSSourceIstioProxy, []string{"10.96.10.10"}, "0.0.0.0_80"},
		{"app/client", "tcp://db-0.db.demo:5432", api.DNSSourceIstioProxy, []string{"10.244.2.30"}, "10.244.2.30_5432"},
		{"app/client", "tcp://db.demo:5432", api.DNSSourceIstioProxy, []string{"10.244.2.30", "10.244.2.31"}, ""},
		// Capture off by the pod's proxy.istio.io/config: cluster DNS, and
		// the address-less ServiceEntry's listener is 0.0.0.0.
		{"app/client-nocapture", "tcp://billing.corp.example:9000", api.DNSSourceCluster, nil, ""},
		{"app/client-nocapture", "http://api.partner.example/", api.DNSSourceCluster, []string{"192.0.2.10"}, "0.0.0.0_80"},
	}
	for _, tt := range tests {
		t.Run(tt.src+" "+tt.target, func(t *testing.T) {
			rep := explainWorld(t, world, tt.src, tt.target)
			r := rep.Requests[0]
			if r.DNSSource != tt.source || !slices.Equal(r.ResolvedIPs, tt.ips) {
				t.Errorf("dnsSource %s, resolvedIPs %v; want %s %v (%s)", r.DNSSource, r.ResolvedIPs, tt.source, tt.ips, r.DNS)
			}
			wantProxy := "dns"
			if tt.source == api.DNSSourceIstioProxy {
				wantProxy = tt.src
			}
			if len(r.Steps) == 0 || r.Steps[0].Stage != api.StageResolve || r.Steps[0].Proxy != wantProxy {
				t.Errorf("first step %+v, want resolve by %s", r.Steps, wantProxy)
			}
			if tt.listener != "" && (r.Outbound == nil || r.Outbound.Listener != tt.listener) {
				t.Errorf("outbound %+v, want listener %s", r.Outbound, tt.listener)
			}
			if rep.Source.DNSCapture != (tt.src == "app/client") {
				t.Errorf("source dnsCapture %v", rep.Source.DNSCapture)
			}
		})
	}
}
