package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// isolate points the kubeconfig at nothing, so no test reads the developer's
// cluster, and clears the variables that change output.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "no-kubeconfig"))
	t.Setenv("HOME", dir)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("NO_COLOR", "1")
}

type result struct {
	code        int
	out, errOut string
}

func runCmd(t *testing.T, args ...string) result {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code := run(args, streams)
	return result{code, out.String(), errOut.String()}
}

// toOptions runs the option lifecycle up to Run on a command line:
// Flags.ToOptions, then Options.Validate.
func toOptions(t *testing.T, argv []string) (*Options, error) {
	t.Helper()
	f := NewFlags(genericiooptions.NewTestIOStreamsDiscard())
	cmd := NewCmd(f)
	if err := cmd.ParseFlags(argv); err != nil {
		return nil, err
	}
	o, err := f.ToOptions(cmd.Flags().Args())
	if err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestToOptions(t *testing.T) {
	isolate(t)
	// -f keeps Complete away from any kubeconfig; nothing is read before Run.
	f := []string{"-f", "dump.yaml"}
	cases := []struct {
		name    string
		argv    []string
		wantErr string // substring; "" = no error
		check   func(t *testing.T, o *Options)
	}{
		{name: "pod to pod", argv: append([]string{"client", "demo/web-0"}, f...),
			check: func(t *testing.T, o *Options) {
				if o.Source.Namespace != "default" || o.Source.Name != "client" {
					t.Errorf("source = %+v", o.Source)
				}
				if o.Destination == nil || o.Destination.Namespace != "demo" || o.Target != nil {
					t.Errorf("destination = %+v, target = %+v", o.Destination, o.Target)
				}
			}},
		{name: "-n sets the default namespace in -f mode", argv: append([]string{"-n", "monitoring", "prometheus-0", "demo/web-0", "--port", "9090"}, f...),
			check: func(t *testing.T, o *Options) {
				if o.Source.Namespace != "monitoring" || o.Destination.Namespace != "demo" {
					t.Errorf("source %+v destination %+v", o.Source, o.Destination)
				}
			}},
		{name: "workload source", argv: append([]string{"deploy/client", "kafka/kafka-1"}, f...),
			check: func(t *testing.T, o *Options) {
				if o.Source.Kind != podref.KindDeployment {
					t.Errorf("source kind = %v", o.Source.Kind)
				}
			}},
		{name: "URL with Host header", argv: append([]string{"client", "http://10.1.2.3:8080/healthz", "-H", "Host: web.demo"}, f...),
			check: func(t *testing.T, o *Options) {
				if o.Target == nil || o.Target.Host != "10.1.2.3" || o.Target.Port != 8080 || o.Target.HostHeader != "web.demo" {
					t.Errorf("target = %+v", o.Target)
				}
				if o.Destination != nil {
					t.Errorf("destination = %+v, want nil", o.Destination)
				}
			}},
		{name: "ports: repeat and comma list", argv: append([]string{"a", "b", "--port", "http,8080", "--port", "9090"}, f...),
			check: func(t *testing.T, o *Options) {
				want := []podref.Port{{Name: "http"}, {Number: 8080}, {Number: 9090}}
				if !slices.Equal(o.Ports, want) {
					t.Errorf("ports = %+v", o.Ports)
				}
			}},
		{name: "-o wide", argv: append([]string{"a", "b", "-o", "wide"}, f...)},
		{name: "-o jsonpath", argv: append([]string{"a", "b", "-o", "jsonpath={.summary}"}, f...)},
		{name: "traffic tcp", argv: append([]string{"a", "b", "--traffic", "tcp"}, f...),
			check: func(t *testing.T, o *Options) {
				if o.Traffic != api.TrafficTCP {
					t.Errorf("traffic = %q", o.Traffic)
				}
			}},
		{name: "traffic auto", argv: append([]string{"a", "b"}, f...),
			check: func(t *testing.T, o *Options) {
				if o.Traffic != "" {
					t.Errorf("traffic = %q, want auto (empty)", o.Traffic)
				}
			}},

		{name: "bad -o", argv: append([]string{"a", "b", "-o", "xml"}, f...),
			wantErr: `unable to match a printer suitable for the output format "xml", allowed formats are: dot,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,table,template,templatefile,wide,yaml`},
		{name: "bad jsonpath", argv: append([]string{"a", "b", "-o", "jsonpath={.requests[}"}, f...), wantErr: "error parsing jsonpath {.requests[}"},
		{name: "bad header", argv: append([]string{"a", "http://web/", "-H", "Host web"}, f...), wantErr: `invalid --header "Host web"`},
		{name: "bad --traffic", argv: append([]string{"a", "b", "--traffic", "udp"}, f...), wantErr: `invalid --traffic "udp": allowed values are auto, http, tcp`},
		{name: "no args", argv: f, wantErr: "SRC and DST are required"},
		{name: "one arg", argv: append([]string{"a"}, f...), wantErr: `DST is required after SRC "a"`},

		{name: "port out of range", argv: append([]string{"a", "b", "--port", "70000"}, f...), wantErr: "invalid --port 70000"},
		{name: "port name invalid", argv: append([]string{"a", "b", "--port", "Not_A_Port"}, f...), wantErr: `invalid --port "Not_A_Port"`},
		{name: "header with a pod DST", argv: append([]string{"a", "b", "-H", "Host: x"}, f...), wantErr: "--header applies to a URL"},
		{name: "port with a URL DST", argv: append([]string{"a", "web:80", "--port", "80"}, f...), wantErr: "--port applies to a pod DST"},
		{name: "tcp URL without port", argv: append([]string{"a", "tcp://10.1.2.3"}, f...), wantErr: "a port is required"},
		{name: "bad request timeout", argv: append([]string{"a", "b", "--request-timeout", "soon"}, f...), wantErr: "invalid --request-timeout"},
		{name: "example with -f", argv: append([]string{"--example"}, f...), wantErr: "cannot be combined with -f"},
		{name: "unknown example", argv: []string{"--example=nope"}, wantErr: `unknown example "nope"`},
		{name: "unknown flag", argv: []string{"--nope"}, wantErr: "unknown flag: --nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := toOptions(t, tc.argv)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.check != nil {
					tc.check(t, o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestExitCodeClassification(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{usageErr("x"), exitUsage},
		{&podref.Error{Kind: podref.NotFound, Msg: "x"}, exitUsage},
		{&explain.QueryError{Msg: "x"}, exitUsage},
		{&clusterError{msg: "x"}, exitUnreadable},
		{&inspect.Error{Kind: inspect.Malformed}, exitUnreadable},
		{&readError{err: &inspect.Error{Kind: inspect.Timeout}}, exitUnreadable},
		{errors.New("something else"), exitFails},
	}
	for _, tc := range cases {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%T) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// worldPath is where a world lives on disk, for -f.
func worldPath(w examples.World) string { return filepath.Join("..", "..", "examples", w.File) }

func worlds(t *testing.T) []examples.World {
	t.Helper()
	ws, err := examples.Worlds()
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) == 0 {
		t.Skip("no example worlds")
	}
	return ws
}

// TestExampleWorlds runs every example world through run() with -f, as a
// user would with its `# podreach:` line: no panic, exit 0 or 1, and a JSON
// report of the right apiVersion.
func TestExampleWorlds(t *testing.T) {
	isolate(t)
	for _, w := range worlds(t) {
		t.Run(w.Name, func(t *testing.T) {
			if len(w.Args) < 2 {
				t.Fatalf("examples/%s: the # podreach: line has %q, want SRC DST (or a fleet form)", w.File, w.Args)
			}
			args := append(append([]string{}, w.Args...), "-f", worldPath(w), "-o", "json")
			r := runCmd(t, args...)
			if r.code != exitOK && r.code != exitFails {
				t.Fatalf("kubectl podreach %s: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.errOut)
			}
			type requests []struct {
				Verdict string `json:"verdict"`
			}
			var rep struct {
				APIVersion string   `json:"apiVersion"`
				Kind       string   `json:"kind"`
				Requests   requests `json:"requests"`
				Items      []struct {
					Requests requests `json:"requests"`
				} `json:"items"` // a fleet form's ReachabilityList
			}
			if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, r.out)
			}
			if rep.APIVersion != api.APIVersion || (rep.Kind != api.KindReachability) == (rep.Kind != api.KindReachabilityList) {
				t.Errorf("apiVersion/kind = %q/%q", rep.APIVersion, rep.Kind)
			}
			all := rep.Requests
			for _, it := range rep.Items {
				all = append(all, it.Requests...)
			}
			fails := false
			for _, q := range all {
				fails = fails || q.Verdict == string(api.VerdictFails)
			}
			if want := map[bool]int{false: exitOK, true: exitFails}[fails]; r.code != want {
				t.Errorf("exit %d, but the report's verdicts say %d", r.code, want)
			}
			for _, line := range strings.Split(strings.TrimSpace(r.errOut), "\n") {
				if line != "" && !strings.HasPrefix(line, "Warning: ") {
					t.Errorf("unexpected stderr line %q", line)
				}
			}
		})
	}
}

// TestGoldenWorlds pins the table and JSON output of every world in
// testdata/golden/<world>.{txt,json}; regenerate with
// go test ./cmd/kubectl-podreach -update.
func TestGoldenWorlds(t *testing.T) {
	isolate(t)
	for _, w := range worlds(t) {
		t.Run(w.Name, func(t *testing.T) {
			for _, f := range []struct{ output, ext string }{{"table", "txt"}, {"json", "json"}} {
				args := append(append([]string{}, w.Args...), "-f", worldPath(w), "-o", f.output)
				r := runCmd(t, args...)
				if r.code != exitOK && r.code != exitFails {
					t.Fatalf("kubectl podreach %s: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.errOut)
				}
				// Keep the -f path out of the golden file: it is relative to the test.
				got := r.out
				golden := filepath.Join("testdata", "golden", w.Name+"."+f.ext)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/kubectl-podreach -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs (go test ./cmd/kubectl-podreach -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
				}
			}
		})
	}
}

func assertOneErrorLine(t *testing.T, r result, contains string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.errOut, "\n"), "\n")
	var errs []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "Warning: ") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("want exactly one error line, stderr:\n%s", r.errOut)
	}
	if strings.Contains(r.errOut, "goroutine ") || strings.Contains(r.errOut, "panic") || strings.Contains(r.errOut, "Usage:") {
		t.Errorf("stderr has a stack trace or usage:\n%s", r.errOut)
	}
	if contains != "" && !strings.Contains(errs[0], contains) {
		t.Errorf("error line %q does not mention %q", errs[0], contains)
	}
}

