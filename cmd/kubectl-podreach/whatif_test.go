package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// TestWhatIfGolden pins --with --diff on single pairs: turning a namespace
// STRICT shows exactly the scrapes it breaks; renaming etcd's peer port
// http-peer (what Istio's analyzers suggest for an unprefixed port name)
// shows the peer paths it breaks, for one pair and for every pair of the
// StatefulSet (--peers). Table and JSON, in testdata/whatif.
func TestWhatIfGolden(t *testing.T) {
	isolate(t)
	dir := filepath.Join("testdata", "whatif")
	cases := []struct {
		name string
		args []string
	}{
		{"strict-shop", []string{"monitoring/prometheus-0", "shop/cart-0", "-f", filepath.Join(dir, "prometheus-permissive.yaml"), "--with", filepath.Join(dir, "strict-shop.yaml"), "--diff"}},
		{"etcd-http-peer", []string{"infra/etcd-0", "infra/etcd-1", "--port", "2380", "--traffic", "tcp", "-f", filepath.Join(dir, "etcd.yaml"), "--with", filepath.Join(dir, "etcd-http-peer.yaml"), "--diff"}},
		// The same rename over the fleet: every ordered pair of members.
		{"etcd-http-peer-peers", []string{"--peers", "-l", "app=etcd", "-n", "infra", "--port", "2380", "--traffic", "tcp", "-f", filepath.Join(dir, "etcd.yaml"), "--with", filepath.Join(dir, "etcd-http-peer.yaml"), "--diff"}},
		{"no-change", []string{"infra/etcd-0", "infra/etcd-1", "--port", "2379", "--traffic", "tcp", "-f", filepath.Join(dir, "etcd.yaml"), "--with", filepath.Join(dir, "etcd-http-peer.yaml"), "--diff"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range []struct{ output, ext string }{{"table", "txt"}, {"json", "json"}} {
				r := runCmd(t, append(append([]string{}, c.args...), "-o", f.output)...)
				if r.code != exitOK && r.code != exitFails {
					t.Fatalf("exit %d, stderr:\n%s", r.code, r.errOut)
				}
				golden := filepath.Join(dir, c.name+".diff."+f.ext)
				if *update {
					if err := os.WriteFile(golden, []byte(r.out), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/kubectl-podreach -update)", err)
				}
				if r.out != string(want) {
					t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", golden, r.out, want)
				}
				if f.output != "json" {
					continue
				}
				var d api.ReachabilityDiff
				if err := json.Unmarshal([]byte(r.out), &d); err != nil {
					t.Fatal(err)
				}
				if d.Kind != api.KindReachabilityDiff || d.APIVersion != api.APIVersion {
					t.Errorf("apiVersion/kind %s/%s", d.APIVersion, d.Kind)
				}
				if want := map[bool]int{false: exitOK, true: exitFails}[d.Summary.Breaks > 0]; r.code != want {
					t.Errorf("exit %d with %d breaks, want %d", r.code, d.Summary.Breaks, want)
				}
			}
		})
	}
}

// TestWithReplacesAndDeletes: --with replaces an object by kind, namespace
// and name; podreach.dev/delete removes its namesake.
func TestWithReplacesAndDeletes(t *testing.T) {
	isolate(t)
	dir := filepath.Join("testdata", "whatif")
	world := filepath.Join(dir, "prometheus-permissive.yaml")
	strict := filepath.Join(t.TempDir(), "strict.yaml")
	data, err := os.ReadFile(filepath.Join(dir, "strict-shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strict, data, 0o644); err != nil {
		t.Fatal(err)
	}
	del := filepath.Join(t.TempDir(), "delete.yaml")
	if err := os.WriteFile(del, []byte(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: shop
  annotations:
    podreach.dev/delete: "true"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"monitoring/prometheus-0", "shop/cart-0", "--port", "9102", "-f", world}
	if r := runCmd(t, base...); r.code != exitOK {
		t.Fatalf("PERMISSIVE: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if r := runCmd(t, append(base, "--with", strict)...); r.code != exitFails {
		t.Errorf("--with STRICT: exit %d, want 1\n%s", r.code, r.out)
	}
	// A later --with wins: the delete after the STRICT leaves no policy
	// (PERMISSIVE by default).
	if r := runCmd(t, append(base, "--with", strict, "--with", del)...); r.code != exitOK {
		t.Errorf("--with STRICT then delete: exit %d, want 0\n%s", r.code, r.out)
	}
}

// TestWithErrors: bad --with input is worded as -f's and exits 3; --diff
// without --with is a usage error.
func TestWithErrors(t *testing.T) {
	isolate(t)
	world := filepath.Join("testdata", "whatif", "etcd.yaml")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Service\nmetadata: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--with", "/nonexistent/x.yaml"}, exitUnreadable, `the path "/nonexistent/x.yaml" does not exist`},
		{[]string{"--with", bad}, exitUnreadable, bad},
		{[]string{"--diff"}, exitUsage, "--diff compares"},
		{[]string{"--with", world, "--diff", "-o", "dot"}, exitUsage, "-o dot"},
	} {
		r := runCmd(t, append([]string{"infra/etcd-0", "infra/etcd-1", "-f", world}, c.args...)...)
		if r.code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, r.code, c.code, r.errOut)
		}
		assertOneErrorLine(t, r, c.contains)
	}
}

// TestFixFile: --fix-file writes one manifest per distinct proven change,
// with the command that applies it; a second run writes the same files.
func TestFixFile(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	world := filepath.Join("..", "..", "pkg", "explain", "testdata", "charts", "cockroachdb.yaml")
	args := []string{"db/cockroachdb-0", "db/cockroachdb-1", "--port", "8080", "-f", world, "--fix-file", dir}
	list := func() map[string]string {
		out := map[string]string{}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = string(b)
		}
		return out
	}
	if r := runCmd(t, args...); r.code != exitFails {
		t.Fatalf("exit %d\n%s", r.code, r.errOut)
	}
	first := list()
	var names []string
	for n := range first {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) != 2 || !strings.HasPrefix(names[0], "peerauthentication.db.cockroachdb.") || !strings.HasPrefix(names[1], "service.db.cockroachdb.") {
		t.Fatalf("files %v, want a PeerAuthentication and a Service patch", names)
	}
	for n, body := range first {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(body), &obj); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		wantCmd := "# apply: kubectl patch service cockroachdb -n db --type merge --patch-file "
		if strings.HasPrefix(n, "peerauthentication.") {
			wantCmd = "# apply: kubectl apply -f "
			if obj["kind"] != "PeerAuthentication" {
				t.Errorf("%s: a new object must be whole, got %v", n, obj)
			}
		}
		if !strings.Contains(body, wantCmd) {
			t.Errorf("%s lacks %q:\n%s", n, wantCmd, body)
		}
	}
	runCmd(t, args...)
	if second := list(); len(second) != len(first) {
		t.Errorf("second run wrote %d files, first %d", len(second), len(first))
	} else {
		for n, b := range first {
			if second[n] != b {
				t.Errorf("%s changed between runs", n)
			}
		}
	}
}
