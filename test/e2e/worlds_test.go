package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/test/e2e/harness"
)

// Users of the shared cluster.
const (
	readerUser  = "reader@example.com"   // bound to the README's ClusterRole, nothing else
	noIstioUser = "no-istio@example.com" // the README's role without its Istio rules
	// the README's role without gateway.networking.k8s.io (waypoints)
	noGatewaysUser = "no-gateways@example.com"
	nobodyUser     = "nobody@example.com" // no binding at all
)

// TestWorlds applies each example world to a real API server, runs the built
// plugin through a kubeconfig (as the admin, and as a user holding only the
// README's ClusterRole) and requires the JSON report, the warnings and the
// exit status to equal those of `-f examples/WORLD.yaml` for the same world,
// for every `# podreach:` line of the world.
func TestWorlds(t *testing.T) {
	c := shared(t)
	role := readmeRole(t)
	bindUsers(t, c, role)

	worlds, err := examples.Worlds()
	if err != nil {
		t.Fatal(err)
	}
	if len(worlds) == 0 {
		t.Fatal("no example worlds")
	}
	for _, w := range worlds {
		t.Run(w.Name, func(t *testing.T) {
			queries, err := w.Queries()
			if err != nil {
				t.Fatal(err)
			}
			objs, err := harness.LoadYAML(w.Data)
			if err != nil {
				t.Fatal(err)
			}
			applyUntilCleanup(t, c, objs)
			for i, args := range queries {
				if slices.Contains(args, "--scrape") {
					continue // TestScrape runs it
				}
				t.Run(fmt.Sprintf("query%d", i+1), func(t *testing.T) {
					requireLiveEqualsFile(t, c, role, w.File, args, nil)
				})
			}
		})
	}
}

// requireLiveEqualsFile runs one query of a world applied to the cluster
// with -f, as the admin and as the README role, and requires the same
// answer; the README role's requests must be the ones the plugin counted,
// reads the role allows. checkWant, if set, checks the -f run first. It
// returns the README role's run (-v=4).
func requireLiveEqualsFile(t *testing.T, c *harness.Cluster, role *rbacv1.ClusterRole, file string, args []string, checkWant func(result)) result {
	t.Helper()
	want := podreach(t, append(slices.Clone(args), "-f", "examples/"+file, "-o", "json")...)
	if want.code > 1 {
		t.Fatalf("the -f run itself failed:\n%s", want)
	}
	if checkWant != nil {
		checkWant(want)
	}
	admin := podreach(t, append(slices.Clone(args), "--kubeconfig", c.AdminKubeconfig(), "-o", "json")...)
	requireSameAnswer(t, "admin", want, admin)

	auditStart := countAudit(t, c, readerUser)
	// -v=4 makes the plugin count its API requests; the audit log must show as many.
	reader := podreach(t, append(slices.Clone(args), "--kubeconfig", c.Kubeconfig(readerUser), "-o", "json", "-v=4")...)
	requireSameAnswer(t, "README role", want, reader)
	n := requestCount(t, reader)
	t.Logf("%s: %d API requests", strings.Join(args, " "), n)
	requireOnlyReads(t, c, role, auditStart, n)
	return reader
}

// TestWorkloadReferences resolves SRC and DST from workloads (deploy/, sts/)
// through the pods' ownerReferences and labels, live and from the file.
func TestWorkloadReferences(t *testing.T) {
	c := shared(t)
	bindUsers(t, c, readmeRole(t))
	w, objs := loadWorld(t, failWorld)
	applyUntilCleanup(t, c, objs)
	args := []string{"-n", "demo", "deploy/client", "sts/web", "-o", "json"}
	want := podreach(t, append(slices.Clone(args), "-f", "examples/"+w.File)...)
	if want.code > 1 || !strings.Contains(want.stdout, `"chosenFrom"`) {
		t.Fatalf("the -f run did not resolve the workloads:\n%s", want)
	}
	got := podreach(t, append(slices.Clone(args), "--kubeconfig", c.Kubeconfig(readerUser))...)
	requireSameAnswer(t, "workloads", want, got)
}

