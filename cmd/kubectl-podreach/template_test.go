package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -o jsonpath, jsonpath-file, go-template and go-template-file select from
// the report by its JSON field names, as kubectl's do, with the same exit
// status as the report's other formats; a template that cannot be used is
// a usage error (exit 2) with nothing on stdout.
func TestTemplateOutputs(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const lines = `{{range .requests}}{{.address}} {{.verdict}}{{"\n"}}{{end}}`
	jsonpathFile := file("verdicts.jsonpath", `{.requests[*].verdict}`)
	templateFile := file("lines.tmpl", lines)

	for _, world := range []string{"headless-http-podip", "headless-tcp-port"} { // exit 1, exit 0
		t.Run(world, func(t *testing.T) {
			ref := runCmd(t, "--example", world, "-o", "json")
			var rep struct {
				Requests []struct{ Address, Verdict string }
			}
			if err := json.Unmarshal([]byte(ref.out), &rep); err != nil || len(rep.Requests) == 0 {
				t.Fatalf("-o json: %v\n%s", err, ref.out)
			}
			var verdicts []string
			var perLine strings.Builder
			for _, q := range rep.Requests {
				verdicts = append(verdicts, q.Verdict)
				perLine.WriteString(q.Address + " " + q.Verdict + "\n")
			}
			cases := []struct {
				name string
				args []string
				want string
			}{
				{"jsonpath", []string{"-o", "jsonpath={.requests[*].verdict}"}, strings.Join(verdicts, " ")},
				{"jsonpath-file", []string{"-o", "jsonpath-file=" + jsonpathFile}, strings.Join(verdicts, " ")},
				{"jsonpath-as-json", []string{"-o", "jsonpath-as-json={.apiVersion}"}, "[\n    \"podreach.dev/v1alpha1\"\n]\n"},
				{"go-template", []string{"-o", "go-template=" + lines}, perLine.String()},
				{"go-template-file", []string{"-o", "go-template-file=" + templateFile}, perLine.String()},
				{"--template alone means go-template", []string{"--template", lines}, perLine.String()},
				{"-o jsonpath with --template", []string{"-o", "jsonpath", "--template", "{.kind}"}, "Reachability"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := runCmd(t, append([]string{"--example", world}, tc.args...)...)
					if r.code != ref.code {
						t.Errorf("exit %d, -o json exits %d; stderr:\n%s", r.code, ref.code, r.errOut)
					}
					if r.out != tc.want {
						t.Errorf("stdout\n%q\nwant\n%q", r.out, tc.want)
					}
				})
			}
		})
	}
}

func TestTemplateOutputErrors(t *testing.T) {
	isolate(t)
	cases := []struct {
		name string
		args []string
		line string // the whole error line
	}{
		{"unknown -o", []string{"-o", "xml"}, `error: unable to match a printer suitable for the output format "xml", allowed formats are: ` +
			"dot,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,table,template,templatefile,wide,yaml"},
		{"jsonpath that does not parse", []string{"-o", "jsonpath={.requests["}, "error: error parsing jsonpath {.requests[, unterminated array"},
		{"go-template that does not parse", []string{"-o", "go-template={{.requests"},
			`error: error parsing template {{.requests, template: output:1: unclosed action`},
		{"no template", []string{"-o", "jsonpath"}, "error: template format specified but no template given"},
		{"missing template file", []string{"-o", "go-template-file=/nonexistent/t.tmpl"},
			"error: error reading --template /nonexistent/t.tmpl, open /nonexistent/t.tmpl: no such file or directory"},
		{"template that fails on the report", []string{"-o", "go-template={{index .requests 99}}"},
			`error: error executing template "{{index .requests 99}}": template: output:1:2: executing "output" at <index .requests 99>: ` +
				"error calling index: index out of range: 99"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, append([]string{"--example"}, tc.args...)...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, exitUsage, r.errOut)
			}
			if r.out != "" {
				t.Errorf("stdout should be empty, got:\n%s", r.out)
			}
			lines := strings.Split(strings.TrimSpace(r.errOut), "\n")
			if last := lines[len(lines)-1]; last != tc.line {
				t.Errorf("error line\n  %s\nwant\n  %s", last, tc.line)
			}
		})
	}
}
