package explain

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// ztunnel's decisions are Rust and cannot run here: test/ztunnel/worlds
// transcribes its table-driven test cases (src/proxy/outbound.rs,
// src/proxy/inbound.rs, src/rbac.rs, src/state.rs, tests/namespaced.rs) into
// worlds. In a world's header, each `# podreach: ARGS` query is followed by
// its cases: one or more `# ztunnel: FILE::TEST @ TAG (COMMIT)` citations,
// then `# expect: address=A port=P FIELD=VALUE ...`. address/port select the
// request; FIELD is a dotted JSON path into that request (source. and
// destination. paths read the report's workloads); an empty VALUE means the
// field is absent or empty. A `# known-gap: WHY` line before an expectation
// marks a disagreement podreach accepts for now: the case must then disagree
// (when it starts to agree, the line must go).
const ztunnelWorlds = "../../test/ztunnel/worlds"

// ztunnelCase is one `# expect:` line with the ztunnel tests it transcribes.
type ztunnelCase struct {
	world, query string
	line         int
	cites        []string
	gap          string // why podreach is known to disagree, "" for none
	address      string
	port         int32
	fields       [][2]string // FIELD, VALUE in the line's order
}

func (c ztunnelCase) String() string {
	return fmt.Sprintf("%s:%d [%s] (ztunnel %s)", filepath.Base(c.world), c.line, c.query, strings.Join(c.cites, ", "))
}

var ztunnelCite = regexp.MustCompile(`^(src|tests)/[a-z_/]+\.rs::[a-z0-9_:]+ @ [0-9][0-9a-z.-]+ \([0-9a-f]{8,40}\)$`)

// parseZtunnelCases reads the query, citation and expectation lines of one
// world, and rejects a malformed or uncited case rather than skipping it.
func parseZtunnelCases(t *testing.T, world string) []ztunnelCase {
	t.Helper()
	var (
		out   []ztunnelCase
		query string
		cites []string
		gap   string
	)
	perQuery := map[string]int{}
	for i, l := range strings.Split(readFile(t, world), "\n") {
		switch {
		case strings.HasPrefix(l, "# podreach: "):
			if query != "" && perQuery[query] == 0 {
				t.Errorf("%s:%d: query %q has no # expect: line", world, i, query)
			}
			query, cites, gap = strings.TrimPrefix(l, "# podreach: "), nil, ""
		case strings.HasPrefix(l, "# known-gap: "):
			gap = strings.TrimSpace(strings.TrimPrefix(l, "# known-gap: "))
		case strings.HasPrefix(l, "# ztunnel: "):
			c := strings.TrimPrefix(l, "# ztunnel: ")
			if !ztunnelCite.MatchString(c) {
				t.Errorf("%s:%d: citation %q is not FILE::TEST @ TAG (COMMIT)", world, i+1, c)
			}
			cites = append(cites, c)
		case strings.HasPrefix(l, "# expect: "):
			c := ztunnelCase{world: world, query: query, line: i + 1, cites: cites, gap: gap}
			if query == "" || len(cites) == 0 {
				t.Errorf("%s:%d: # expect: needs a # podreach: query and a # ztunnel: citation before it", world, i+1)
			}
			for _, kv := range strings.Fields(strings.TrimPrefix(l, "# expect: ")) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Errorf("%s:%d: %q is not FIELD=VALUE", world, i+1, kv)
					continue
				}
				switch k {
				case "address":
					c.address = v
				case "port":
					p, err := strconv.ParseInt(v, 10, 32)
					if err != nil {
						t.Errorf("%s:%d: port %q: %v", world, i+1, v, err)
					}
					c.port = int32(p)
				default:
					c.fields = append(c.fields, [2]string{k, v})
				}
			}
			if c.address == "" || c.port == 0 || len(c.fields) == 0 {
				t.Errorf("%s:%d: an expectation needs address=, port= and at least one FIELD=VALUE", world, i+1)
			}
			out = append(out, c)
			perQuery[query]++
			cites, gap = nil, ""
		}
	}
	if query != "" && perQuery[query] == 0 {
		t.Errorf("%s: query %q has no # expect: line", world, query)
	}
	if len(out) == 0 {
		t.Errorf("%s: no cases", world)
	}
	return out
}

