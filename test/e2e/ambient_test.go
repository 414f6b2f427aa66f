package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/test/e2e/harness"
)

// Ambient mode reads one kind more than the sidecar worlds: the Gateways of
// gateway.networking.k8s.io (waypoints). TestWorlds runs every ambient
// example live as the README role; these tests cover the Gateways being
// forbidden or not installed, and what an ambient pair costs in requests.

const (
	// waypointWorld has a Service bound to a waypoint: what the Gateways
	// say changes the answer.
	waypointWorld = "ambient-waypoint-bypass"
	// podIPWorld is two ambient pods, no waypoint.
	podIPWorld = "ambient-podip"

	gatewaysResource = "gateways.gateway.networking.k8s.io"
	gatewayGroup     = "gateway.networking.k8s.io"
)

// ambientReport is what these tests read of a report.
type ambientReport struct {
	Source      ambientWorkload  `json:"source"`
	Destination ambientWorkload  `json:"destination"`
	Requests    []ambientRequest `json:"requests"`
}

type ambientRequest struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	Verdict string `json:"verdict"`
	Ambient *struct {
		Path            string `json:"path"`
		Waypoint        string `json:"waypoint"`
		WaypointUnknown bool   `json:"waypointUnknown"`
		ServiceWaypoint string `json:"serviceWaypoint"`
	} `json:"ambient"`
	Steps []struct {
		Stage  string `json:"stage"`
		Name   string `json:"name"`
		Reason *struct {
			Code string `json:"code"`
		} `json:"reason"`
	} `json:"steps"`
}

type ambientWorkload struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Dataplane string `json:"dataplane"`
	Ambient   *struct {
		Waypoint        string `json:"waypoint"`
		WaypointUnknown bool   `json:"waypointUnknown"`
	} `json:"ambient"`
}

func decodeAmbient(t *testing.T, r result) ambientReport {
	t.Helper()
	var rep ambientReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r)
	}
	if len(rep.Requests) == 0 {
		t.Fatalf("the report has no requests\n%s", r)
	}
	return rep
}

// exitFor is the documented exit status of a report: 1 when a request fails.
func exitFor(rep ambientReport) int {
	for _, q := range rep.Requests {
		if q.Verdict == "fails" {
			return 1
		}
	}
	return 0
}

