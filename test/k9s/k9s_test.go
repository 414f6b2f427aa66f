// Package k9s checks plugins/k9s.yaml the way k9s reads it.
//
// k9s's loader (internal/config.Plugins.load) cannot be imported from another
// module, so this test takes what it needs from the k9s module itself, as the
// Go module proxy serves it (go mod download github.com/derailed/k9s@VERSION):
//
//   - its published JSON schemas, internal/config/json/schemas/{plugins,
//     plugin,plugin-multi}.json, tried in the order of k9s's
//     Validator.ValidatePlugins with the validator k9s uses
//     (github.com/xeipuuv/gojsonschema, same version) after the same
//     gopkg.in/yaml.v3 decoding;
//   - the yaml field names of its config.Plugin struct (internal/config/plugin.go),
//     since the schema lets unknown fields through and yaml.Unmarshal drops them;
//   - its key names (internal/ui/key.go) and the keys its views bind
//     (internal/view, internal/ui), so the shortcut is valid and shadows nothing;
//   - its argument substitution regexp (internal/view/env.go), to run the plugin
//     as k9s would: substitute $NAMESPACE, $NAME, $CONTEXT, run the command with
//     a fake kubectl on PATH and a DST on stdin, and check what kubectl got.
//
// K9S_VERSION overrides the pinned version; K9S_DIR points at an unpacked k9s
// source tree instead of the module cache.
package k9s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v3"
)

const (
	k9sModule  = "github.com/derailed/k9s"
	k9sVersion = "v0.50.16"
	pluginFile = "../../plugins/k9s.yaml"
	pluginName = "podreach"
)

// k9sDir returns the k9s module's source directory (from the module cache).
func k9sDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("K9S_DIR"); d != "" {
		return d
	}
	v := k9sVersion
	if e := os.Getenv("K9S_VERSION"); e != "" {
		v = e
	}
	cmd := exec.Command("go", "mod", "download", "-json", k9sModule+"@"+v)
	// Outside any module: nothing here is added to a go.mod or go.sum.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr != nil || m.Dir == "" {
		t.Fatalf("go mod download %s@%s: %v %s %s", k9sModule, v, err, m.Error, out)
	}
	return m.Dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validatePlugins is k9s's json.Validator.ValidatePlugins: the document is
// decoded with yaml.v3 and checked against the full, snippet and
// multi-snippet schemas in that order; the first that accepts it names the
// form. The schemas are registered first with Validate on, as k9s's
// NewValidator does.
func validatePlugins(t *testing.T, dir string, doc []byte) (string, error) {
	t.Helper()
	var m any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		return "", err
	}
	sl := gojsonschema.NewSchemaLoader()
	sl.Validate = true
	var errs []string
	for _, name := range []string{"plugins.json", "plugin.json", "plugin-multi.json"} {
		schema := string(readFile(t, filepath.Join(dir, "internal/config/json/schemas", name)))
		if err := sl.AddSchema(name, gojsonschema.NewStringLoader(schema)); err != nil {
			t.Fatalf("k9s schema %s: %v", name, err)
		}
		res, err := gojsonschema.Validate(gojsonschema.NewStringLoader(schema), gojsonschema.NewGoLoader(m))
		if err != nil {
			t.Fatalf("k9s schema %s: %v", name, err)
		}
		if res.Valid() {
			return name, nil
		}
		for _, e := range res.Errors() {
			errs = append(errs, name+": "+e.String())
		}
	}
	sort.Strings(errs)
	return "", fmt.Errorf("%s", strings.Join(errs, "\n"))
}

// pluginFields returns the yaml names of k9s's config.Plugin struct fields.
func pluginFields(t *testing.T, dir string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, "internal/config/plugin.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Plugin" {
			return true
		}
		for _, fld := range ts.Type.(*ast.StructType).Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fld.Tag.Value)
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = true
			}
		}
		return false
	})
	if len(fields) < 5 {
		t.Fatalf("found only %v as k9s config.Plugin fields in %s", fields, dir)
	}
	return fields
}

