package oracle

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// TestIstioAuthz checks the Istio side of the authorization comparison on
// small worlds whose decisions were worked out by hand from Istio's and
// Envoy's documented semantics (testdata/authz-*.yaml, "# expect:" lines):
// the filter chain the simulation matched, istiod's RBAC / ext_authz
// filters read from it, and the evaluator's decision. It lists Envoy's
// decision for every request, and fails on any other difference between
// our report and Istio (the worlds must be sound) except the authorization
// fields, which are the engine's to match.
func TestIstioAuthz(t *testing.T) {
	files, err := filepath.Glob("testdata/authz-*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/authz-*.yaml: %v", err)
	}
	for _, f := range files {
		w, err := loadWorld(f)
		if err != nil {
			t.Fatal(err)
		}
		expects, err := expectLines(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(w.Name, func(t *testing.T) {
			is := newIstio(t, w)
			seen := map[string]bool{}
			eachRequest(t, is, w, func(qi int, q []string, r api.Request, c comparison) {
				key := fmt.Sprintf("%d %s:%d", qi+1, r.Address, r.Port)
				for _, d := range c.diffs {
					if strings.HasPrefix(d.field, "authz.") {
						// The engine's to match (TestDifferential); listed here.
						t.Logf("%s | %s: %s ours %q Istio %q", key, strings.Join(q, " "), d.field, d.ours, d.istio)
						continue
					}
					t.Errorf("%s | %s: %s ours %q Istio %q", key, strings.Join(q, " "), d.field, d.ours, d.istio)
				}
				got := "(no sidecar chain)"
				if c.authz != nil {
					got = c.authz.describe()
				}
				t.Logf("%-36s %-55s %s", key, got, c.authzChain)
				want, ok := expects[key]
				if !ok {
					return
				}
				seen[key] = true
				if c.authz == nil {
					t.Errorf("%s: want %s, the request reaches no sidecar chain", key, want)
					return
				}
				if s := c.authz.brief(); s != want {
					t.Errorf("%s | %s:\n    want %s\n    got  %s (%s)", key, strings.Join(q, " "), want, s, c.authz.describe())
				}
			})
			for k, v := range expects {
				if !seen[k] {
					t.Errorf("expect %s %s: no such request", k, v)
				}
			}
		})
	}
}

// brief is the "# expect:" form: decision [ACTION [NS/NAME#rule]].
func (a istioAuthz) brief() string {
	s := a.Decision
	if a.Action != "" {
		s += " " + a.Action
	}
	if p, rule, _, ok := parsePolicyName(a.Policy); ok {
		s += " " + p + "#" + strconv.Itoa(rule)
	}
	return s
}

// expectLines reads "# expect: QUERY ADDRESS:PORT DECISION [ACTION [NS/NAME#rule]]".
func expectLines(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# expect:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			return nil, fmt.Errorf("%s: bad expect line %q", path, sc.Text())
		}
		out[f[0]+" "+f[1]] = strings.Join(f[2:], " ")
	}
	return out, sc.Err()
}
