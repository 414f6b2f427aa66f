package explain

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

var updateFixes = flag.Bool("update", false, "rewrite testdata/charts/fixes.golden")

// proofWorlds are the worlds whose fixes are checked: the examples, the
// chart layouts of testdata/charts.
func proofWorlds(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, glob := range []string{"../../examples/*.yaml", "testdata/charts/*.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

// TestEveryFixReaches applies every fix of every failing request of every
// proof world independently of the proof — the patch through
// snapshot.PatchOverlay and Snapshot.Apply (what --with does), the dial as
// a URL query — explains again and asserts that the request then reaches.
// A fix must be a concrete change, verified, and a dial must not name the
// address that failed.
func TestEveryFixReaches(t *testing.T) {
	fixes := 0
	for _, world := range proofWorlds(t) {
		for _, wq := range worldPairQueries(t, world) {
			line := wq.line
			rep, err := Explain(wq.snap, wq.q)
			if err != nil {
				t.Fatalf("%s %s: %v", world, line, err)
			}
			for _, r := range rep.Requests {
				if r.Verdict != api.VerdictFails {
					if len(r.Fixes) > 0 {
						t.Errorf("%s %s: %s:%d reaches but has fixes", world, line, r.Address, r.Port)
					}
					continue
				}
				for _, fx := range r.Fixes {
					fixes++
					where := fmt.Sprintf("%s [%s] %s:%d fix %q", filepath.Base(world), line, r.Address, r.Port, fx.Message)
					if !fx.Verified && slices.Contains(fx.Requires, api.RequiresCertificates) {
						continue // beyond the model, and says so
					}
					if !fx.Verified || (fx.Patch == nil && fx.Dial == nil) {
						t.Errorf("%s: not a verified concrete change: %+v", where, fx)
						continue
					}
					if d := fx.Dial; d != nil && d.Address == r.Address && d.Port == r.Port && d.Host == "" && d.Path == "" {
						t.Errorf("%s: dials the address that failed", where)
					}
					if got := refixed(t, wq, r, fx); got != "" {
						t.Errorf("%s: with the fix applied: %s", where, got)
					}
				}
			}
		}
	}
	if fixes == 0 {
		t.Fatal("no fix checked")
	}
	t.Logf("%d fixes checked", fixes)
}

// refixed applies fx on its own and returns why the request still fails
// ("" when it reaches).
func refixed(t *testing.T, wq worldQuery, r api.Request, fx api.Fix) string {
	t.Helper()
	s := wq.snap
	if fx.Patch != nil {
		patches := []snapshot.ObjectPatch{objectPatch(fx.Patch)}
		for i := range fx.Also {
			patches = append(patches, objectPatch(&fx.Also[i]))
		}
		if fx.Requires != nil {
			return "" // the effect needs a restart or the CNI, which the proof models itself (TestInjectFixModelsTheRestart, TestAmbientEnrolFixModelsTheCNI)
		}
		o, err := s.PatchOverlay(patches...)
		if err != nil {
			return err.Error()
		}
		if s, err = s.Apply(o); err != nil {
			return err.Error()
		}
	}
	q := wq.q
	q.Traffic = r.Traffic // the app sends what it sent, whatever the fix declares
	addr, port, host := r.Address, r.Port, r.Host
	if d := fx.Dial; d != nil {
		addr, port, host = d.Address, d.Port, d.Host
		scheme := "tcp"
		if r.Traffic == api.TrafficHTTP {
			scheme = "http"
		}
		path := d.Path
		target, err := podref.ParseTarget(fmt.Sprintf("%s://%s/%s", scheme, hostPort(addr, port), strings.TrimPrefix(path, "/")), nil)
		if err != nil {
			return err.Error()
		}
		if host != "" {
			target.SetHeader(podref.Header{Name: "Host", Value: host})
		}
		q.Target, q.Destination, q.Ports = target, nil, nil
	}
	rep, err := Explain(s, q)
	if err != nil {
		return err.Error()
	}
	for _, r2 := range rep.Requests {
		if fx.Dial == nil && (r2.Address != addr || r2.Port != port || r2.Host != host) {
			continue
		}
		if r2.Verdict == api.VerdictFails {
			var codes []string
			for _, rs := range r2.Reasons {
				codes = append(codes, string(rs.Code))
			}
			return "fails: " + strings.Join(codes, ", ")
		}
		return ""
	}
	return "the request is no longer examined"
}

// TestChartFixesGolden pins, for the chart layouts, every failing request
// and the fixes the proof keeps (testdata/charts/fixes.golden; go test
// ./pkg/explain -update rewrites it), so that a fix appearing or
// disappearing is a reviewed change.
func TestChartFixesGolden(t *testing.T) {
	var b strings.Builder
	worlds, _ := filepath.Glob("testdata/charts/*.yaml")
	for _, world := range worlds {
		for _, wq := range worldPairQueries(t, world) {
			line := wq.line
			rep, err := Explain(wq.snap, wq.q)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "== %s: %s (%d requests, %d fail)\n", filepath.Base(world), line, rep.Summary.Requests, rep.Summary.Failing)
			for _, r := range rep.Requests {
				if r.Verdict != api.VerdictFails {
					continue
				}
				fmt.Fprintf(&b, "%s:%d FAILS", r.Address, r.Port)
				for _, rs := range r.Reasons {
					fmt.Fprintf(&b, " %s", rs.Code)
				}
				b.WriteString("\n")
				if len(r.Fixes) == 0 {
					b.WriteString("  (no proven fix)\n")
				}
				for _, fx := range r.Fixes {
					fmt.Fprintf(&b, "  fix: %s\n", fx.Message)
					if p := fx.Patch; p != nil {
						fmt.Fprintf(&b, "    patch %s %s/%s create=%t %s\n", p.Kind, p.Namespace, p.Name, p.Create, p.MergePatch)
					}
					for _, p := range fx.Also {
						fmt.Fprintf(&b, "    also %s %s/%s %s\n", p.Kind, p.Namespace, p.Name, p.MergePatch)
					}
					if d := fx.Dial; d != nil {
						fmt.Fprintf(&b, "    dial %s:%d host=%q path=%q\n", d.Address, d.Port, d.Host, d.Path)
					}
					if len(fx.Requires) > 0 {
						fmt.Fprintf(&b, "    requires %v\n", fx.Requires)
					}
				}
			}
		}
	}
	golden := filepath.Join("testdata", "charts", "fixes.golden")
	if *updateFixes {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFile(t, golden)
	if b.String() != want {
		t.Errorf("%s differs (go test ./pkg/explain -update to accept); got:\n%s", golden, b.String())
	}
}

// TestInjectFixModelsTheRestart: injecting a caller needs a restart; the
// proof traces the caller as the injector would leave it, and the fix says
// it requires a restart.
func TestInjectFixModelsTheRestart(t *testing.T) {
	rep := explainChart(t, "prometheus.yaml", "monitoring/prometheus-0 shop/orders-0 --port 9102")
	for _, r := range rep.Requests {
		for _, fx := range r.Fixes {
			if fx.Patch != nil && fx.Patch.Kind == "Namespace" {
				if len(fx.Requires) != 1 || fx.Requires[0] != api.RequiresRestart {
					t.Errorf("%s: requires %v, want [restart]", fx.Message, fx.Requires)
				}
			}
		}
	}
}