// envRX returns the regexp k9s substitutes plugin arguments with (view/env.go).
func envRX(t *testing.T, dir string) *regexp.Regexp {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, "internal/view/env.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rx *regexp.Regexp
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "envRX" {
			return true
		}
		call := vs.Values[0].(*ast.CallExpr)
		s, err := strconv.Unquote(call.Args[0].(*ast.BasicLit).Value)
		if err != nil {
			t.Fatal(err)
		}
		rx = regexp.MustCompile(s)
		return false
	})
	if rx == nil {
		t.Fatalf("no envRX in %s/internal/view/env.go", dir)
	}
	return rx
}

// substitute is k9s's Env.Substitute: every $KEY, $!KEY, ${KEY} or ${!KEY}
// whose upper-cased KEY is in env is replaced by its value, longest match
// first; unknown keys are left as they are. It also returns the keys seen.
func substitute(rx *regexp.Regexp, env map[string]string, arg string) (string, []string) {
	matches := rx.FindAllStringSubmatch(arg, -1)
	sort.Slice(matches, func(i, j int) bool { return len(matches[i][0]) > len(matches[j][0]) })
	var keys []string
	for _, m := range matches {
		key := m[6]
		if m[1] != "" {
			key = m[3]
		}
		keys = append(keys, key)
		if v, ok := env[strings.ToUpper(key)]; ok {
			arg = strings.ReplaceAll(arg, m[0], v)
		}
	}
	return arg, keys
}

// k9sDefines reports whether k9s sets the plugin variable key anywhere in its
// views (env["KEY"] = … or a "KEY": entry of an Env literal).
func k9sDefines(t *testing.T, dir, key string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "internal/view/*.go"))
	rx := regexp.MustCompile(`env\["` + key + `"\]|"` + key + `":`)
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") && rx.Match(readFile(t, f)) {
			return true
		}
	}
	return false
}

type plugin struct {
	ShortCut   string   `yaml:"shortCut"`
	Scopes     []string `yaml:"scopes"`
	Command    string   `yaml:"command"`
	Args       []string `yaml:"args"`
	Background bool     `yaml:"background"`
	Dangerous  bool     `yaml:"dangerous"`
}

func loadPlugin(t *testing.T, doc []byte) plugin {
	t.Helper()
	var pp struct {
		Plugins map[string]plugin `yaml:"plugins"`
	}
	if err := yaml.Unmarshal(doc, &pp); err != nil {
		t.Fatal(err)
	}
	p, ok := pp.Plugins[pluginName]
	if !ok {
		t.Fatalf("%s defines no plugin %q", pluginFile, pluginName)
	}
	return p
}

func TestSchema(t *testing.T) {
	dir := k9sDir(t)
	doc := readFile(t, pluginFile)
	form, err := validatePlugins(t, dir, doc)
	if err != nil {
		t.Fatalf("k9s rejects %s:\n%v", pluginFile, err)
	}
	// The full form is the one that works both as plugins.yaml and as a file
	// in a k9s/plugins directory.
	if form != "plugins.json" {
		t.Errorf("%s matches k9s's %s, want the full plugins.json form", pluginFile, form)
	}
	t.Logf("k9s %s: %s is valid (%s)", filepath.Base(dir), pluginFile, form)

	// The validator is not vacuous: the same file with a plugin lacking its
	// command, or with scopes as a string, is rejected.
	for name, broken := range map[string]string{
		"no command":       strings.Replace(string(doc), "    command: bash\n", "", 1),
		"scopes as string": strings.Replace(string(doc), "    scopes:\n      - pods\n", "    scopes: pods\n", 1),
	} {
		if broken == string(doc) {
			t.Fatalf("%s: could not derive the broken document", name)
		}
		if _, err := validatePlugins(t, dir, []byte(broken)); err == nil {
			t.Errorf("%s: k9s's schemas accept a broken plugin file", name)
		}
	}
}

