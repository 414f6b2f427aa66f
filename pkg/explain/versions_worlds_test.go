package explain_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// proxyImage is the tag of the istio-proxy images of a world.
var proxyImage = regexp.MustCompile(`(/proxyv2:)[0-9]+\.[0-9]+\.[0-9]+`)

// explainAt runs a URL query against a world of test/istio/worlds with
// every istio-proxy image moved to release (no istiod pod in these
// worlds: the proxies' version is the control plane's).
func explainAt(t *testing.T, world, release, src, target string) *api.Reachability {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../test/istio/worlds", world))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), world)
	if err := os.WriteFile(path, proxyImage.ReplaceAll(data, []byte("${1}"+release)), 0o644); err != nil {
		t.Fatal(err)
	}
	return explainPath(t, path, src, target)
}

// TestVersionRulesInWorlds: the 1.31 rules on the worlds that show them,
// answered for 1.31 and for the minor before (test/istio-1.27 compares the
// older side with Istio 1.27.9 request by request).
func TestVersionRulesInWorlds(t *testing.T) {
	tests := []struct {
		name, world, release, src, target string
		outboundPolicy                    api.OutboundPolicy
		cluster                           string // "": not checked
		authz                             api.AuthzDecision
		warning                           string // a substring of one warning; "": none of the rules' warnings
	}{
		// Sidecar egress hosts ["~/*", "pub/open…"]: from 1.31 "~/*"
		// excludes every host, pub/open too; before, "~" is a namespace
		// no Service is in, and pub/open is imported.
		{"egress exclusion, 1.31", "svc-exportto-sidecar-registryonly.yaml", "1.31.0", "narrow/client3", "http://open.pub:8080/",
			"ALLOW_ANY", "PassthroughCluster", "", ""},
		{"egress exclusion, 1.30", "svc-exportto-sidecar-registryonly.yaml", "1.30.2", "narrow/client3", "http://open.pub:8080/",
			"ALLOW_ANY", "outbound|8080||open.pub.svc.cluster.local", "", ""},
		// meshConfig outboundTrafficPolicy ALLOW_ANY_DYNAMIC_DNS: an
		// istiod before 1.31 cannot parse the mesh config and runs on
		// Istio's defaults.
		{"dynamic DNS mode, 1.31", "b5-mesh-allow-any-dynamic-dns.yaml", "1.31.0", "app/client", "http://203.0.113.10:80/",
			"ALLOW_ANY_DYNAMIC_DNS", "AllowAnyDynamicDNSCluster", "", ""},
		{"dynamic DNS mode, 1.27", "b5-mesh-allow-any-dynamic-dns.yaml", "1.27.9", "app/client", "http://203.0.113.10:80/",
			"ALLOW_ANY", "PassthroughCluster", "", "which Istio 1.27 does not know (it exists from 1.31): its istiod cannot parse that mesh config"},
		// Proxies at 1.30 and no istiod read: istiod may be 1.31 (one
		// minor ahead, as Istio's skew policy allows): the mesh config is
		// kept as written, with a warning.
		{"dynamic DNS mode, 1.30 proxies, istiod unread", "b5-mesh-allow-any-dynamic-dns.yaml", "1.30.2", "app/client", "http://203.0.113.10:80/",
			"ALLOW_ANY_DYNAMIC_DNS", "AllowAnyDynamicDNSCluster", "", "if istiod is older than 1.31 it cannot parse that mesh config"},
		// source.trustDomains [legacy.acme] on /td-field (rule 4): from
		// 1.31 ns2/a (prod.acme, an alias of legacy.acme) matches; before,
		// the field is dropped and the source matches every request, so
		// ns1/plain (no identity) is allowed too.
		{"trustDomains, 1.31", "authz-trust-domain-aliases.yaml", "1.31.0", "ns1/plain", "http://web.ns1/td-field",
			"", "", api.AuthzDeny, ""},
		{"trustDomains, 1.30", "authz-trust-domain-aliases.yaml", "1.30.2", "ns1/plain", "http://web.ns1/td-field",
			"", "", api.AuthzAllow, "uses source.trustDomains/notTrustDomains (rules 4, 5, 6, 9), which Istio 1.30 does not know"},
		// A when on source.trustDomain (rule 7, port 9000): the rule is
		// skipped before 1.31, and no other rule allows port 9000.
		{"when source.trustDomain, 1.31", "authz-trust-domain-aliases.yaml", "1.31.0", "ns2/a", "http://web.ns1:9000/",
			"", "", api.AuthzAllow, ""},
		{"when source.trustDomain, 1.30", "authz-trust-domain-aliases.yaml", "1.30.2", "ns2/a", "http://web.ns1:9000/",
			"", "", api.AuthzDeny, "has a when on source.trustDomain (rules 7), which Istio 1.30 does not know (it exists from 1.31): its istiod skips those rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := explainAt(t, tt.world, tt.release, tt.src, tt.target)
			if tt.outboundPolicy != "" && rep.Mesh.OutboundTrafficPolicy != tt.outboundPolicy {
				t.Errorf("mesh outboundTrafficPolicy %q, want %q", rep.Mesh.OutboundTrafficPolicy, tt.outboundPolicy)
			}
			r := rep.Requests[0]
			if tt.cluster != "" && (r.Outbound == nil || r.Outbound.Cluster != tt.cluster) {
				t.Errorf("outbound %+v, want cluster %q", r.Outbound, tt.cluster)
			}
			if tt.authz != "" {
				if r.Inbound == nil || r.Inbound.Authorization == nil || r.Inbound.Authorization.Decision != tt.authz {
					t.Errorf("inbound %+v, want authorization %q", r.Inbound, tt.authz)
				}
			}
			found := false
			for _, w := range rep.Warnings {
				if tt.warning != "" && strings.Contains(w, tt.warning) {
					found = true
				}
				if tt.warning == "" && (strings.Contains(w, "does not know") || strings.Contains(w, "cannot parse")) {
					t.Errorf("unexpected warning %q", w)
				}
			}
			if tt.warning != "" && !found {
				t.Errorf("warnings %q, want one saying %q", rep.Warnings, tt.warning)
			}
		})
	}
}