// TestFleetForms runs the fleet forms on the fleet world live, as the
// README role, and requires the ReachabilityList, the warnings and the exit
// status of -f (TestWorlds already runs its --peers line).
func TestFleetForms(t *testing.T) {
	c := shared(t)
	bindUsers(t, c, readmeRole(t))
	w, objs := loadWorld(t, "fleet-etcd-peers")
	applyUntilCleanup(t, c, objs)
	for _, args := range [][]string{
		{"-n", "infra", "apisix-fhqtcsqwqq-wcp5x", "-l", "app=etcd"},
		{"-n", "infra", "apisix-fhqtcsqwqq-wcp5x", "-l", "app=etcd", "-A", "--port", "2380"},
		{"-n", "infra", "apisix-fhqtcsqwqq-wcp5x", "etcd-0", "sts/etcd"},
		{"-n", "infra", "--peers", "-l", "app.kubernetes.io/name=etcd"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			args = append(args, "-o", "json")
			want := podreach(t, append(slices.Clone(args), "-f", "examples/"+w.File)...)
			if want.code > 1 || !strings.Contains(want.stdout, `"kind": "ReachabilityList"`) {
				t.Fatalf("the -f run did not answer a list:\n%s", want)
			}
			got := podreach(t, append(slices.Clone(args), "--kubeconfig", c.Kubeconfig(readerUser))...)
			requireSameAnswer(t, "README role", want, got)
		})
	}
}

// requireSameAnswer compares a live run with the -f run of the same world.
func requireSameAnswer(t *testing.T, who string, want, got result) {
	t.Helper()
	requireSame(t, who, want, got, func(s string) any { return normalizeReport(t, s) })
}

// requireSame compares the exit status, the warnings and the decoded
// stdout of a live run with those of the -f run.
func requireSame(t *testing.T, who string, want, got result, decode func(string) any) {
	t.Helper()
	if got.code != want.code {
		t.Errorf("%s: exit status %d, the -f run exits %d\nlive: %s\n-f: %s", who, got.code, want.code, got, want)
		return
	}
	if w, g := warnings(want.stderr), warnings(got.stderr); !slices.Equal(w, g) {
		t.Errorf("%s: warnings differ\n-f:   %q\nlive: %q", who, w, g)
	}
	wantJSON, gotJSON := decode(want.stdout), decode(got.stdout)
	if !reflect.DeepEqual(wantJSON, gotJSON) {
		t.Errorf("%s: the live report differs from the -f report:\n%s", who, jsonDiff(wantJSON, gotJSON))
	}
}

// normalizeReport decodes a JSON report. No field is dropped: the report
// does not say where its data came from, so a live answer and a file answer
// for the same objects must be identical.
func normalizeReport(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, truncate(s, 2000))
	}
	return v
}

// warnings are the "Warning: " lines of stderr, sorted.
func warnings(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "Warning: ") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// jsonDiff lists the lines of the indented JSON that differ.
func jsonDiff(want, got any) string {
	wb, _ := json.MarshalIndent(want, "", "  ")
	gb, _ := json.MarshalIndent(got, "", "  ")
	wl, gl := strings.Split(string(wb), "\n"), strings.Split(string(gb), "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(wl), len(gl)) && n < 40; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d\n  -f:   %s\n  live: %s\n", i+1, w, g)
			n++
		}
	}
	return b.String()
}

// readmeRole is the ClusterRole of the README's RBAC section: the test
// proves that exactly it is sufficient.
func readmeRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RootDir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## RBAC\n")
	if !ok {
		t.Fatal("README.md has no RBAC section")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("README.md's RBAC section has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict([]byte(block), &role); err != nil {
		t.Fatalf("README.md's RBAC role: %v", err)
	}
	if role.Kind != "ClusterRole" || role.Name == "" {
		t.Fatalf("README.md's RBAC block is not a named ClusterRole: %s", block)
	}
	// Read-only, and nothing a reader should not see.
	for _, r := range role.Rules {
		if !slices.Equal(r.Verbs, []string{"get", "list"}) {
			t.Errorf("README role rule %v: verbs %v, want exactly [get list]", r.Resources, r.Verbs)
		}
		for _, res := range r.Resources {
			if res == "*" || res == "secrets" || strings.Contains(res, "/") {
				t.Errorf("README role grants %q: podreach must not need it", res)
			}
		}
	}
	return &role
}