func TestFieldsKnownToK9s(t *testing.T) {
	dir := k9sDir(t)
	known := pluginFields(t, dir)
	var doc struct {
		Plugins map[string]map[string]yaml.Node `yaml:"plugins"`
	}
	if err := yaml.Unmarshal(readFile(t, pluginFile), &doc); err != nil {
		t.Fatal(err)
	}
	for name, fields := range doc.Plugins {
		for f := range fields {
			if !known[f] {
				t.Errorf("plugin %s: field %q is not a field of k9s's config.Plugin (%v); k9s would ignore it", name, f, slices.Sorted(func(yield func(string) bool) {
					for k := range known {
						if !yield(k) {
							return
						}
					}
				}))
			}
		}
	}
}

func TestShortcut(t *testing.T) {
	dir := k9sDir(t)
	p := loadPlugin(t, readFile(t, pluginFile))
	// k9s's asKey looks the shortcut up in tcell.KeyNames, which ui/key.go fills.
	keyGo := string(readFile(t, filepath.Join(dir, "internal/ui/key.go")))
	names := map[string]string{} // "Shift-Q" -> "KeyShiftQ"
	for _, m := range regexp.MustCompile(`tcell\.KeyNames\[(\w+)\]\s*=\s*"([^"]+)"`).FindAllStringSubmatch(keyGo, -1) {
		names[m[2]] = m[1]
	}
	ident, ok := names[p.ShortCut]
	if !ok {
		t.Fatalf("shortCut %q is not a k9s key name (internal/ui/key.go)", p.ShortCut)
	}
	// No view of k9s binds that key already (a plugin on a bound key needs
	// override: true and hides k9s's own action).
	for _, glob := range []string{"internal/view/*.go", "internal/ui/*.go"} {
		files, _ := filepath.Glob(filepath.Join(dir, glob))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "key.go" {
				continue
			}
			if regexp.MustCompile(`\b` + ident + `\b`).Match(readFile(t, f)) {
				t.Errorf("shortCut %s (%s) is already bound by k9s in %s", p.ShortCut, ident, strings.TrimPrefix(f, dir+"/"))
			}
		}
	}
}

func TestSemantics(t *testing.T) {
	p := loadPlugin(t, readFile(t, pluginFile))
	if !slices.Contains(p.Scopes, "pods") {
		t.Errorf("scopes %v: want pods", p.Scopes)
	}
	if p.Background {
		t.Error("background: true; the plugin reads DST from the terminal, so it must run in the foreground")
	}
	if p.Dangerous {
		t.Error("dangerous: true; podreach only reads, it should stay available in k9s's read-only mode")
	}
	all := p.Command + " " + strings.Join(p.Args, " ")
	switch p.Command {
	case "kubectl":
	case "bash", "sh":
		if !strings.Contains(all, "kubectl podreach") {
			t.Errorf("%s plugin does not run kubectl podreach: %s", p.Command, all)
		}
	default:
		t.Errorf("command %q: want kubectl or a shell running kubectl podreach", p.Command)
	}
	for _, v := range []string{"$NAME", "$NAMESPACE", "$CONTEXT"} {
		if !regexp.MustCompile(regexp.QuoteMeta(v) + `\b`).MatchString(all) {
			t.Errorf("the plugin does not use k9s's %s", v)
		}
	}
}

