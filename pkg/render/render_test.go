package render

import (
	"bytes"
	"encoding/json"
	"flag"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// matrixReport is a hand-made report shaped like the README's example: a headless
// StatefulSet pod behind a STRICT PeerAuthentication, dialed four ways.
func matrixReport() *api.Reachability {
	return &api.Reachability{
		TypeMeta: api.TypeMeta{APIVersion: api.APIVersion, Kind: api.KindReachability},
		Source: api.Workload{
			Namespace: "demo", Name: "client-5d8f7c9b4-x2x7q", IP: "10.1.1.1",
			Dataplane: "sidecar", IstioVersion: "1.31",
			ChosenFrom:            "deploy/client: 1 of 2 ready pods",
			OutboundTrafficPolicy: "ALLOW_ANY",
		},
		Destination: &api.Workload{
			Namespace: "demo", Name: "web-0", IP: "10.1.2.3", Dataplane: "sidecar",
			PeerAuthentication: "demo/default: STRICT", PeerAuthenticationRef: &api.ObjectRef{Kind: "PeerAuthentication", Namespace: "demo", Name: "default"},
		},
		Mesh: api.Mesh{
			OutboundTrafficPolicy: "ALLOW_ANY", RootNamespace: "istio-system",
			ClusterDomain: "cluster.local", EnableAutoMtls: true, IstioVersion: "1.31",
			ConfigMap: "istio-system/istio",
		},
		Ports: []api.PortSummary{
			{Port: 8080, Name: "http", Protocol: "HTTP", Sources: []string{"Service demo/web port http", "headless"}},
			{Port: 9090, Protocol: "TCP", Sources: []string{"containerPort"}},
		},
		Requests: []api.Request{
			{
				Address: "web-0.web.demo.svc.cluster.local", Port: 8080, Host: "web-0.web.demo.svc.cluster.local:8080",
				Protocol: "HTTP", Traffic: "http", Form: "pod-hostname", Service: "demo/web", DestinationPort: 8080,
				ResolvedIPs: []string{"10.1.2.3"}, DialedIP: "10.1.2.3", Captured: true,
				Outbound: &api.Outbound{
					Listener: "0.0.0.0_8080", RouteConfig: "8080",
					VirtualHost: "web.demo.svc.cluster.local:8080",
					Cluster:     "outbound|8080||web.demo.svc.cluster.local", ClusterType: "ORIGINAL_DST",
				},
				TLS:       api.TLSMutual,
				Upstream:  &api.Upstream{Pod: "demo/web-0", IP: "10.1.2.3", Port: 8080},
				Inbound:   &api.Inbound{Pod: "demo/web-0", Port: 8080, Captured: true, Mode: "STRICT", FilterChain: "0.0.0.0_8080", Accepted: true},
				Balancing: api.BalancingNone, Verdict: api.VerdictReaches, Reaches: "web-0",
				ReachesTarget: &api.Reaches{Kind: api.ReachesPod, Pod: "demo/web-0"},
				Steps:         sidecarSteps("10.1.2.3", "0.0.0.0_8080", "8080 / web.demo.svc.cluster.local:8080", "outbound|8080||web.demo.svc.cluster.local", "mtls", "0.0.0.0_8080 (STRICT)", "web-0"),
			},
			{
				Address: "web", Port: 8080, Host: "web:8080",
				Protocol: "HTTP", Traffic: "http", Form: "service-short", Service: "demo/web", DestinationPort: 8080,
				ResolvedIPs: []string{"10.1.2.3", "10.1.2.4", "10.1.2.5"}, Captured: true,
				Outbound: &api.Outbound{
					Listener: "0.0.0.0_8080", RouteConfig: "8080",
					VirtualHost: "web.demo.svc.cluster.local:8080",
					Cluster:     "outbound|8080||web.demo.svc.cluster.local", ClusterType: "ORIGINAL_DST",
				},
				TLS:       api.TLSMutual,
				Upstream:  &api.Upstream{IP: "10.1.2.3", Port: 8080, Candidates: 3},
				Inbound:   &api.Inbound{Pod: "demo/web-0", Port: 8080, Captured: true, Mode: "STRICT", FilterChain: "0.0.0.0_8080", Accepted: true},
				Balancing: api.BalancingNone, Verdict: api.VerdictLoadBalanced, Reaches: "any of 3 pods",
				ReachesTarget: &api.Reaches{Kind: api.ReachesEndpoints, Endpoints: 3},
				Steps:         sidecarSteps("10.1.2.3,10.1.2.4,10.1.2.5", "0.0.0.0_8080", "8080 / web.demo.svc.cluster.local:8080", "outbound|8080||web.demo.svc.cluster.local", "mtls", "0.0.0.0_8080 (STRICT)", "any of 3 pods"),
			},
			{
				Address: "10.1.2.3", Port: 8080, Host: "10.1.2.3",
				Protocol: "HTTP", Traffic: "http", Form: "pod-ip", DestinationPort: 8080,
				ResolvedIPs: []string{"10.1.2.3"}, DialedIP: "10.1.2.3", Captured: true,
				Outbound: &api.Outbound{
					Listener: "0.0.0.0_8080", RouteConfig: "8080", VirtualHost: "allow_any",
					Route: "allow_any", Cluster: "PassthroughCluster", ClusterType: "ORIGINAL_DST",
				},
				TLS:      api.TLSPlaintext,
				Upstream: &api.Upstream{Pod: "demo/web-0", IP: "10.1.2.3", Port: 8080},
				Inbound: &api.Inbound{Pod: "demo/web-0", Port: 8080, Captured: true, Mode: "STRICT",
					ModeSource: "PeerAuthentication demo/default", Accepted: false, Error: "filter_chain_not_found"},
				Balancing: api.BalancingNone, Verdict: api.VerdictFails, Reaches: "—",
				ReachesTarget: &api.Reaches{Kind: api.ReachesNone},
				Steps:         failingSteps(),
				Reasons: []api.Reason{
					{Code: api.ReasonPassthrough, Rule: api.RuleNoVirtualHost, Message: `Host 10.1.2.3 matches no virtual host on route "8080" → allow_any → PassthroughCluster (never mTLS)`},
					{Code: api.ReasonStrictRejectsPlaintext, Message: `web-0 is STRICT → "filter_chain_not_found" in web-0's proxy log`},
				},
				Symptom: `503 upstream connect error or disconnect/reset before headers. reset reason: connection termination`,
				Fixes: []api.Fix{
					{Object: "caller", Message: "call web-0.web.demo.svc.cluster.local:8080", Verified: true,
						Dial: &api.Dial{Address: "web-0.web.demo.svc.cluster.local", Port: 8080}},
					{Object: "Service demo/web", Field: "spec.ports[0].name", Message: "or leave the port unnamed / appProtocol tcp so the headless per-pod listener accepts any Host (Istio ≥ 1.12)", Verified: true,
						Patch: &api.Patch{APIVersion: "v1", Kind: "Service", Namespace: "demo", Name: "web", MergePatch: []byte(`{"spec":{"ports":[{"name":"http","port":8080,"appProtocol":"tcp"}]}}`)}},
					{Object: "PeerAuthentication demo/web", Message: "or PeerAuthentication port 8080: PERMISSIVE", Verified: true,
						Patch: &api.Patch{APIVersion: "security.istio.io/v1", Kind: "PeerAuthentication", Namespace: "demo", Name: "web", Create: true,
							MergePatch: []byte(`{"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication","metadata":{"name":"web","namespace":"demo"},"spec":{"portLevelMtls":{"8080":{"mode":"PERMISSIVE"}},"selector":{"matchLabels":{"app":"web"}}}}`)}},
				},
			},
			{
				Address: "10.1.2.3", Port: 9090, Protocol: "TCP", Traffic: "tcp", Form: "pod-ip", DestinationPort: 9090,
				ResolvedIPs: []string{"10.1.2.3"}, DialedIP: "10.1.2.3", Captured: true,
				Outbound: &api.Outbound{
					Listener: "virtualOutbound", FilterChain: "PassthroughFilterChain",
					Cluster: "PassthroughCluster", ClusterType: "ORIGINAL_DST",
				},
				TLS:       api.TLSMutual,
				Upstream:  &api.Upstream{Pod: "demo/web-0", IP: "10.1.2.3", Port: 9090},
				Inbound:   &api.Inbound{Pod: "demo/web-0", Port: 9090, Captured: true, Mode: "STRICT", FilterChain: "virtualInbound", Accepted: true},
				Balancing: api.BalancingNone, Verdict: api.VerdictReaches, Reaches: "web-0",
				ReachesTarget: &api.Reaches{Kind: api.ReachesPod, Pod: "demo/web-0"},
				Steps:         sidecarSteps("10.1.2.3", "virtualOutbound (PassthroughFilterChain)", "tcp_proxy", "PassthroughCluster", "mtls", "virtualInbound (STRICT)", "web-0"),
			},
		},
		Summary:  api.Summary{Requests: 4, Reaching: 3, Failing: 1},
		Warnings: []string{"cannot list sidecars.networking.istio.io in demo (forbidden): Sidecar scoping not applied"},
	}
}

// sidecarSteps is the step sequence of a request that passes every stage
// of a captured sidecar path.
func sidecarSteps(ips, listener, route, cluster, tls, inbound, reaches string) []api.Step {
	src := "demo/client-5d8f7c9b4-x2x7q"
	return []api.Step{
		{Stage: api.StageResolve, Proxy: "dns", Name: ips, Result: api.StepPass},
		{Stage: api.StageCapture, Proxy: src, Name: "captured", Result: api.StepPass},
		{Stage: api.StageListener, Proxy: src, Name: listener, Result: api.StepPass},
		{Stage: api.StageRoute, Proxy: src, Name: route, Result: api.StepPass},
		{Stage: api.StageCluster, Proxy: src, Name: cluster, Result: api.StepPass},
		{Stage: api.StageClientTLS, Proxy: src, Name: tls, Result: api.StepPass},
		{Stage: api.StageInbound, Proxy: "demo/web-0", Name: inbound, Result: api.StepPass},
		{Stage: api.StageVerdict, Name: reaches, Result: api.StepPass},
	}
}

// failingSteps: a pod-IP request through PassthroughCluster, refused by STRICT.
func failingSteps() []api.Step {
	src := "demo/client-5d8f7c9b4-x2x7q"
	pass := api.Reason{Code: api.ReasonPassthrough, Rule: api.RuleNoVirtualHost, Message: `Host 10.1.2.3 matches no virtual host on route "8080" → allow_any → PassthroughCluster (never mTLS)`}
	strict := api.Reason{Code: api.ReasonStrictRejectsPlaintext, Message: `web-0 is STRICT → "filter_chain_not_found" in web-0's proxy log`}
	return []api.Step{
		{Stage: api.StageResolve, Proxy: "dns", Name: "10.1.2.3", Result: api.StepPass},
		{Stage: api.StageCapture, Proxy: src, Name: "captured", Result: api.StepPass},
		{Stage: api.StageListener, Proxy: src, Name: "0.0.0.0_8080", Result: api.StepPass},
		{Stage: api.StageRoute, Proxy: src, Name: "8080 / allow_any", Result: api.StepPass},
		{Stage: api.StageCluster, Proxy: src, Name: "PassthroughCluster", Result: api.StepPass, Reason: &pass},
		{Stage: api.StageClientTLS, Proxy: src, Name: "plaintext", Result: api.StepPass},
		{Stage: api.StageInbound, Proxy: "demo/web-0", Name: "rejected: filter_chain_not_found", Result: api.StepFail, Reason: &strict},
	}
}

// urlReport is the URL form: one traced request, no Ports, a Host override.
func urlReport() *api.Reachability {
	return &api.Reachability{
		TypeMeta: api.TypeMeta{APIVersion: api.APIVersion, Kind: api.KindReachability},
		Source:   api.Workload{Namespace: "demo", Name: "client-0", IP: "10.1.1.1", Dataplane: "none"},
		Destination: &api.Workload{
			Namespace: "demo", Name: "web-0", IP: "10.1.2.3", Dataplane: "sidecar", IstioVersion: "1.30",
			PeerAuthentication: "PeerAuthentication istio-system/default: PERMISSIVE",
		},
		Target: &api.Target{URL: "http://10.1.2.3:8080/healthz", Scheme: "http", Host: "web"},
		Mesh:   api.Mesh{OutboundTrafficPolicy: "REGISTRY_ONLY", RootNamespace: "istio-system", ClusterDomain: "cluster.local"},
		Requests: []api.Request{{
			Address: "10.1.2.3", Port: 8080, Host: "web", Path: "/healthz", Protocol: "HTTP", Traffic: "http",
			Form: "pod-ip", ResolvedIPs: []string{"10.1.2.3"}, DialedIP: "10.1.2.3",
			Captured: false, KubeProxy: "no Service IP: straight to the pod",
			TLS:       api.TLSPlaintext,
			Upstream:  &api.Upstream{Pod: "demo/web-0", IP: "10.1.2.3", Port: 8080},
			Inbound:   &api.Inbound{Pod: "demo/web-0", Port: 8080, Captured: true, Mode: "PERMISSIVE", FilterChain: "0.0.0.0_8080", Accepted: true},
			Balancing: api.BalancingNone, Verdict: api.VerdictReaches, Reaches: "web-0",
			ReachesTarget: &api.Reaches{Kind: api.ReachesPod, Pod: "demo/web-0"},
			Steps: []api.Step{
				{Stage: api.StageResolve, Proxy: "dns", Name: "10.1.2.3", Result: api.StepPass},
				{Stage: api.StageCapture, Proxy: "demo/client-0", Name: "not captured", Detail: "the source pod has no sidecar", Result: api.StepPass},
				{Stage: api.StageKubeProxy, Proxy: "kube-proxy", Detail: "no Service IP: straight to the pod", Result: api.StepPass},
				{Stage: api.StageClientTLS, Proxy: "demo/client-0", Name: "plaintext", Result: api.StepPass},
				{Stage: api.StageInbound, Proxy: "demo/web-0", Name: "0.0.0.0_8080 (PERMISSIVE)", Result: api.StepPass},
				{Stage: api.StageVerdict, Name: "web-0", Result: api.StepPass},
			},
		}},
		Summary: api.Summary{Requests: 1, Reaching: 1},
	}
}

// urlFailsReport is the URL form failing at the destination proxy: a pod-IP
// request leaving the SRC sidecar through PassthroughCluster in plaintext
// toward a STRICT pod.
func urlFailsReport() *api.Reachability {
	r := matrixReport()
	q := r.Requests[2]
	q.Path = "/healthz"
	r.Ports = nil
	r.Target = &api.Target{URL: "http://10.1.2.3:8080/healthz", Scheme: "http"}
	r.Requests = []api.Request{q}
	r.Summary = api.Summary{Requests: 1, Failing: 1}
	return r
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name   string
		report *api.Reachability
		format string
		opts   Options
	}{
		{"matrix-table", matrixReport(), FormatTable, Options{}},
		{"matrix-wide", matrixReport(), FormatWide, Options{}},
		{"matrix-color", matrixReport(), FormatTable, Options{Color: true}},
		{"matrix-json", matrixReport(), FormatJSON, Options{}},
		{"matrix-yaml", matrixReport(), FormatYAML, Options{}},
		{"url-table", urlReport(), FormatTable, Options{}},
		{"url-wide", urlReport(), FormatWide, Options{}},
		{"url-json", urlReport(), FormatJSON, Options{}},
		{"matrix-dot", matrixReport(), FormatDot, Options{}},
		{"url-dot", urlReport(), FormatDot, Options{}},
		{"url-fails-dot", urlFailsReport(), FormatDot, Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Print(&buf, tc.report, tc.format, tc.opts); err != nil {
				t.Fatalf("Print: %v", err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/render -update)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("output differs from %s (run go test ./pkg/render -update to accept)\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestTableLayout(t *testing.T) {
	var buf bytes.Buffer
	if err := Table(&buf, matrixReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing blank in %q", line)
		}
		if strings.ContainsAny(line, "│┌└├─|") {
			t.Errorf("border character in %q", line)
		}
	}
	for _, want := range []string{
		"ADDRESS ", " REACHES ", " BALANCING ", " mTLS ", " RESULT",
		`PORT 8080 "http" (Service demo/web port http; headless → HTTP)`,
		"10.1.2.3:8080  (Host: 10.1.2.3)",
		"none (pinned)", "none (dialed IP)",
		"FAILS: 503 upstream connect error",
		"  why: Host 10.1.2.3 matches no virtual host",
		"  fix: call web-0.web.demo.svc.cluster.local:8080",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Warning") || strings.Contains(out, "forbidden") {
		t.Errorf("warnings belong on stderr, not in the table:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes without Options.Color:\n%q", out)
	}
	// why:/fix: follow the failing row directly.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.Contains(l, "FAILS") && !strings.HasPrefix(lines[i+1], "  why: ") {
			t.Errorf("line after a failing row is %q, want a why: line", lines[i+1])
		}
	}
}

// Consecutive failing rows with the same reasons and fixes share one copy of
// the notes, under the last row; different notes are all printed.
func TestSharedNotes(t *testing.T) {
	r := matrixReport()
	fail := r.Requests[2]
	other := fail
	other.Address = "10.1.2.4"
	same := fail
	same.Address = "web-0.web"
	different := fail
	different.Address = "web-0.web.demo"
	another := api.Reason{Message: "another reason"}
	different.Reasons = []api.Reason{another}
	different.Steps = []api.Step{{Stage: api.StageInbound, Result: api.StepFail, Reason: &another}}
	r.Requests = []api.Request{same, fail, different, r.Requests[0], other}
	r.Ports = r.Ports[:1]

	var buf bytes.Buffer
	if err := Table(&buf, r, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, "why: Host 10.1.2.3 matches"); n != 2 {
		t.Errorf("the shared reason is printed %d times, want 2 (once for the pair, once for the last row):\n%s", n, out)
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "web-0.web:8080") && !strings.HasPrefix(lines[i+1], "10.1.2.3:8080") {
			t.Errorf("the first of two identical failing rows should be followed by the second:\n%s", out)
		}
	}
	if !strings.Contains(out, "why: another reason") {
		t.Errorf("different notes missing:\n%s", out)
	}
}