// bindUsers creates the README role (and variants without its Istio rules,
// without its Gateway API rules) and binds the test users.
func bindUsers(t *testing.T, c *harness.Cluster, role *rbacv1.ClusterRole) {
	t.Helper()
	ctx := context.Background()
	rbac := c.AdminClient().RbacV1()
	roles := map[string]*rbacv1.ClusterRole{
		readerUser:     {ObjectMeta: metav1.ObjectMeta{Name: role.Name}, Rules: role.Rules},
		noIstioUser:    withoutGroups(role, "-no-istio", func(g string) bool { return strings.HasSuffix(g, "istio.io") }),
		noGatewaysUser: withoutGroups(role, "-no-gateways", func(g string) bool { return g == "gateway.networking.k8s.io" }),
	}
	for user, cr := range roles {
		if _, err := rbac.ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		b := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + cr.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
		}
		if _, err := rbac.ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// withoutGroups is role (named role.Name+suffix) without the API groups drop
// says yes to; a rule left with no group is dropped.
func withoutGroups(role *rbacv1.ClusterRole, suffix string, drop func(string) bool) *rbacv1.ClusterRole {
	out := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role.Name + suffix}}
	for _, r := range role.Rules {
		r = *r.DeepCopy()
		r.APIGroups = slices.DeleteFunc(r.APIGroups, drop)
		if len(r.APIGroups) > 0 {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

func countAudit(t *testing.T, c *harness.Cluster, user string) int {
	t.Helper()
	ev, err := c.AuditEvents(user)
	if err != nil {
		t.Fatal(err)
	}
	return len(ev)
}

// requestCount reads "I podreach: N API requests" from a -v=4 run.
func requestCount(t *testing.T, r result) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^I podreach: (\d+) API requests$`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no request count in the -v=4 output\n%s", r)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// requireOnlyReads checks the audit log: since from, the reader made the n
// requests the plugin counted, only get and list, each allowed by the role,
// and none was refused.
func requireOnlyReads(t *testing.T, c *harness.Cluster, role *rbacv1.ClusterRole, from, n int) {
	t.Helper()
	var ev []harness.AuditEvent
	// The API server writes an event once the response is sent: wait a little.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		all, err := c.AuditEvents(readerUser)
		if err != nil {
			t.Fatal(err)
		}
		ev = all[from:]
		if len(ev) >= n || time.Now().After(deadline) {
			break
		}
	}
	if len(ev) != n {
		t.Errorf("the audit log has %d requests of %s, the plugin counted %d", len(ev), readerUser, n)
	}
	for _, e := range ev {
		if e.Verb != "get" && e.Verb != "list" {
			t.Errorf("request %s %s: podreach must only get and list", e.Verb, e.RequestURI)
		}
		if e.ResponseStatus != nil && e.ResponseStatus.Code >= 400 && e.ResponseStatus.Code != 404 {
			t.Errorf("request %s %s answered %d", e.Verb, e.RequestURI, e.ResponseStatus.Code)
		}
		if e.ObjectRef == nil {
			t.Errorf("request %s %s is not a resource request", e.Verb, e.RequestURI)
			continue
		}
		if !allowed(role, e.ObjectRef.APIGroup, e.ObjectRef.Resource, e.Verb) {
			t.Errorf("request %s %s (%s %s) is not covered by the README role", e.Verb, e.RequestURI, e.ObjectRef.APIGroup, e.ObjectRef.Resource)
		}
	}
}

func allowed(role *rbacv1.ClusterRole, group, resource, verb string) bool {
	for _, r := range role.Rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}
