package explain_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
)

// explainFile runs a URL query against a world under testdata/.
func explainFile(t *testing.T, file, src, target string) *api.Reachability {
	t.Helper()
	return explainPath(t, filepath.Join("testdata", file), src, target)
}

// explainPath runs a URL query against the world file at path.
func explainPath(t *testing.T, path, src, target string) *api.Reachability {
	t.Helper()
	s, err := podref.Parse(src, "default")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := podref.ParseTarget(target, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := inspect.NewFileReader([]string{path}, nil).
		Read(context.Background(), inspect.Request{Source: s, TargetHost: tg.Host})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := explain.Explain(res.Snapshot, explain.Query{Source: res.Source, Target: tg})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestControlPlane: during a canary upgrade each pod is served by its
// revision's istiod, whose version and flags decide the istiod rules; the
// report names it and warns on skew, unverified versions and a revision no
// istiod serves.
func TestControlPlane(t *testing.T) {
	const world = "controlplane-canary.yaml"
	tests := []struct {
		src          string
		controlPlane string
		revision     string
		version      string
		// The trailing-dot FQDN is a virtual-host domain from 1.27 unless
		// PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN=false (the default revision's istiod sets it).
		absoluteVhost string
		warnings      []string // substrings, in order
	}{
		{"app/client", "istio-system/istiod-canary-7c8d9e6f5-fghij", "canary", "1.31", "web.shop.svc.cluster.local:80", nil},
		{"shop/web-0", "istio-system/istiod-6d9f7c5b8-abcde", "default", "1.30", "allow_any", []string{
			"control plane istio-system/istiod-6d9f7c5b8-abcde runs Istio 1.30.2: podreach's model is verified against Istio 1.27, 1.31 only",
			"pod shop/web-0 runs istio-proxy 1.29.1"}},
		{"shop/legacy-0", "istio-system/istiod-6d9f7c5b8-abcde", "default", "1.30", "allow_any", []string{
			"runs Istio 1.30.2", "pod shop/legacy-0 runs istio-proxy 1.28.0: podreach's model is verified",
			"pod shop/legacy-0 runs istio-proxy 1.28.0 but its control plane istio-system/istiod-6d9f7c5b8-abcde runs 1.30.2: Istio supports a control plane at most one minor ahead"}},
		{"shop/orphan-0", "", "stable", "1.31", "", []string{`pod shop/orphan-0 is served by revision "stable", but no istiod pod of that revision was read`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			rep := explainFile(t, world, tt.src, "http://web.shop.svc.cluster.local./")
			m := rep.Mesh
			if m.ControlPlane != tt.controlPlane || m.Revision != tt.revision || m.IstioVersion != tt.version {
				t.Errorf("mesh controlPlane %q revision %q istioVersion %q; want %q %q %q", m.ControlPlane, m.Revision, m.IstioVersion, tt.controlPlane, tt.revision, tt.version)
			}
			if len(m.ControlPlanes) != 2 || !slices.Equal(m.ControlPlanes[0].Flags, []string{"PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN=false"}) {
				t.Errorf("controlPlanes %+v", m.ControlPlanes)
			}
			if rep.Source.Revision != tt.revision || rep.Source.ControlPlane != tt.controlPlane {
				t.Errorf("source revision %q controlPlane %q", rep.Source.Revision, rep.Source.ControlPlane)
			}
			if tt.absoluteVhost != "" {
				if o := rep.Requests[0].Outbound; o == nil || o.VirtualHost != tt.absoluteVhost {
					t.Errorf("outbound %+v, want virtual host %s", o, tt.absoluteVhost)
				}
			}
			if len(rep.Warnings) != len(tt.warnings) {
				t.Fatalf("warnings %q, want %d", rep.Warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(rep.Warnings[i], w) {
					t.Errorf("warning %d %q, want it to say %q", i, rep.Warnings[i], w)
				}
			}
		})
	}
}

// TestAmbientVersionWarnings: ambient answers are verified against 1.31
// only (istiod's ambient index and ztunnel's cases run there): an ambient
// pod under another control plane, or on a node whose ztunnel runs another
// minor, gets a warning that says so; at 1.31, none.
func TestAmbientVersionWarnings(t *testing.T) {
	data, err := os.ReadFile("../../examples/ambient-podip.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const src, target = "data/client-7c9d8b6f5-abcde", "tcp://db-1.db.data.svc.cluster.local:5432"
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"1.31", "", "", ""},
		{"istiod 1.27", "istio/pilot:1.31.0", "istio/pilot:1.27.9", "ambient mode under a control plane of Istio 1.27: podreach's ambient answers are verified against Istio 1.31 only"},
		{"ztunnel 1.30", "istio/ztunnel:1.31.0", "istio/ztunnel:1.30.2", "runs 1.30.2: podreach's ambient answers are verified against Istio 1.31 only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "world.yaml")
			if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(data), c.from+"\n", c.to+"\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.from == "" {
				path = "../../examples/ambient-podip.yaml"
			}
			rep := explainPath(t, path, src, target)
			var got []string
			for _, w := range rep.Warnings {
				if strings.Contains(w, "ambient answers are verified") {
					got = append(got, w)
				}
			}
			switch {
			case c.want == "" && len(got) > 0:
				t.Errorf("unexpected warnings %q", got)
			case c.want != "" && len(got) == 0:
				t.Errorf("no ambient version warning, want %q", c.want)
			}
			for _, w := range got {
				if !strings.Contains(w, c.want) {
					t.Errorf("warning %q, want %q", w, c.want)
				}
			}
		})
	}
}

