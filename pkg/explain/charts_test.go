package explain

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

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

// lineArgs is a query line's words as the command's flags read them.
type lineArgs struct {
	pos     []string // SRC, DSTs (or the --peers workload)
	ns      string   // -n, "default" without
	sel     labels.Selector
	all     bool // -A
	peers   bool
	ports   []podref.Port
	traffic api.Traffic
	method  string // --method
}

func parseLine(t testing.TB, args []string) lineArgs {
	t.Helper()
	a := lineArgs{ns: "default"}
	for i := 0; i < len(args); i++ {
		var err error
		switch args[i] {
		case "-n":
			i++
			a.ns = args[i]
		case "-A":
			a.all = true
		case "--peers":
			a.peers = true
		case "-l":
			i++
			a.sel, err = labels.Parse(args[i])
		case "--port":
			i++
			var p podref.Port
			p, err = podref.ParsePort(args[i])
			a.ports = append(a.ports, p)
		case "--traffic":
			i++
			a.traffic, err = podref.ParseTraffic(args[i])
		case "--method":
			i++
			a.method = args[i]
		default:
			a.pos = append(a.pos, args[i])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// loadQuery reads world (a -f file) and resolves one query line as the
// command would.
func loadQuery(t testing.TB, world, line string) worldQuery {
	t.Helper()
	a := parseLine(t, strings.Fields(line))
	pos := a.pos
	q := Query{Ports: a.ports, Traffic: a.traffic, Method: a.method}
	src, err := podref.Parse(pos[0], a.ns)
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
		d, err := podref.Parse(pos[1], a.ns)
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

// worldPairQueries resolves every query line of a world into single-pair
// queries: a single form as loadQuery does; a fleet form (--peers, -l,
// -A, several DSTs) into one query per pair, as the command's fleet runner
// pairs them. --scrape lines are URL forms derived elsewhere: skipped.
func worldPairQueries(t *testing.T, world string) []worldQuery {
	t.Helper()
	var out []worldQuery
	for _, line := range worldQueries(t, world) {
		args := strings.Fields(line)
		if slices.Contains(args, "--scrape") {
			continue
		}
		if !isFleetLine(t, args) {
			out = append(out, loadQuery(t, world, line))
			continue
		}
		out = append(out, fleetPairs(t, world, line, args)...)
	}
	return out
}

func isFleetLine(t *testing.T, args []string) bool {
	a := parseLine(t, args)
	return a.peers || a.sel != nil || a.all || len(a.pos) != 2
}

// fleetPairs reads a fleet line's pods with the file reader and pairs them.
func fleetPairs(t *testing.T, world, line string, args []string) []worldQuery {
	t.Helper()
	a := parseLine(t, args)
	pos, ns, peers, ports := a.pos, a.ns, a.peers, a.ports
	sel, all := a.sel, a.all
	set := &inspect.PodSet{Selector: sel, Namespace: ns, AllNamespaces: all}
	var req inspect.Request
	start := 0
	if !peers {
		src, err := podref.Parse(pos[0], ns)
		if err != nil {
			t.Fatal(err)
		}
		req.Source, start = src, 1
	}
	for _, a := range pos[start:] {
		r, err := podref.Parse(a, ns)
		if err != nil {
			t.Fatal(err)
		}
		set.Refs = append(set.Refs, r)
	}
	if set.Selector == nil && len(set.Refs) == 0 {
		set.Selector = labels.Everything()
	}
	if peers {
		req.Peers = set
	} else {
		req.Destinations = set
	}
	res, err := inspect.NewFileReader([]string{world}, nil).Read(context.Background(), req)
	if err != nil {
		t.Fatalf("%s [%s]: %v", world, line, err)
	}
	var out []worldQuery
	add := func(src, dst snapshot.PodKey) {
		out = append(out, worldQuery{line: line + " [" + src.String() + "→" + dst.String() + "]", snap: res.Snapshot,
			q: Query{Source: src, Destination: &dst, Ports: ports}})
	}
	for _, a := range res.Members {
		if !peers {
			if a != res.Source {
				add(res.Source, a)
			}
			continue
		}
		for _, b := range res.Members {
			if a != b {
				add(a, b)
			}
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
