package inspect

import (
	"context"
	"k8s.io/apimachinery/pkg/labels"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// monitorYAML is a kube-prometheus-stack style PodMonitor and ServiceMonitor.
const monitorYAML = `apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: web
  namespace: demo
  labels: {release: kube-prometheus-stack}
spec:
  selector: {matchLabels: {app: web}}
  podMetricsEndpoints:
  - port: http-metrics
    path: /stats
    interval: 30s
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: api
  namespace: other
spec:
  namespaceSelector: {matchNames: [demo]}
  selector: {matchLabels: {app: api}}
  endpoints:
  - targetPort: 8080
    scheme: HTTPS
`

func monitorObjects(t *testing.T) []runtime.Object {
	t.Helper()
	docs, err := splitDocuments([]byte(monitorYAML))
	if err != nil {
		t.Fatal(err)
	}
	var out []runtime.Object
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(d); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func monitorClient(t *testing.T) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		podMonitorsResource: "PodMonitorList", serviceMonitorsResource: "ServiceMonitorList", gatewaysResource: "GatewayList",
	}, monitorObjects(t)...)
}

func readScrape(t *testing.T, dyn *dynamicfake.FakeDynamicClient, scope *ScrapeScope) *Result {
	t.Helper()
	kube, istio := worldFakes(t)
	req := Request{Source: worldMatrix.Source, Scrape: scope}
	if scope.Namespaces == nil {
		// As the command asks with -A: every pod, read in pages.
		req.Destinations = &PodSet{Selector: labels.Everything(), AllNamespaces: true}
	}
	opts := LiveOptions{}
	if dyn != nil {
		opts.Dynamic = dyn
	}
	res, err := NewLiveReader(kube, istio, opts).Read(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The monitors read live (dynamic client) are the monitors the file reader
// decodes from the same objects; a request without --scrape reads none.
func TestLiveMonitorsMatchFile(t *testing.T) {
	res := readScrape(t, monitorClient(t), &ScrapeScope{Namespaces: []string{"demo"}})
	w := &world{}
	if err := w.addFile("monitors.yaml", []byte(monitorYAML)); err != nil {
		t.Fatal(err)
	}
	normalize(&w.snap)
	if !reflect.DeepEqual(res.Snapshot.PodMonitors, w.snap.PodMonitors) || !reflect.DeepEqual(res.Snapshot.ServiceMonitors, w.snap.ServiceMonitors) {
		l, _ := yaml.Marshal([][]snapshot.Monitor{res.Snapshot.PodMonitors, res.Snapshot.ServiceMonitors})
		f, _ := yaml.Marshal([][]snapshot.Monitor{w.snap.PodMonitors, w.snap.ServiceMonitors})
		t.Errorf("live monitors\n%s\nfile monitors\n%s", l, f)
	}
	if sm := res.Snapshot.ServiceMonitors; len(sm) != 1 || sm[0].Spec.Endpoints[0].TargetPort.IntVal != 8080 || sm[0].Spec.NamespaceSelector.MatchNames[0] != "demo" {
		t.Errorf("ServiceMonitor decoded as %+v", sm)
	}
	assertRequested(t, res, "LIST /apis/monitoring.coreos.com/v1/podmonitors 200", "LIST /apis/monitoring.coreos.com/v1/servicemonitors 200")

	kube, istio := worldFakes(t)
	plain, err := NewLiveReader(kube, istio, LiveOptions{Dynamic: monitorClient(t)}).Read(context.Background(), worldMatrix)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plain.Requests {
		if strings.Contains(r, monitoringGroup) {
			t.Errorf("a request without --scrape read %s", r)
		}
	}
	data, err := os.ReadFile(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	both := NewFileReader([]string{"-"}, strings.NewReader(string(data)+"\n---\n"+monitorYAML))
	for _, req := range []Request{worldMatrix, {Source: worldMatrix.Source, Scrape: &ScrapeScope{}}} {
		fileRes, err := both.Read(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(fileRes.Snapshot.PodMonitors), map[bool]int{true: 1, false: 0}[req.Scrape != nil]; got != want {
			t.Errorf("scrape %v: the file reader kept %d PodMonitors, want %d", req.Scrape != nil, got, want)
		}
	}
}

// Absent or forbidden, the optional kinds leave a warning, never a failure;
// forbidden cluster-wide, they are read again in each namespace that matters.
func TestLiveMonitorsDegrade(t *testing.T) {
	t.Run("not installed", func(t *testing.T) {
		dyn := monitorClient(t)
		fail(&dyn.Fake, "list", "podmonitors", notFound("podmonitors"), nil)
		fail(&dyn.Fake, "list", "servicemonitors", notFound("servicemonitors"), nil)
		res := readScrape(t, dyn, &ScrapeScope{Namespaces: []string{"demo"}})
		want := []snapshot.Unread{
			{Resource: "podmonitors.monitoring.coreos.com", Reason: "not installed", Cause: snapshot.UnreadNotInstalled},
			{Resource: "servicemonitors.monitoring.coreos.com", Reason: "not installed", Cause: snapshot.UnreadNotInstalled},
		}
		if !reflect.DeepEqual(res.Snapshot.Unread, want) {
			t.Errorf("unread = %v, want %v", res.Snapshot.Unread, want)
		}
	})
	t.Run("forbidden cluster-wide", func(t *testing.T) {
		dyn := monitorClient(t)
		fail(&dyn.Fake, "list", "podmonitors", forbidden(monitoringGroup, "podmonitors", "list", "at the cluster scope"), clusterWide)
		res := readScrape(t, dyn, &ScrapeScope{Namespaces: []string{"demo"}})
		if pm := res.Snapshot.PodMonitors; len(pm) != 1 || pm[0].Name != "web" {
			t.Errorf("PodMonitors of demo not read per namespace: %v", pm)
		}
		assertRequested(t, res, "LIST /apis/monitoring.coreos.com/v1/podmonitors 403",
			"LIST /apis/monitoring.coreos.com/v1/namespaces/demo/podmonitors 200")
		if len(res.Snapshot.Unread) != 1 || res.Snapshot.Unread[0].Cause != snapshot.UnreadForbidden {
			t.Errorf("unread = %v", res.Snapshot.Unread)
		}
	})
	t.Run("no dynamic client", func(t *testing.T) {
		res := readScrape(t, nil, &ScrapeScope{Namespaces: []string{"demo"}})
		if len(res.Snapshot.Unread) != 2 || res.Snapshot.Unread[0].Cause != snapshot.UnreadNotInstalled {
			t.Errorf("unread = %v", res.Snapshot.Unread)
		}
	})
}

// -n reads the pods of that namespace; -A lists pods and EndpointSlices of
// all namespaces once, in pages as the fleet forms do, and no namespace
// again (SRC is picked from that list too).
func TestLiveScrapeScope(t *testing.T) {
	res := readScrape(t, monitorClient(t), &ScrapeScope{Namespaces: []string{"other"}})
	assertRequested(t, res, "LIST /api/v1/namespaces/other/pods 200", "LIST /apis/discovery.k8s.io/v1/namespaces/other/endpointslices 200")

	res = readScrape(t, monitorClient(t), &ScrapeScope{})
	assertRequested(t, res, "LIST /api/v1/pods?limit=500 200", "LIST /apis/discovery.k8s.io/v1/endpointslices?limit=500 200")
	for _, r := range res.Requests {
		if strings.HasPrefix(r, "LIST /api/v1/namespaces/") {
			t.Errorf("-A read a namespace's pods again: %s", r)
		}
	}
}