// TestAmbientEdges: ztunnel paths found by review, each a wrong answer or a
// crash before: STATIC ServiceEntries are balanced over their endpoints (no
// endpoint: no healthy upstream; the endpoint's policy applies), and an
// endpoint that is no pod is plain TCP.
func TestAmbientEdges(t *testing.T) {
	for _, c := range []struct {
		file, target string
		verdict      api.Verdict
		path         api.AmbientPath
		upstreamPod  string
	}{
		{"ambient-serviceentries.yaml", "tcp://240.1.1.1:5432", api.VerdictFails, "", ""},
		{"ambient-serviceentries.yaml", "tcp://240.1.1.2:5432", api.VerdictFails, api.AmbientPathHBONE, "data/db-"},
		{"ambient-selectorless-service.yaml", "tcp://legacy.data:5432", api.VerdictReaches, api.AmbientPathTCP, ""},
	} {
		rep := explainFile(t, c.file, "data/client-7c9d8b6f5-abcde", c.target)
		if len(rep.Requests) != 1 {
			t.Fatalf("%s %s: %d requests", c.file, c.target, len(rep.Requests))
		}
		r := rep.Requests[0]
		var path api.AmbientPath
		if r.Ambient != nil {
			path = r.Ambient.Path
		}
		pod := ""
		if r.Upstream != nil {
			pod = r.Upstream.Pod
		}
		if r.Verdict != c.verdict || path != c.path || !strings.HasPrefix(pod, c.upstreamPod) || (c.upstreamPod == "" && pod != "") {
			t.Errorf("%s %s: verdict %s path %q upstream pod %q, want %s %q %q…", c.file, c.target, r.Verdict, path, pod, c.verdict, c.path, c.upstreamPod)
		}
	}
}

// TestZtunnelDown: with the ztunnel pods read and none Ready on a
// redirected pod's node, its connections are refused (SRC at ztunnel);
// with no ztunnel pod read at all, nothing is assumed, and a warning says so.
func TestZtunnelDown(t *testing.T) {
	rep := explainFile(t, "ambient-ztunnel-not-ready.yaml", "data/client-7c9d8b6f5-abcde", "tcp://10.244.2.30:5432")
	r := rep.Requests[0]
	if r.Verdict != api.VerdictFails || len(r.Reasons) == 0 || r.Reasons[0].Code != api.ReasonAmbientZtunnelDown || !strings.Contains(r.Symptom, "connection refused") {
		t.Errorf("not-ready ztunnel: verdict %s reasons %+v symptom %q, want fails AMBIENT_ZTUNNEL_DOWN, connection refused", r.Verdict, r.Reasons, r.Symptom)
	}
	rep = explainFile(t, "ambient-no-ztunnel-read.yaml", "data/client-7c9d8b6f5-abcde", "tcp://10.244.2.30:5432")
	if r := rep.Requests[0]; r.Verdict == api.VerdictFails {
		t.Errorf("no ztunnel read: verdict %s, want the path as if ztunnel ran", r.Verdict)
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || strings.Contains(w, "no ztunnel pod read")
	}
	if !found {
		t.Errorf("no ztunnel read: warnings %q lack 'no ztunnel pod read'", rep.Warnings)
	}
}