// TestAmbientGatewaysForbidden reads the waypoint world as a user whose role
// is the README's without gateway.networking.k8s.io: the answer is given,
// with one warning naming the Gateways, and every answer that depends on a
// waypoint says the waypoint is unknown (never a silent "no waypoint").
func TestAmbientGatewaysForbidden(t *testing.T) {
	c := shared(t)
	bindUsers(t, c, readmeRole(t))
	w, objs := loadWorld(t, waypointWorld)
	applyUntilCleanup(t, c, objs)
	args := append(slices.Clone(w.Args), "-o", "json")

	want := podreach(t, append(slices.Clone(args), "-f", "examples/"+w.File)...)
	wantRep := decodeAmbient(t, want)
	if !slices.ContainsFunc(wantRep.Requests, func(q ambientRequest) bool {
		return q.Ambient != nil && q.Ambient.Waypoint != ""
	}) {
		t.Fatalf("world %s: no request goes through a waypoint with -f: nothing to degrade\n%s", waypointWorld, want)
	}

	auditStart := countAudit(t, c, noGatewaysUser)
	r := podreach(t, append(slices.Clone(args), "--kubeconfig", c.Kubeconfig(noGatewaysUser))...)
	rep := decodeAmbient(t, r)
	t.Logf("kubectl-podreach %s → exit %d\n%s", strings.Join(r.args, " "), r.code, strings.TrimSpace(r.stderr))

	// No failure: a report, and the exit status its verdicts give.
	if r.code != exitFor(rep) {
		t.Errorf("exit status %d, want %d (1 exactly when a request fails)\n%s", r.code, exitFor(rep), r)
	}

	// The warnings: the -f run's, and one naming the Gateways, saying who
	// was refused and what is unknown because of it.
	var gw []string
	for _, l := range warnings(r.stderr) {
		if strings.Contains(l, gatewaysResource) {
			gw = append(gw, l)
		}
	}
	wantLine := regexp.MustCompile(`^Warning: could not read ` + regexp.QuoteMeta(gatewaysResource) +
		` \(forbidden: User "` + regexp.QuoteMeta(noGatewaysUser) + `" cannot list resource "gateways" in API group "` + regexp.QuoteMeta(gatewayGroup) +
		`" (at the cluster scope|in the namespace "[a-z0-9-]+")\): which waypoints pods and Services use is unknown \(reported as waypointUnknown\)$`)
	if len(gw) != 1 || !wantLine.MatchString(gw[0]) {
		t.Errorf("want one warning naming %s, matching\n  %s\ngot %q\n%s", gatewaysResource, wantLine, gw, r)
	}
	// The others are the -f run's, less those about a waypoint the live
	// run could not know of.
	others := slices.DeleteFunc(warnings(r.stderr), func(l string) bool { return slices.Contains(gw, l) })
	for _, l := range others {
		if !slices.Contains(warnings(want.stderr), l) {
			t.Errorf("a warning the -f run does not give: %s", l)
		}
	}
	for _, l := range warnings(want.stderr) {
		if !slices.Contains(others, l) && !strings.HasPrefix(l, "Warning: waypoint ") {
			t.Errorf("the -f run's warning is missing, and it is not about a waypoint: %s", l)
		}
	}

	// What depended on a waypoint says the waypoint is unknown (never a
	// silent "no waypoint"), names no waypoint it could not have read, and
	// carries the ztunnel step "waypoint unknown"; what did not (no
	// use-waypoint label binds the pod, a pod IP never consults the
	// Service) keeps the -f answer's path and verdict.
	for _, pair := range [][2]ambientWorkload{{wantRep.Source, rep.Source}, {wantRep.Destination, rep.Destination}} {
		f, live := pair[0], pair[1]
		if live.Ambient == nil {
			t.Errorf("%s/%s: no ambient part", live.Namespace, live.Name)
			continue
		}
		fwp := ""
		if f.Ambient != nil {
			fwp = f.Ambient.Waypoint
		}
		if live.Ambient.WaypointUnknown != (fwp != "") || live.Ambient.Waypoint != "" {
			t.Errorf("%s/%s: ambient = %+v, want waypointUnknown %v (-f: waypoint %q) and no waypoint", live.Namespace, live.Name, live.Ambient, fwp != "", fwp)
		}
	}
	if len(rep.Requests) != len(wantRep.Requests) {
		t.Fatalf("%d requests, the -f run has %d", len(rep.Requests), len(wantRep.Requests))
	}
	for i, q := range rep.Requests {
		f := wantRep.Requests[i]
		where := fmt.Sprintf("%s:%d", q.Address, q.Port)
		if q.Address != f.Address || q.Port != f.Port || q.Ambient == nil || f.Ambient == nil {
			t.Errorf("%s: request %d is %s:%d with -f; ambient live %+v, -f %+v", where, i, f.Address, f.Port, q.Ambient, f.Ambient)
			continue
		}
		noted := false
		for _, s := range q.Steps {
			noted = noted || (s.Stage == "ztunnel" && s.Name == "waypoint unknown" && s.Reason != nil && s.Reason.Code == "AMBIENT_WAYPOINT_UNKNOWN")
		}
		if q.Ambient.Waypoint != "" || q.Ambient.ServiceWaypoint != "" {
			t.Errorf("%s: ambient = %+v: a waypoint named without reading the Gateways", where, q.Ambient)
		}
		if f.Ambient.Waypoint == "" && f.Ambient.ServiceWaypoint == "" {
			if q.Ambient.WaypointUnknown || noted || q.Ambient.Path != f.Ambient.Path || q.Verdict != f.Verdict {
				t.Errorf("%s: no waypoint with -f (path %s, %s), live: ambient %+v, verdict %s, waypoint-unknown step %v: want the -f path and verdict",
					where, f.Ambient.Path, f.Verdict, q.Ambient, q.Verdict, noted)
			}
			continue
		}
		if !q.Ambient.WaypointUnknown || !noted {
			t.Errorf("%s: through %s with -f, live: ambient %+v, waypoint-unknown step %v: want waypointUnknown and the step", where, f.Ambient.Waypoint, q.Ambient, noted)
		}
	}
	// The only requests refused are the Gateways'.
	ev, err := c.AuditEvents(noGatewaysUser)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, e := range ev[auditStart:] {
		if e.ResponseStatus == nil || e.ResponseStatus.Code < 400 || e.ResponseStatus.Code == 404 {
			continue
		}
		refused++
		if e.ObjectRef == nil || e.ObjectRef.APIGroup != gatewayGroup || e.ObjectRef.Resource != "gateways" || e.ResponseStatus.Code != 403 {
			t.Errorf("request %s %s answered %d: only the Gateways should be refused", e.Verb, e.RequestURI, e.ResponseStatus.Code)
		}
	}
	if refused == 0 {
		t.Errorf("the audit log shows no refused request of %s: the Gateways were not forbidden", noGatewaysUser)
	}
}