func TestBadInput(t *testing.T) {
	isolate(t)
	w := worlds(t)[0]
	dir := t.TempDir()
	malformed := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(malformed, []byte("apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n  name: x: y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := w.Args[1]

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"unknown pod", []string{"no-such-pod-zz", dst, "-f", worldPath(w)}, exitUsage, "no-such-pod-zz"},
		{"malformed YAML", []string{"a", "b", "-f", malformed}, exitUnreadable, "bad.yaml"},
		{"missing file", []string{"a", "b", "-f", filepath.Join(dir, "missing.yaml")}, exitUnreadable, "missing.yaml"},
		{"URL without port", []string{"a", "tcp://10.1.2.3", "-f", worldPath(w)}, exitUsage, "tcp://10.1.2.3"},
		// No namespace "svc" in the world: a Service is not a pod.
		{"service as DST", []string{w.Args[0], "svc/web", "-f", worldPath(w)}, exitUsage, `cannot use "svc/web": podreach needs a pod`},
		{"bad output", []string{"a", "b", "-o", "xml", "-f", worldPath(w)}, exitUsage, "allowed formats are: dot,go-template,"},
		{"unknown flag", []string{"a", "b", "--bogus"}, exitUsage, "--bogus"},
		{"unreachable server", []string{"a", "b", "--server", "https://127.0.0.1:1", "--request-timeout", "2s"}, exitUnreadable, "127.0.0.1:1"},
		{"no cluster configured", []string{"a", "b"}, exitUnreadable, "no cluster configured"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.errOut)
			}
			assertOneErrorLine(t, r, tc.contains)
			if r.out != "" {
				t.Errorf("stdout should be empty on error, got:\n%s", r.out)
			}
		})
	}
}

