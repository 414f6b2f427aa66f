package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/test/e2e/harness"
)

// TestScrape runs each example world's `--scrape` line against the API
// server (the monitors read through the dynamic client, the pods of every
// namespace with -A), as the admin and as a user holding only the README's
// ClusterRole, and requires the reports, warnings and exit status of the -f
// run of the same world.
func TestScrape(t *testing.T) {
	c := shared(t)
	role := readmeRole(t)
	bindUsers(t, c, role)
	qs, err := examples.WithQuery("--scrape")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		w, args := q.World, q.Args
		t.Run(w.Name, func(t *testing.T) {
			objs, err := harness.LoadYAML(w.Data)
			if err != nil {
				t.Fatal(err)
			}
			applyUntilCleanup(t, c, objs)
			reader := requireLiveEqualsFile(t, c, role, w.File, args, func(want result) {
				if len(listItems(t, want.stdout)) < 3 {
					t.Fatalf("the -f run did not list the scrape targets:\n%s", want)
				}
			})
			if !strings.Contains(reader.stderr, "/apis/monitoring.coreos.com/v1/podmonitors") {
				t.Errorf("the live run did not list PodMonitors:\n%s", reader.stderr)
			}
		})
	}
	if len(qs) < 2 {
		t.Errorf("%d worlds with a --scrape line", len(qs))
	}
}

// listItems are the items of a ReachabilityList.
func listItems(t *testing.T, s string) []any {
	t.Helper()
	var l struct {
		Kind  string `json:"kind"`
		Items []any  `json:"items"`
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil || l.Kind != "ReachabilityList" {
		t.Fatalf("not a ReachabilityList (%v):\n%s", err, truncate(s, 2000))
	}
	return l.Items
}
