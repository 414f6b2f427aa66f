package explain

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// worldQuery is one `# podreach: SRC DST [--port P] [--traffic T]` line of
// a world file, resolved against the world.
type worldQuery struct {
	line string
	snap *snapshot.Snapshot
	q    Query
}

// loadQuery reads world (a -f file) and resolves one query line as the
// command would.
func loadQuery(t testing.TB, world, line string) worldQuery {
	t.Helper()
	args := strings.Fields(line)
	var pos []string
	q := Query{}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--port":
			i++
			p, err := podref.ParsePort(args[i])
			if err != nil {
				t.Fatal(err)
			}
			q.Ports = append(q.Ports, p)
		case "--traffic":
			i++
			tr, err := podref.ParseTraffic(args[i])
			if err != nil {
				t.Fatal(err)
			}
			q.Traffic = tr
		default:
			pos = append(pos, args[i])
		}
	}
	src, err := podref.Parse(pos[0], "default")
	if err != nil {
		t.Fatal(err)
	}
	req := inspect.Request{Source: src}
	if podref.IsTarget(pos[1]) {
		if q.Target, err = podref.ParseTarget(pos[1], nil); err != nil {
			t.Fatal(err)
		}
		req.TargetHost = q.Target.Host
	} else {
		d, err := podref.Parse(pos[1], "default")
		if err != nil {
			t.Fatal(err)
		}
		req.Destination = &d
	}
	res, err := inspect.NewFileReader([]string{world}, nil).Read(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", world, err)
	}
	q.Source = res.Source
	if q.Target == nil {
		q.Destination = res.Destination
	}
	return worldQuery{line: line, snap: res.Snapshot, q: q}
}

// worldQueries lists the `# podreach:` lines of a world file.
func worldQueries(t *testing.T, path string) []string {
	t.Helper()
	data := readFile(t, path)
	var out []string
	for _, l := range strings.Split(data, "\n") {
		if q, ok := strings.CutPrefix(l, "# podreach: "); ok {
			out = append(out, q)
		}
	}
	return out
}

func explainChart(t *testing.T, world, line string) *api.Reachability {
	t.Helper()
	wq := loadQuery(t, filepath.Join("testdata", "charts", world), line)
	rep, err := Explain(wq.snap, wq.q)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