func TestColor(t *testing.T) {
	var buf bytes.Buffer
	if err := Table(&buf, matrixReport(), Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, ansiGreen+"ok"+ansiReset) || !strings.Contains(out, ansiRed+"FAILS") {
		t.Errorf("want green ok and red FAILS:\n%q", out)
	}
}

func TestEscapesTerminalSequences(t *testing.T) {
	r := urlReport()
	r.Source.Name = "evil\x1b[2Jpod"
	r.Requests[0].Verdict = api.VerdictFails
	r.Requests[0].Symptom = "boom\x1b[31m\nsecond line"
	r.Requests[0].Reasons = []api.Reason{{Message: "why\x1b]0;title\x07"}}
	var buf bytes.Buffer
	if err := Table(&buf, r, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Errorf("raw escape sequence reached the output:\n%q", buf.String())
	}
	if !strings.Contains(buf.String(), "FAILS: boom^[[31m second line") {
		t.Errorf("symptom not flattened to one line:\n%s", buf.String())
	}
}

func TestJSONContract(t *testing.T) {
	for _, f := range []string{FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := Print(&buf, matrixReport(), f, Options{}); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if f == FormatYAML {
			var err error
			if b, err = yaml.YAMLToJSON(b); err != nil {
				t.Fatal(err)
			}
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m["apiVersion"] != "podreach.dev/v1alpha1" || m["kind"] != "Reachability" {
			t.Errorf("%s: apiVersion/kind = %v/%v", f, m["apiVersion"], m["kind"])
		}
		reqs, _ := m["requests"].([]any)
		if len(reqs) != 4 {
			t.Fatalf("%s: %d requests, want 4", f, len(reqs))
		}
		first := reqs[0].(map[string]any)
		for _, k := range []string{"address", "port", "host", "protocol", "resolvedIPs", "outbound", "tls", "inbound", "balancing", "verdict"} {
			if _, ok := first[k]; !ok {
				t.Errorf("%s: request lacks %q", f, k)
			}
		}
	}
	var buf bytes.Buffer
	_ = JSON(&buf, matrixReport())
	if !strings.HasPrefix(buf.String(), "{\n  \"apiVersion\"") {
		t.Errorf("JSON is not indented by two spaces:\n%s", buf.String()[:40])
	}
	if strings.Contains(buf.String(), `\u003e`) || strings.Contains(buf.String(), `\u0026`) {
		t.Error("JSON escapes HTML characters")
	}
}

func TestUnknownFormat(t *testing.T) {
	err := Print(&bytes.Buffer{}, urlReport(), "xml", Options{})
	if err == nil || !strings.Contains(err.Error(), "table, wide, json, yaml") {
		t.Errorf("err = %v", err)
	}
}

// The graph is valid DOT as far as a reader can tell without Graphviz:
// balanced braces and quotes, one statement per line, and the failure drawn
// as a red edge labelled with the symptom, into a red inbound node.
func TestDot(t *testing.T) {
	var buf bytes.Buffer
	if err := Dot(&buf, urlFailsReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "digraph podreach {\n") || !strings.HasSuffix(out, "}\n") {
		t.Errorf("not a digraph:\n%s", out)
	}
	if strings.Count(out, "{") != strings.Count(out, "}") {
		t.Errorf("unbalanced braces:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := strings.Count(line, `"`) - strings.Count(line, `\"`); n%2 != 0 {
			t.Errorf("unbalanced quotes in %q", line)
		}
	}
	for _, want := range []string{
		`label="listener 0.0.0.0_8080"`,
		`label="cluster PassthroughCluster\nORIGINAL_DST"`,
		`"cluster:PassthroughCluster" -> "inbound:demo/web-0:8080::false" [label="plaintext → 10.1.2.3:8080\nFAILS: 503 upstream connect error`,
		`color=red, fontcolor=red, penwidth=2`,
		`[label="inbound (STRICT)", color=red, fontcolor=red]`,
		`"app:demo/client-5d8f7c9b4-x2x7q" -> "listener:0.0.0.0_8080" [label="10.1.2.3:8080 (Host: 10.1.2.3)"]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dot lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "app:demo/web-0") {
		t.Errorf("a request rejected by the DST proxy must not reach the DST app:\n%s", out)
	}

	// Names from the cluster cannot break out of a quoted string.
	r := urlReport()
	r.Source.Name = "evil\"]; x -> y [label=\"\\\n"
	buf.Reset()
	if err := Dot(&buf, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "x -> y") && !strings.Contains(buf.String(), `evil\"]; x -> y [label=\"\\`) {
		t.Errorf("unescaped name:\n%s", buf.String())
	}
}

// An ok that something unread could still refuse says what was not read.
func TestOkQualifiedByWhatWasNotRead(t *testing.T) {
	ok := api.Request{Verdict: api.VerdictReaches}
	for _, c := range []struct {
		name string
		q    api.Request
		want string
	}{
		{"settled", ok, "ok"},
		{"authorization not read", withInbound(ok, api.AuthzUnknown), "ok (AuthorizationPolicies not read)"},
		{"waypoint unknown", withAmbient(ok, true), "ok if no waypoint refuses it (Gateways not read)"},
		{"waypoint known", withAmbient(ok, false), "ok"},
	} {
		if got := resultCell(c.q); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func withInbound(q api.Request, d api.AuthzDecision) api.Request {
	q.Inbound = &api.Inbound{Authorization: &api.Authorization{Decision: d}}
	return q
}

func withAmbient(q api.Request, unknown bool) api.Request {
	q.Ambient = &api.RequestAmbient{Path: api.AmbientPathHBONE, WaypointUnknown: unknown}
	return q
}
