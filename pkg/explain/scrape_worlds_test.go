package explain_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
)

// updateScrape is the package's -update flag (defined by prove_test.go,
// which this external test package shares a binary with): it also rewrites
// testdata/scrape from the current targets.
func updateScrape() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestScrapeTargetsOfExamples pins the targets derived for the example
// worlds' --scrape lines in testdata/scrape/WORLD.txt (one line per target:
// pod, URL, origins); regenerate with go test ./pkg/explain -update.
func TestScrapeTargetsOfExamples(t *testing.T) {
	qs, err := examples.WithQuery("--scrape")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		w, args := q.World, q.Args
		t.Run(w.Name, func(t *testing.T) {
			src, err := podref.Parse(args[0], "default")
			if err != nil {
				t.Fatal(err)
			}
			var nss []string // -A
			if !slices.Contains(args, "-A") {
				nss = []string{src.Namespace}
			}
			res, err := inspect.NewFileReader([]string{filepath.Join("..", "..", "examples", w.File)}, nil).
				Read(context.Background(), inspect.Request{Source: src, Scrape: &inspect.ScrapeScope{Namespaces: nss}})
			if err != nil {
				t.Fatal(err)
			}
			targets, err := explain.ScrapeTargets(res.Snapshot, res.Source, nss)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, tg := range targets {
				var origins []string
				for _, o := range tg.Origins {
					origins = append(origins, o.String())
				}
				b.WriteString(tg.Pod.String() + " " + tg.URL + " " + strings.Join(origins, "; ") + "\n")
			}
			golden := filepath.Join("testdata", "scrape", w.Name+".txt")
			if updateScrape() {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("targets differ from %s:\n got:\n%s\nwant:\n%s", golden, b.String(), want)
			}
		})
	}
	if len(qs) < 2 {
		t.Errorf("%d example worlds with a --scrape line, want the annotation and the monitor worlds", len(qs))
	}
}