func TestExampleFlag(t *testing.T) {
	isolate(t)
	def, err := examples.Default()
	if err != nil {
		t.Skip(err)
	}

	t.Run("no args, no cluster: default world with a note", func(t *testing.T) {
		r := runCmd(t)
		if r.code != exitOK && r.code != exitFails {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.errOut)
		}
		want := "No cluster configured: showing the embedded example world examples/" + def.File +
			" (kubectl podreach " + strings.Join(quoteWords(def.Args), " ") + " -f examples/" + def.File + ")."
		if !strings.Contains(r.errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
		}
		if !strings.Contains(r.out, "SOURCE") {
			t.Errorf("no table on stdout:\n%s", r.out)
		}
	})
	t.Run("--example -o yaml", func(t *testing.T) {
		r := runCmd(t, "--example", "-o", "yaml")
		if r.code != exitOK && r.code != exitFails {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.errOut)
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(r.out), &m); err != nil || m["apiVersion"] != api.APIVersion {
			t.Errorf("not a YAML report (%v):\n%s", err, r.out)
		}
	})
	t.Run("--example NAME with a space", func(t *testing.T) {
		ws := worlds(t)
		last := ws[len(ws)-1]
		r := runCmd(t, "--example", last.Name, "-o", "json")
		if r.code != exitOK && r.code != exitFails {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.errOut)
		}
		// The same as the world run with -f.
		want := runCmd(t, append(append([]string{}, last.Args...), "-f", worldPath(last), "-o", "json")...)
		if r.out != want.out || r.code != want.code {
			t.Errorf("--example %s differs from -f examples/%s", last.Name, last.File)
		}
	})
}

