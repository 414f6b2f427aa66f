package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/test/e2e/harness"
)

// The world the failure cases use: demo/client calls the headless
// StatefulSet pod demo/web-0 in a STRICT namespace (exit 1: one request fails).
const failWorld = "headless-http-podip"

const (
	failSrc = "demo/client-btpkt9bzdx-b5htm"
	failDst = "demo/web-0"
)

// expect is what one failure case must produce.
type expect struct {
	code   int
	stderr []string // substrings of stderr, in order
	// errorLine, when set, must match the one "error: …" (or kubectl-worded)
	// line of stderr exactly (regexp, anchored).
	errorLine string
	stdout    bool // a report is printed
}

func check(t *testing.T, r result, e expect) {
	t.Helper()
	t.Logf("kubectl-podreach %s → exit %d in %v\n%s", strings.Join(r.args, " "), r.code,
		r.elapsed.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	if r.code != e.code {
		t.Errorf("exit status %d, want %d\n%s", r.code, e.code, r)
	}
	rest := r.stderr
	for _, s := range e.stderr {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Errorf("stderr lacks %q\n%s", s, r)
			break
		}
		rest = rest[i+len(s):]
	}
	if e.errorLine != "" {
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if !regexp.MustCompile("^(?:" + e.errorLine + ")$").MatchString(last) {
			t.Errorf("error line\n  %q\ndoes not match\n  %q\n%s", last, e.errorLine, r)
		}
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 0 && !strings.HasPrefix(lines[0], "Warning:") {
			t.Errorf("error output is %d lines, want one\n%s", n+1, r)
		}
	}
	if e.stdout != (strings.TrimSpace(r.stdout) != "") {
		t.Errorf("stdout printed: %v, want %v\n%s", !e.stdout, e.stdout, r)
	}
}

func loadWorld(t *testing.T, name string) (examples.World, []*unstructured.Unstructured) {
	t.Helper()
	w, err := examples.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.LoadYAML(w.Data)
	if err != nil {
		t.Fatal(err)
	}
	return w, objs
}

