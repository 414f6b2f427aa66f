package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/podreach/kubectl-podreach/examples"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// scrapeWorlds are the example worlds whose `# podreach:` lines include a
// --scrape run.
func scrapeWorlds(t *testing.T) map[string][]string {
	t.Helper()
	qs, err := examples.WithQuery("--scrape")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, q := range qs {
		out[worldPath(q.World)] = q.Args
	}
	return out
}

// Every report of a --scrape run is the report of the single URL query for
// the same SRC and target: the run only lists targets, it answers nothing
// on its own.
func TestScrapeAgreesWithSinglePairs(t *testing.T) {
	isolate(t)
	ws := scrapeWorlds(t)
	if len(ws) < 2 {
		t.Fatalf("%d worlds with a --scrape line, want the annotation and the monitor worlds", len(ws))
	}
	for file, args := range ws {
		t.Run(file, func(t *testing.T) {
			r := runCmd(t, append(slices.Clone(args), "-f", file, "-o", "json")...)
			if r.code != exitOK && r.code != exitFails {
				t.Fatalf("exit %d: %s", r.code, r.errOut)
			}
			reports := decodeStream(t, r.out)
			if len(reports) < 3 {
				t.Fatalf("%d scrape targets, want several", len(reports))
			}
			fails := false
			for _, rep := range reports {
				single := runCmd(t, rep.Source.Namespace+"/"+rep.Source.Name, rep.Target.URL, "-f", file, "-o", "json")
				want := decodeStream(t, single.out)
				got := rep.DeepCopy()
				if got.Target != nil {
					got.Target.Origins = nil
				}
				// Compared as compact JSON: a merge patch (json.RawMessage)
				// keeps the indentation of where it was printed.
				if len(want) != 1 || compactJSON(t, got) != compactJSON(t, want[0]) {
					t.Errorf("%s: the --scrape report differs from the single query's", rep.Target.URL)
				}
				for _, q := range rep.Requests {
					fails = fails || q.Verdict == api.VerdictFails
				}
			}
			if want := map[bool]int{true: exitFails, false: exitOK}[fails]; r.code != want {
				t.Errorf("exit %d, the reports say %d", r.code, want)
			}
			for _, rep := range reports {
				if rep.Target == nil || len(rep.Target.Origins) == 0 {
					t.Errorf("%v: no target.origins", rep.Target)
				}
			}
		})
	}
}

// decodeStream reads a report: the items of a ReachabilityList (--scrape),
// or the one Reachability of a single query (whose origins are cleared: the
// single form does not know where a URL came from).
func decodeStream(t *testing.T, s string) []*api.Reachability {
	t.Helper()
	var head struct{ Kind string }
	if err := json.Unmarshal([]byte(s), &head); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, s)
	}
	if head.Kind == api.KindReachability {
		r := &api.Reachability{}
		if err := json.Unmarshal([]byte(s), r); err != nil {
			t.Fatal(err)
		}
		return []*api.Reachability{r}
	}
	var l api.ReachabilityList
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatalf("not a ReachabilityList: %v\n%s", err, s)
	}
	out := make([]*api.Reachability, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

// -n bounds the targets to one namespace (SRC named with its own); -A
// takes them all.
func TestScrapeNamespaceScope(t *testing.T) {
	isolate(t)
	for file, args := range scrapeWorlds(t) {
		all := decodeStream(t, runCmd(t, args[0], "--scrape", "-A", "-f", file, "-o", "json").out)
		shop := decodeStream(t, runCmd(t, args[0], "--scrape", "-n", "shop", "-f", file, "-o", "json").out)
		if len(shop) == 0 || len(shop) >= len(all) {
			t.Errorf("%s: %d targets in shop, %d in all namespaces", file, len(shop), len(all))
		}
		for _, r := range shop {
			if r.Destination == nil || r.Destination.Namespace != "shop" {
				t.Errorf("%s: -n shop traced %s", file, r.Target.URL)
			}
		}
		none := runCmd(t, args[0], "--scrape", "-n", "kube-system", "-f", file)
		if none.code != exitOK || none.out != "" || !strings.Contains(none.errOut, "No scrape targets") {
			t.Errorf("%s: no targets in kube-system: exit %d, stdout %q, stderr %q", file, none.code, none.out, none.errOut)
		}
	}
}

func compactJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
