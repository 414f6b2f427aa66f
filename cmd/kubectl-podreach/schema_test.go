package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/examples"
)

// TestReportsValidateAgainstSchema runs every query of every world — the
// embedded examples and the differential suite's worlds (test/istio) — as a
// user would, and validates the JSON (and, for the examples, the YAML) report
// against docs/reachability.schema.json with a JSON Schema 2020-12 validator.
func TestReportsValidateAgainstSchema(t *testing.T) {
	isolate(t)
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "..", "docs", "reachability.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	validate := func(what string, out []byte) {
		t.Helper()
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: the report does not validate against the schema:\n%v", what, err)
		}
	}
	files := []string{}
	for _, w := range worlds(t) {
		files = append(files, worldPath(w))
	}
	for _, dir := range []string{"worlds", "known-gaps"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "test", "istio", dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	queries := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range queryLines(t, f, data) {
			queries++
			formats := []string{"json"}
			if filepath.Dir(f) == filepath.Join("..", "..", "examples") {
				formats = append(formats, "yaml")
			}
			for _, format := range formats {
				what := f + ": kubectl podreach " + strings.Join(args, " ") + " -o " + format
				r := runCmd(t, append(append([]string{}, args...), "-f", f, "-o", format)...)
				if r.code != exitOK && r.code != exitFails {
					t.Errorf("%s: exit %d, stderr:\n%s", what, r.code, r.errOut)
					continue
				}
				// A --scrape line prints one report per target: a JSON
				// stream, or YAML documents.
				for _, doc := range reportDocuments(t, what, format, r.out) {
					validate(what, doc)
				}
			}
		}
	}
	if len(files) < 80 || queries < 700 {
		t.Errorf("validated %d queries in %d worlds; want the examples and the differential worlds", queries, len(files))
	}
	t.Logf("%d queries in %d worlds validate", queries, len(files))
}

// reportDocuments splits the output of a run into its JSON reports.
func reportDocuments(t *testing.T, what, format, out string) [][]byte {
	t.Helper()
	var docs [][]byte
	if format == "yaml" {
		for _, d := range strings.Split(out, "\n---\n") {
			js, err := yaml.YAMLToJSON([]byte(d))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			docs = append(docs, js)
		}
		return docs
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		docs = append(docs, raw)
	}
	if len(docs) == 0 {
		docs = append(docs, []byte(out)) // let the validator say what is wrong
	}
	return docs
}

// queryLines lists a world's leading `# podreach: SRC DST [flags]` lines.
func queryLines(t *testing.T, file string, data []byte) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "---" {
			continue
		}
		comment, ok := strings.CutPrefix(line, "#")
		if !ok {
			break
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(comment), "podreach:"); ok {
			args, err := examples.SplitWords(rest)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			out = append(out, args)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no # podreach: line", file)
	}
	return out
}