// jsonPath reads a dotted path from a decoded JSON value and renders it as
// the expectations write it ("" when absent).
func jsonPath(v any, path string) string {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// checkZtunnelCase compares one case with the report made for its query and
// returns what disagrees.
func checkZtunnelCase(c ztunnelCase, rep *api.Reachability) []string {
	b, err := json.Marshal(rep)
	if err != nil {
		return []string{err.Error()}
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return []string{err.Error()}
	}
	var req map[string]any
	var seen []string
	reqs, _ := root["requests"].([]any)
	for _, r := range reqs {
		m, _ := r.(map[string]any)
		addr, port := jsonPath(m, "address"), jsonPath(m, "port")
		seen = append(seen, addr+":"+port)
		if addr == c.address && port == strconv.Itoa(int(c.port)) {
			req = m
			break
		}
	}
	if req == nil {
		return []string{fmt.Sprintf("no request for address=%s port=%d (requests: %s)", c.address, c.port, strings.Join(seen, " "))}
	}
	var bad []string
	for _, f := range c.fields {
		var got string
		if strings.HasPrefix(f[0], "source.") || strings.HasPrefix(f[0], "destination.") {
			got = jsonPath(root, f[0])
		} else {
			got = jsonPath(req, f[0])
		}
		if got != f[1] {
			bad = append(bad, fmt.Sprintf("%s = %q, want %q", f[0], got, f[1]))
		}
	}
	return bad
}

func ztunnelWorldFiles(t *testing.T) []string {
	t.Helper()
	worlds, err := filepath.Glob(filepath.Join(ztunnelWorlds, "*.yaml"))
	if err != nil || len(worlds) == 0 {
		t.Fatalf("no ztunnel worlds under %s (%v)", ztunnelWorlds, err)
	}
	sort.Strings(worlds)
	return worlds
}

// TestZtunnelCaseFiles checks the transcription itself, engine or not: every
// world reads, every query resolves, every case cites a ztunnel test that
// test/ztunnel/README.md lists.
func TestZtunnelCaseFiles(t *testing.T) {
	readme := readFile(t, filepath.Join(ztunnelWorlds, "..", "README.md"))
	for _, world := range ztunnelWorldFiles(t) {
		queries := map[string]bool{}
		for _, c := range parseZtunnelCases(t, world) {
			for _, cite := range c.cites {
				name, _, _ := strings.Cut(cite, " @ ")
				if !strings.Contains(readme, "`"+name+"`") {
					t.Errorf("%s: test/ztunnel/README.md does not list `%s`", c, name)
				}
			}
			if !queries[c.query] {
				queries[c.query] = true
				loadQuery(t, world, c.query)
			}
		}
	}
}

// TestZtunnelCases runs every transcribed ztunnel case through the engine.
func TestZtunnelCases(t *testing.T) {
	var passed, gaps, total int
	worlds := ztunnelWorldFiles(t)
	for _, world := range worlds {
		reports := map[string]*api.Reachability{}
		for _, c := range parseZtunnelCases(t, world) {
			total++
			rep, ok := reports[c.query]
			if !ok {
				wq := loadQuery(t, world, c.query)
				var err error
				if rep, err = Explain(wq.snap, wq.q); err != nil {
					t.Errorf("%s: %v", c, err)
				}
				reports[c.query] = rep
			}
			if rep == nil {
				continue
			}
			bad := checkZtunnelCase(c, rep)
			switch {
			case c.gap != "" && len(bad) == 0:
				t.Errorf("%s: address=%s port=%d now agrees: remove its # known-gap: line", c, c.address, c.port)
			case c.gap != "":
				gaps++
				t.Logf("%s: known gap (%s): %s", c, c.gap, strings.Join(bad, "; "))
			case len(bad) > 0:
				t.Errorf("%s: address=%s port=%d: %s", c, c.address, c.port, strings.Join(bad, "; "))
			default:
				passed++
			}
		}
	}
	t.Logf("ztunnel: %d cases in %d worlds agree", passed, len(worlds))
	if gaps > 0 {
		t.Logf("ztunnel: %d cases are known gaps", gaps)
	}
	if passed+gaps != total {
		t.Logf("ztunnel: %d of %d cases disagree", total-passed-gaps, total)
	}
	if total == 0 {
		t.Fatal("ztunnel: no cases")
	}
}

// TestZtunnelCaseCheck shows the comparison fails when it should.
func TestZtunnelCaseCheck(t *testing.T) {
	rep := &api.Reachability{
		Destination: &api.Workload{Namespace: "demo", Name: "web"},
		Requests: []api.Request{
			{Address: "10.0.0.1", Port: 80, TLS: api.TLSPlaintext},
			{Address: "10.0.0.2", Port: 8080, TLS: api.TLSMutual, Upstream: &api.Upstream{IP: "10.0.0.2", Port: 8080}},
		},
	}
	c := func(addr string, port int32, fields ...[2]string) ztunnelCase {
		return ztunnelCase{world: "w.yaml", address: addr, port: port, fields: fields}
	}
	tests := []struct {
		c   ztunnelCase
		bad int
	}{
		{c("10.0.0.2", 8080, [2]string{"tls", "mtls"}, [2]string{"upstream.port", "8080"}), 0},
		{c("10.0.0.2", 8080, [2]string{"tls", "plaintext"}, [2]string{"upstream.port", "80"}), 2},
		{c("10.0.0.1", 80, [2]string{"upstream.ip", ""}, [2]string{"ambient.path", ""}), 0},
		{c("10.0.0.1", 80, [2]string{"ambient.path", "hbone"}), 1},
		{c("10.0.0.1", 80, [2]string{"destination.name", "web"}, [2]string{"destination.namespace", "other"}), 1},
		{c("10.0.0.3", 80, [2]string{"tls", "mtls"}), 1},
	}
	for i, tt := range tests {
		if bad := checkZtunnelCase(tt.c, rep); len(bad) != tt.bad {
			t.Errorf("case %d: %d disagreements %q, want %d", i, len(bad), bad, tt.bad)
		}
	}
}