// TestRun runs the plugin as k9s would on pod demo/client-0, with a fake
// kubectl that records its arguments.
func TestRun(t *testing.T) {
	bash, err := exec.LookPath(loadPlugin(t, readFile(t, pluginFile)).Command)
	if err != nil {
		t.Skip(err)
	}
	dir := k9sDir(t)
	rx := envRX(t, dir)
	p := loadPlugin(t, readFile(t, pluginFile))
	// A context name with a space and a glob: values must reach kubectl as
	// they are, not be re-parsed by the shell.
	env := map[string]string{"NAMESPACE": "demo", "NAME": "client-0", "CONTEXT": "kind mesh*", "KUBECONFIG": "", "CLUSTER": "kind", "USER": "admin"}
	args := make([]string, len(p.Args))
	for i, a := range p.Args {
		var keys []string
		args[i], keys = substitute(rx, env, a)
		for _, k := range keys {
			// Only the three meant, and bash's own REPLY: a shell variable
			// named like one of k9s's (case-insensitively, e.g. $name or
			// $user) would be replaced by k9s before bash sees it.
			switch k {
			case "NAMESPACE", "NAME", "CONTEXT":
			case "REPLY":
				if k9sDefines(t, dir, k) {
					t.Errorf("k9s defines $%s: it would replace the script's own variable", k)
				}
			default:
				t.Errorf("argument %d uses $%s, which k9s would substitute or warn about; pass values as arguments (\"$@\")", i, k)
			}
		}
	}

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(tmp, "kubectl.args")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$@\" >>\"" + record + "\"\necho '10 requests: 9 ok, 1 fails.'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stdin string
		want  []string // kubectl's arguments; nil: not run
	}{
		{"web-0\nq", []string{"podreach", "--context", "kind mesh*", "-n", "demo", "client-0", "web-0"}},
		{"other/web-0 --port 9090 -o wide\nq", []string{"podreach", "--context", "kind mesh*", "-n", "demo", "client-0", "other/web-0", "--port", "9090", "-o", "wide"}},
		{"web-* --port 9090\nq", []string{"podreach", "--context", "kind mesh*", "-n", "demo", "client-0", "web-*", "--port", "9090"}},
		{"\nq", nil},
	} {
		os.Remove(record)
		cmd := exec.Command(bash, args...)
		cmd.Dir = tmp // holds web-1: a glob in DST must not expand to it
		if err := os.WriteFile(filepath.Join(tmp, "web-1"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd.Env = []string{"PATH=" + bin + ":" + filepath.Dir(bash) + ":/usr/bin:/bin", "HOME=" + tmp}
		cmd.Stdin = strings.NewReader(tc.stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("stdin %q: %v\n%s", tc.stdin, err, out.String())
			continue
		}
		got, _ := os.ReadFile(record)
		var gotArgs []string
		if len(got) > 0 {
			gotArgs = strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
		}
		if !slices.Equal(gotArgs, tc.want) {
			t.Errorf("stdin %q: kubectl got %q, want %q\noutput:\n%s", tc.stdin, gotArgs, tc.want, out.String())
		}
		if !strings.Contains(out.String(), "kubectl podreach --context kind mesh* -n demo client-0 DST") {
			t.Errorf("stdin %q: no prompt naming the source pod in:\n%s", tc.stdin, out.String())
		}
		if tc.want != nil && !strings.Contains(out.String(), "exited 1") {
			t.Errorf("stdin %q: kubectl's exit status is not shown:\n%s", tc.stdin, out.String())
		}
	}
}

// TestRunInstalled runs the plugin as k9s would against the real kubectl and
// the installed kubectl-podreach (test/krew/run.sh sets PODREACH_K9S_E2E=1
// while Krew has it installed), on the embedded example world's files.
func TestRunInstalled(t *testing.T) {
	if os.Getenv("PODREACH_K9S_E2E") != "1" {
		t.Skip("PODREACH_K9S_E2E=1 runs it with the kubectl and kubectl-podreach on PATH")
	}
	p := loadPlugin(t, readFile(t, pluginFile))
	rx := envRX(t, k9sDir(t))
	world, err := filepath.Abs("../../examples/headless-http-podip.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NAMESPACE": "demo", "NAME": "client-btpkt9bzdx-b5htm", "CONTEXT": "unused-with-f"}
	args := make([]string, len(p.Args))
	for i, a := range p.Args {
		args[i], _ = substitute(rx, env, a)
	}
	cmd := exec.Command(p.Command, args...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader("web-0 -f " + world + "\nq")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"demo/web-0", "10 requests: 9 ok, 1 fails.", "(kubectl podreach exited 1;"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