func TestVersionAndHelp(t *testing.T) {
	isolate(t)
	r := runCmd(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "kubectl-podreach dev") {
		t.Errorf("version: exit %d, out %q", r.code, r.out)
	}
	r = runCmd(t, "version", "extra")
	if r.code != exitUsage {
		t.Errorf("version extra: exit %d", r.code)
	}
	r = runCmd(t, "--help")
	if r.code != 0 {
		t.Fatalf("--help: exit %d", r.code)
	}
	for _, want := range []string{
		"kubectl podreach SRC DST [flags]",
		"Exit status:",
		"kubectl podreach -n monitoring prometheus-0 demo/web-0 --port 9090",
		"kubectl podreach kafka/kafka-0 kafka/kafka-1",
		"kubectl podreach deploy/client http://10.1.2.3:8080/healthz",
		"-f dump.yaml",
		"--kubeconfig", "--context", "--request-timeout", "--as",
		"-o dot | dot -Tsvg", "table|wide|json|yaml|dot",
		"-o, --output", "--traffic", "-H, --header", "--port", "-f, --filename", "--example",
		"-l, --selector", "-A, --all-namespaces", "--peers", "--details",
		"kubectl podreach -n infra --peers sts/etcd", "ReachabilityList",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\n  b\n"); got != "a; b" {
		t.Errorf("oneLine = %q", got)
	}
	// A message that merely starts like kubectl's is still prefixed: only a
	// read error is worded whole.
	if got := errorLine(errors.New("Unable to connect to the server: x")); got != "error: Unable to connect to the server: x" {
		t.Errorf("errorLine = %q", got)
	}
	if got := errorLine(errors.New("boom")); got != "error: boom" {
		t.Errorf("errorLine = %q", got)
	}
}

func TestSplitWords(t *testing.T) {
	cases := map[string][]string{
		`a b`:                        {"a", "b"},
		`  a   b  `:                  {"a", "b"},
		`a http://x:1/ -H 'Host: y'`: {"a", "http://x:1/", "-H", "Host: y"},
		`a "b c" d\ e`:               {"a", "b c", "d e"},
		`a 'it''s'`:                  {"a", "its"},
	}
	for in, want := range cases {
		got, err := examples.SplitWords(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := examples.SplitWords(`a 'b`); err == nil {
		t.Error("unterminated quote accepted")
	}
	args, err := examples.ParseArgsLine([]byte("\n# podreach: demo/a demo/b --port 80\napiVersion: v1\n"))
	if err != nil || strings.Join(args, " ") != "demo/a demo/b --port 80" {
		t.Errorf("ParseArgsLine = %q, %v", args, err)
	}
	if _, err := examples.ParseArgsLine([]byte("apiVersion: v1\n# podreach: a b\n")); err == nil {
		t.Error("a # podreach: line after the first object was accepted")
	}
}

// A world's `# podreach:` flags apply, but never over the user's own.
func TestApplyWorldArgs(t *testing.T) {
	f := NewFlags(genericiooptions.NewTestIOStreamsDiscard())
	cmd := NewCmd(f)
	if err := cmd.ParseFlags([]string{"-o", "yaml"}); err != nil {
		t.Fatal(err)
	}
	args, err := applyWorldArgs(cmd.Flags(), []string{"demo/a", "-n", "demo", "demo/b", "--port", "9090,http", "-o", "json"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(args, " ") != "demo/a demo/b" {
		t.Errorf("args = %q", args)
	}
	if strings.Join(f.Ports, ",") != "9090,http" {
		t.Errorf("ports = %q", f.Ports)
	}
	if *f.PrintFlags.OutputFormat != "yaml" {
		t.Errorf("output = %q, want the user's yaml", *f.PrintFlags.OutputFormat)
	}
	if *f.ConfigFlags.Namespace != "demo" {
		t.Errorf("namespace = %q", *f.ConfigFlags.Namespace)
	}
}

// -v=4 logs every API request with its status and latency through
// client-go's own request logging (klog), on stderr; the report's stdout
// stays clean.
func TestVerboseLogsRequests(t *testing.T) {
	isolate(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	}))
	defer srv.Close()
	r := runCmd(t, "--server", srv.URL, "-v=4", "demo/a", "demo/b")
	for _, want := range []string{
		`round_trippers.go`, `"Response" verb="GET" url="` + srv.URL + `/api/v1/namespaces/demo/pods`,
		`status="404 Not Found" milliseconds=`,
	} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("-v=4 stderr lacks %q:\n%s", want, r.errOut)
		}
	}
	if strings.Contains(r.out, "Response") {
		t.Errorf("request log on stdout:\n%s", r.out)
	}
	r = runCmd(t, "--server", srv.URL, "demo/a", "demo/b")
	if strings.Contains(r.errOut, "round_trippers") {
		t.Errorf("requests logged without -v:\n%s", r.errOut)
	}
}