// TestAmbientNoGatewayCRD runs the waypoint world, without its Gateway, on a
// cluster that has Istio's CRDs but not the Gateway API's: the kind is
// absent, so there are no waypoints, which is no reason to warn. The live
// answer (admin, README role) equals -f on the same objects.
func TestAmbientNoGatewayCRD(t *testing.T) {
	c := harness.Start(t, harness.WithAuditLog())
	role := readmeRole(t)
	bindUsers(t, c, role)
	w, objs := loadWorld(t, waypointWorld)
	n := len(objs)
	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GroupVersionKind().Group == gatewayGroup })
	if len(objs) == n {
		t.Fatalf("world %s has no %s object", waypointWorld, gatewayGroup)
	}
	if err := c.Apply(context.Background(), objs); err != nil {
		t.Fatal(err)
	}
	file := writeWorld(t, objs)
	args := append(slices.Clone(w.Args), "-o", "json")
	want := podreach(t, append(slices.Clone(args), "-f", file)...)
	if want.code > 1 {
		t.Fatalf("the -f run itself failed:\n%s", want)
	}
	admin := podreach(t, append(slices.Clone(args), "--kubeconfig", c.AdminKubeconfig())...)
	requireSameAnswer(t, "admin", want, admin)
	auditStart := countAudit(t, c, readerUser)
	reader := podreach(t, append(slices.Clone(args), "--kubeconfig", c.Kubeconfig(readerUser), "-v=4")...)
	requireSameAnswer(t, "README role", want, reader)
	requireOnlyReads(t, c, role, auditStart, requestCount(t, reader))

	for _, l := range warnings(reader.stderr) {
		if strings.Contains(l, "gateway") {
			t.Errorf("a warning about the absent Gateway API: %s", l)
		}
	}
	rep := decodeAmbient(t, reader)
	for _, q := range rep.Requests {
		if q.Ambient == nil {
			t.Errorf("%s:%d: no ambient part in an ambient world's request", q.Address, q.Port)
		} else if q.Ambient.WaypointUnknown || q.Ambient.Waypoint != "" {
			t.Errorf("%s:%d: ambient = %+v, want no waypoint and not unknown (the kind is not installed)", q.Address, q.Port, q.Ambient)
		}
	}
	// The Gateways were asked for, once, and were not there.
	ev, err := c.AuditEvents(readerUser)
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	for _, e := range ev[auditStart:] {
		if e.ObjectRef != nil && e.ObjectRef.APIGroup == gatewayGroup {
			asked++
			if e.ResponseStatus == nil || e.ResponseStatus.Code != 404 {
				t.Errorf("request %s %s: want 404 (no CRD)", e.Verb, e.RequestURI)
			}
		}
	}
	if asked != 1 {
		t.Errorf("%d requests for %s, want 1 (a cluster-wide list)", asked, gatewaysResource)
	}
}

// TestAmbientReads lists the API requests of an ambient single pair (as
// -v=5 prints them): the sidecar pair's, plus the Gateways listed once
// cluster-wide and the ztunnel pods listed once in the mesh namespace.
func TestAmbientReads(t *testing.T) {
	c := shared(t)
	bindUsers(t, c, readmeRole(t))
	w, objs := loadWorld(t, podIPWorld)
	applyUntilCleanup(t, c, objs)
	r := podreach(t, append(slices.Clone(w.Args), "--kubeconfig", c.Kubeconfig(readerUser), "-v=5", "-o", "json")...)
	if r.code > 1 {
		t.Fatalf("the live run failed\n%s", r)
	}
	var reqs []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if m := regexp.MustCompile(`^I podreach: ((?:GET|LIST) \S+ \d+)$`).FindStringSubmatch(l); m != nil {
			reqs = append(reqs, m[1])
		}
	}
	n := requestCount(t, r)
	t.Logf("%s (single pair, ambient): %d API requests\n  %s", strings.Join(w.Args, " "), n, strings.Join(reqs, "\n  "))
	if len(reqs) != n {
		t.Errorf("-v=5 lists %d requests, the count says %d", len(reqs), n)
	}
	count := func(re string) int {
		k := 0
		for _, q := range reqs {
			if regexp.MustCompile(re).MatchString(q) {
				k++
			}
		}
		return k
	}
	for re, want := range map[string]int{
		`^LIST /apis/gateway\.networking\.k8s\.io/v1/gateways 200$`:                               1,
		`^LIST /apis/gateway\.networking\.k8s\.io/`:                                               1,
		`^LIST /api/v1/namespaces/istio-system/pods\?labelSelector=app=ztunnel 200$`:              1,
		`^(GET|LIST) /api/v1/(namespaces/istio-system/)?pods(/[^?]*)?\?labelSelector=app=ztunnel`: 1,
	} {
		if got := count(re); got != want {
			t.Errorf("%d requests match %s, want %d\n  %s", got, re, want, strings.Join(reqs, "\n  "))
		}
	}
}

// writeWorld writes objects as a multi-document YAML file for -f.
func writeWorld(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	p := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
