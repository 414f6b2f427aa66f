package oracle

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbachttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbactcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pkg/util/protomarshal"
)

// TestGoldenCoverage runs the evaluator over every filter istiod's authz
// builder produces in its own golden files
// (pilot/pkg/security/authz/builder/testdata/{http,tcp}/*-out*.yaml in the
// pinned istio.io/istio module): every policy of every RBAC engine must be
// evaluable (no matcher the evaluator does not implement) for a plaintext
// request, an mTLS one and one carrying a JWT.
func TestGoldenCoverage(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/istio").Output()
	if err != nil {
		t.Fatalf("go list -m istio.io/istio: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pilot/pkg/security/authz/builder/testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*-out*.yaml"))
	if len(files) < 50 {
		t.Fatalf("only %d golden files under %s", len(files), dir)
	}
	requests := []*rbacRequest{
		{SourceIP: net.ParseIP("10.0.0.1"), DestIP: net.ParseIP("10.0.0.2"), DestPort: 8080},
		{SourceIP: net.ParseIP("10.0.0.1"), DestIP: net.ParseIP("10.0.0.2"), DestPort: 8080, TLS: true,
			Principal: "spiffe://cluster.local/ns/foo/sa/sleep", SNI: "outbound_.80_._.httpbin.foo.svc.cluster.local"},
		{SourceIP: net.ParseIP("10.0.0.1"), DestIP: net.ParseIP("10.0.0.2"), DestPort: 8080, TLS: true,
			Principal: "spiffe://cluster.local/ns/foo/sa/sleep", Opaque: map[string]bool{jwtFilter: true}},
	}
	var engines, policies int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var typed *anypb.Any
		http := strings.Contains(f, "/http/")
		if http {
			hf := &hcm.HttpFilter{}
			if err := protomarshal.ApplyYAML(string(data), hf); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			typed = hf.GetTypedConfig()
		} else {
			nf := &listener.Filter{}
			if err := protomarshal.ApplyYAML(string(data), nf); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			typed = nf.GetTypedConfig()
		}
		var chain authzChain
		if !strings.HasSuffix(typed.GetTypeUrl(), ".RBAC") {
			continue // ext_authz: nothing to evaluate
		}
		name := "envoy.filters.network.rbac"
		if http {
			name = "envoy.filters.http.rbac"
		}
		cfg := rbacConfig(&rbactcp.RBAC{})
		if http {
			cfg = &rbachttp.RBAC{}
		}
		if err := chain.addRBAC(name, typed, cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, fl := range chain.Filters {
			for _, e := range [...]*rbacpb.RBAC{fl.Rules, fl.Shadow} {
				if e == nil {
					continue
				}
				engines++
				policies += len(e.GetPolicies())
				for _, r := range requests {
					r.HTTP = http
					r.Headers = map[string]string{":authority": "httpbin.foo", ":method": "GET", ":path": "/info?x=1", "x-token": "t"}
					if _, err := r.engine(e); err != nil {
						t.Errorf("%s: %v", filepath.Base(f), err)
					}
				}
			}
		}
	}
	t.Logf("%d golden files, %d RBAC engines, %d policies evaluated", len(files), engines, policies)
}