// TestFailures runs the plugin against the shared cluster holding one world,
// as users and in situations where reading goes wrong.
func TestFailures(t *testing.T) {
	c := shared(t)
	bindUsers(t, c, readmeRole(t))
	w, objs := loadWorld(t, failWorld)
	applyUntilCleanup(t, c, objs)
	want := podreach(t, "-f", "examples/"+w.File, failSrc, failDst, "-o", "json")
	if want.code != 1 {
		t.Fatalf("world %s: -f run exits %d, want 1 (one request fails)\n%s", failWorld, want.code, want)
	}
	admin := c.AdminKubeconfig()
	server := regexp.QuoteMeta(c.Server())

	t.Run("istio kinds forbidden", func(t *testing.T) {
		// The user may read everything but the Istio kinds: the answer is
		// given, without the STRICT PeerAuthentication (so the pod-IP
		// request is wrongly predicted to pass), and the warnings name each
		// kind not read.
		r := podreach(t, "--kubeconfig", c.Kubeconfig(noIstioUser), failSrc, failDst, "-o", "json")
		var lines []string
		for _, kind := range []string{"authorizationpolicies.security.istio.io", "destinationrules.networking.istio.io", "peerauthentications.security.istio.io",
			"serviceentries.networking.istio.io", "sidecars.networking.istio.io", "virtualservices.networking.istio.io"} {
			lines = append(lines, "Warning: could not read "+kind+" in namespace ")
		}
		check(t, r, expect{code: 0, stdout: true})
		for _, l := range lines {
			if !strings.Contains(r.stderr, l) {
				t.Errorf("stderr lacks %q\n%s", l, r)
			}
		}
		if !strings.Contains(r.stderr, `(forbidden: User "`+noIstioUser+`" cannot list resource "peerauthentications" in API group "security.istio.io" in the namespace "demo"): the answer assumes there are none`) {
			t.Errorf("the PeerAuthentication warning does not say who was refused what\n%s", r)
		}
		// Authorization that could not be read is unknown, never "allow".
		var rep struct {
			Requests []struct {
				Inbound *struct {
					Accepted      bool `json:"accepted"`
					Captured      bool `json:"captured"`
					Authorization *struct {
						Decision string `json:"decision"`
					} `json:"authorization"`
				} `json:"inbound"`
			} `json:"requests"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v", err)
		}
		judged := 0
		for _, q := range rep.Requests {
			if in := q.Inbound; in != nil && in.Accepted && in.Captured {
				judged++
				if in.Authorization == nil || in.Authorization.Decision != "unknown" {
					t.Errorf("authorization = %+v, want decision unknown when AuthorizationPolicies are forbidden", in.Authorization)
				}
			}
		}
		if judged == 0 {
			t.Errorf("no request reached a destination sidecar: nothing checked\n%s", r)
		}
	})

	t.Run("wrong namespace", func(t *testing.T) {
		r := podreach(t, "--kubeconfig", admin, "-n", "prod", "client-btpkt9bzdx-b5htm", "web-0")
		check(t, r, expect{code: 2, errorLine: `error: pods "client-btpkt9bzdx-b5htm" not found in namespace "prod"`})
	})

	t.Run("unknown pod", func(t *testing.T) {
		r := podreach(t, "--kubeconfig", admin, failSrc, "demo/web-7")
		check(t, r, expect{code: 2, errorLine: `error: pods "web-7" not found in namespace "demo"`})
	})

	t.Run("unknown workload", func(t *testing.T) {
		r := podreach(t, "--kubeconfig", admin, "deploy/clinet", failDst, "-n", "demo")
		check(t, r, expect{code: 2, errorLine: `error: no pods found for deploy/clinet in namespace "demo"`})
	})

	t.Run("no permission at all", func(t *testing.T) {
		r := podreach(t, "--kubeconfig", c.Kubeconfig(nobodyUser), failSrc, failDst)
		check(t, r, expect{code: 3, errorLine: `Error from server \(Forbidden\): pods "(client-btpkt9bzdx-b5htm|web-0)" is forbidden: ` +
			`User "` + regexp.QuoteMeta(nobodyUser) + `" cannot get resource "pods" in API group "" in the namespace "demo" \(server ` + server + `\)`})
	})

	t.Run("expired client certificate", func(t *testing.T) {
		kc := c.KubeconfigFor(harness.User{Name: readerUser, Expired: true})
		r := podreach(t, "--kubeconfig", kc, failSrc, failDst)
		check(t, r, expect{code: 3, errorLine: `error: You must be logged in to the server \(Unauthorized\) \(server ` + server + `\)`})
	})

	t.Run("client certificate from an unknown CA", func(t *testing.T) {
		kc := c.KubeconfigFor(harness.User{Name: readerUser, UnknownCA: true})
		r := podreach(t, "--kubeconfig", kc, failSrc, failDst)
		check(t, r, expect{code: 3, errorLine: `error: You must be logged in to the server \(Unauthorized\) \(server ` + server + `\)`})
	})

	t.Run("server certificate from an unknown CA", func(t *testing.T) {
		kc := c.KubeconfigFor(harness.User{Name: readerUser, WrongServerCA: true})
		r := podreach(t, "--kubeconfig", kc, failSrc, failDst)
		check(t, r, expect{code: 3, errorLine: `Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority.*`})
	})

	t.Run("connection refused", func(t *testing.T) {
		addr := closedPort(t)
		kc := c.KubeconfigFor(harness.User{Name: readerUser, Server: "https://" + addr})
		r := podreach(t, "--kubeconfig", kc, failSrc, failDst)
		check(t, r, expect{code: 3, errorLine: `Unable to connect to the server: dial tcp ` + regexp.QuoteMeta(addr) + `: connect: connection refused.*`})
	})

	t.Run("unreachable server with --request-timeout", func(t *testing.T) {
		// A server that accepts connections and never answers (a black hole).
		addr := blackHole(t)
		kc := c.KubeconfigFor(harness.User{Name: readerUser, Server: "https://" + addr})
		r := podreach(t, "--kubeconfig", kc, "--request-timeout=2s", failSrc, failDst)
		check(t, r, expect{code: 3, errorLine: `error: the server could not be reached within --request-timeout=2s \(server https://` + regexp.QuoteMeta(addr) + `\)`})
		if r.elapsed > 10*time.Second {
			t.Errorf("took %v with --request-timeout=2s", r.elapsed)
		}
	})

	t.Run("slow server within --request-timeout", func(t *testing.T) {
		// Every request is delayed 300 ms by a proxy: the reads are
		// concurrent in two phases, so a 2 s budget is enough.
		p, err := c.StartProxy(harness.ProxyHooks{Before: func(*http.Request) { time.Sleep(300 * time.Millisecond) }})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		r := podreach(t, "--kubeconfig", p.Kubeconfig(readerUser), "--request-timeout=2s", failSrc, failDst, "-o", "json")
		requireSameAnswer(t, "slow link", want, r)
	})

	t.Run("pod deleted while reading", func(t *testing.T) {
		// The proxy deletes web-0 right after the API server answered the
		// plugin's list of demo's pods, which SRC and DST are picked from
		// (the only read of either), while the plugin still reads the rest.
		// The answer is the one for the pods as they were listed.
		var once sync.Once
		deleted := make(chan error, 1)
		p, err := c.StartProxy(harness.ProxyHooks{After: func(r *http.Request, status int) {
			if r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/demo/pods" && status == http.StatusOK {
				once.Do(func() {
					zero := int64(0)
					deleted <- c.AdminClient().CoreV1().Pods("demo").Delete(context.Background(), "web-0",
						metav1.DeleteOptions{GracePeriodSeconds: &zero})
				})
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		r := podreach(t, "--kubeconfig", p.Kubeconfig(readerUser), failSrc, failDst, "-o", "json")
		select {
		case err := <-deleted:
			if err != nil {
				t.Fatalf("delete web-0: %v", err)
			}
		default:
			t.Fatalf("the plugin never read demo/web-0 through the proxy\n%s", r)
		}
		check(t, r, expect{code: 1, stdout: true})
		if !reflect.DeepEqual(normalizeReport(t, want.stdout), normalizeReport(t, r.stdout)) {
			t.Errorf("the answer differs from the one for the pod as it was read:\n%s",
				jsonDiff(normalizeReport(t, want.stdout), normalizeReport(t, r.stdout)))
		}

		// Run again: now the pod is gone, before any read.
		r = podreach(t, "--kubeconfig", c.Kubeconfig(readerUser), failSrc, failDst)
		check(t, r, expect{code: 2, errorLine: `error: pods "web-0" not found in namespace "demo"`})
	})
}

// TestNoIstioCRDs runs a world on a cluster where Istio was never installed.
func TestNoIstioCRDs(t *testing.T) {
	c := harness.Start(t, harness.WithoutIstioCRDs())
	ctx := context.Background()
	w, objs := loadWorld(t, failWorld)
	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
		return strings.HasSuffix(o.GroupVersionKind().Group, "istio.io")
	})
	if err := c.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	want := podreach(t, "-f", "examples/"+w.File, failSrc, failDst)
	r := podreach(t, "--kubeconfig", c.AdminKubeconfig(), failSrc, failDst)
	// Without the STRICT PeerAuthentication every request passes.
	check(t, r, expect{code: 0, stdout: true})
	if want.code != 1 {
		t.Errorf("the -f run (with Istio objects) exits %d, want 1", want.code)
	}
	for _, kind := range []string{"authorizationpolicies.security.istio.io", "destinationrules.networking.istio.io", "peerauthentications.security.istio.io",
		"serviceentries.networking.istio.io", "sidecars.networking.istio.io", "virtualservices.networking.istio.io"} {
		l := fmt.Sprintf("Warning: could not read %s cluster-wide (not installed): the answer assumes there are none", kind)
		if !strings.Contains(r.stderr, l) {
			t.Errorf("stderr lacks %q\n%s", l, r)
		}
	}
	if n := len(warnings(r.stderr)); n != 6 {
		t.Errorf("%d warnings, want one per Istio kind (6)\n%s", n, r)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// blackHole accepts TCP connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
