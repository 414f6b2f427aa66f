package explain

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// scrapePod builds a running pod with an IP; ports are "name:number" per
// container (an empty string: a container without ports).
func scrapePod(ns, name, ip string, ann map[string]string, containers ...string) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann, Labels: map[string]string{"app": name}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
	for i, c := range containers {
		ct := corev1.Container{Name: fmt.Sprintf("c%d", i)}
		for _, port := range strings.Fields(c) {
			n, num, _ := strings.Cut(port, ":")
			var v int32
			fmt.Sscan(num, &v)
			ct.Ports = append(ct.Ports, corev1.ContainerPort{Name: n, ContainerPort: v, Protocol: corev1.ProtocolTCP})
		}
		p.Spec.Containers = append(p.Spec.Containers, ct)
	}
	return p
}

// withSidecar adds the istio-proxy container the injector adds (port
// http-envoy-prom 15090), with env ISTIO_PROMETHEUS_ANNOTATIONS when given.
func withSidecar(p corev1.Pod, promEnv string) corev1.Pod {
	c := corev1.Container{Name: "istio-proxy", Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}}
	if promEnv != "" {
		c.Env = []corev1.EnvVar{{Name: "ISTIO_PROMETHEUS_ANNOTATIONS", Value: promEnv}}
	}
	p.Spec.Containers = append(p.Spec.Containers, c)
	p.Annotations["sidecar.istio.io/status"] = `{"containers":["istio-proxy"]}`
	return p
}

var promPod = scrapePod("monitoring", "prometheus-0", "10.0.0.9", nil, "web:9090")

// merged is what the injector writes on a pod it rewrote for metrics merging.
var merged = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus"}

func copyMap(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func scrapeRows(t *testing.T, s *snapshot.Snapshot, nss []string) []string {
	t.Helper()
	s.Pods = append(s.Pods, promPod)
	targets, err := ScrapeTargets(s, snapshot.PodKey{Namespace: "monitoring", Name: "prometheus-0"}, nss)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, tg := range targets {
		var origins []string
		for _, o := range tg.Origins {
			origins = append(origins, o.String())
		}
		rows = append(rows, tg.Pod.String()+" "+tg.URL+" "+strings.Join(origins, "; "))
		if tg.Query.Target == nil || tg.Query.Target.Raw != tg.URL || tg.Query.Source.Name != "prometheus-0" {
			t.Errorf("%s: query %+v does not trace the URL from the source", tg.URL, tg.Query)
		}
		if want := map[bool]api.Traffic{true: api.TrafficHTTP, false: ""}[strings.HasPrefix(tg.URL, "http:")]; tg.Query.Traffic != want {
			t.Errorf("%s: traffic %q, want %q", tg.URL, tg.Query.Traffic, want)
		}
	}
	return rows
}

// The prometheus.io annotations as the kubernetes-pods job of the
// prometheus-community/prometheus chart relabels them (charts/prometheus/
// values.yaml), over the pod role's targets (prometheus discovery/kubernetes/
// pod.go buildPod), and Istio's metrics-merging rewrite (istio
// pkg/kube/inject/webhook.go applyPrometheusMerge).
func TestScrapeAnnotations(t *testing.T) {
	cases := []struct {
		name string
		pod  corev1.Pod
		want []string
	}{
		{"no annotation: not scraped (keep prometheus_io_scrape=true)",
			scrapePod("a", "web", "10.1.0.1", map[string]string{}, "http:8080"), nil},
		{"scrape must be exactly true (anchored regex)",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "True"}, "http:8080"), nil},
		{"port annotation: pod IP:port, default path /metrics, http",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9102"}, "http:8080"),
			[]string{"a/web http://10.1.0.1:9102/metrics annotations"}},
		{"path and scheme annotations",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8443", "prometheus.io/path": "/admin/metrics", "prometheus.io/scheme": "https"}, "https:8443"),
			[]string{"a/web https://10.1.0.1:8443/admin/metrics annotations"}},
		{"a scheme other than http/https is ignored (regex (https?))",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/scheme": "HTTPS"}, "http:8080"),
			[]string{"a/web http://10.1.0.1:8080/metrics annotations"}},
		{"no port annotation: every declared container port",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true"}, "http:8080 metrics:9090", "admin:8081"),
			[]string{"a/web http://10.1.0.1:8080/metrics annotations", "a/web http://10.1.0.1:8081/metrics annotations", "a/web http://10.1.0.1:9090/metrics annotations"}},
		{"no port annotation, container without ports: pod IP, the scheme's default port",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true"}, ""),
			[]string{"a/web http://10.1.0.1:80/metrics annotations"}},
		{"a port that is not digits leaves the pod role's targets",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "metrics"}, "metrics:9090"),
			[]string{"a/web http://10.1.0.1:9090/metrics annotations"}},
		{"scrape-slow alone: the kubernetes-pods-slow job scrapes it the same way",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape-slow": "true", "prometheus.io/port": "9102"}, "http:8080"),
			[]string{"a/web http://10.1.0.1:9102/metrics annotations"}},
		{"annotations are matched by sanitized label name",
			scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus_io/scrape": "true", "prometheus-io/port": "9102"}, "http:8080"),
			[]string{"a/web http://10.1.0.1:9102/metrics annotations"}},
		{"Istio metrics merging: the injector's rewrite to the agent, app config in ISTIO_PROMETHEUS_ANNOTATIONS",
			withSidecar(scrapePod("a", "web", "10.1.0.1", copyMap(merged), "http:8080 metrics:9090"), `{"scrape":"true","path":"/metrics","port":"9090"}`),
			[]string{"a/web http://10.1.0.1:15020/stats/prometheus annotations (Istio metrics merging, app :9090/metrics)"}},
		{"Istio metrics merging of a pod without prometheus.io annotations (scrape defaults to true)",
			withSidecar(scrapePod("a", "web", "10.1.0.1", copyMap(merged), "http:8080"), ""),
			[]string{"a/web http://10.1.0.1:15020/stats/prometheus annotations (Istio metrics merging)"}},
		{"Istio merging keeps prometheus.io/scheme (clearPrometheusAnnotations leaves it): https to the plaintext agent port",
			withSidecar(scrapePod("a", "web", "10.1.0.1", func() map[string]string { m := copyMap(merged); m["prometheus.io/scheme"] = "https"; return m }(), "https:8443"), `{"scrape":"true","port":"8443"}`),
			[]string{"a/web https://10.1.0.1:15020/stats/prometheus annotations (Istio metrics merging, app :8443)"}},
		{"opted out of merging (prometheus.istio.io/merge-metrics: false): the app's own annotations, no rewrite",
			withSidecar(scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.istio.io/merge-metrics": "false", "prometheus.io/scrape": "true", "prometheus.io/port": "9090"}, "http:8080 metrics:9090"), ""),
			[]string{"a/web http://10.1.0.1:9090/metrics annotations"}},
		{"scrape false on an injected pod: no merging, not scraped",
			withSidecar(scrapePod("a", "web", "10.1.0.1", map[string]string{"prometheus.io/scrape": "false"}, "http:8080"), ""), nil},
		{"no pod IP: the pod role has no target",
			scrapePod("a", "web", "", map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9102"}, "http:8080"), nil},
		{"phase Succeeded is dropped",
			func() corev1.Pod {
				p := scrapePod("a", "job", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9102"}, "")
				p.Status.Phase = corev1.PodSucceeded
				return p
			}(), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := scrapeRows(t, &snapshot.Snapshot{Pods: []corev1.Pod{tc.pod}}, nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("targets\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// PodMonitor endpoints as prometheus-operator generates their scrape
// configs (pkg/prometheus/promcfg.go generatePodMonitorConfig and
// getNamespacesFromNamespaceSelector).
func TestScrapePodMonitor(t *testing.T) {
	pods := []corev1.Pod{
		scrapePod("shop", "cart", "10.1.0.1", map[string]string{}, "http:8080 metrics:9090"),
		scrapePod("shop", "other", "10.1.0.2", map[string]string{}, "metrics:9090"),
		scrapePod("pay", "cart", "10.1.0.3", map[string]string{}, "http:8080 metrics:9090"),
	}
	n := func(i int32) *intstr.IntOrString { v := intstr.FromInt32(i); return &v }
	s := func(v string) *intstr.IntOrString { x := intstr.FromString(v); return &x }
	pm := func(ns string, nsSel snapshot.MonitorNamespaceSelector, eps ...snapshot.MonitorEndpoint) snapshot.Monitor {
		return snapshot.Monitor{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cart"}, Spec: snapshot.MonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}}, NamespaceSelector: nsSel, PodMetricsEndpoints: eps}}
	}
	cases := []struct {
		name  string
		pm    snapshot.Monitor
		scope []string
		want  []string
	}{
		{"port by container port name; own namespace when no namespaceSelector",
			pm("shop", snapshot.MonitorNamespaceSelector{}, snapshot.MonitorEndpoint{Port: "metrics"}), nil,
			[]string{"shop/cart http://10.1.0.1:9090/metrics PodMonitor shop/cart endpoint 0"}},
		{"portNumber, path and upper-case scheme",
			pm("shop", snapshot.MonitorNamespaceSelector{}, snapshot.MonitorEndpoint{PortNumber: 8080, Path: "/q/metrics", Scheme: "HTTPS"}), nil,
			[]string{"shop/cart https://10.1.0.1:8080/q/metrics PodMonitor shop/cart endpoint 0"}},
		{"deprecated targetPort by number and by name",
			pm("shop", snapshot.MonitorNamespaceSelector{}, snapshot.MonitorEndpoint{TargetPort: n(9090)}, snapshot.MonitorEndpoint{TargetPort: s("http")}), nil,
			[]string{"shop/cart http://10.1.0.1:8080/metrics PodMonitor shop/cart endpoint 1", "shop/cart http://10.1.0.1:9090/metrics PodMonitor shop/cart endpoint 0"}},
		{"a port name no container declares: no target",
			pm("shop", snapshot.MonitorNamespaceSelector{}, snapshot.MonitorEndpoint{Port: "http-metrics"}), nil, nil},
		{"namespaceSelector any: every namespace",
			pm("monitoring", snapshot.MonitorNamespaceSelector{Any: true}, snapshot.MonitorEndpoint{Port: "metrics"}), nil,
			[]string{"pay/cart http://10.1.0.3:9090/metrics PodMonitor monitoring/cart endpoint 0", "shop/cart http://10.1.0.1:9090/metrics PodMonitor monitoring/cart endpoint 0"}},
		{"namespaceSelector matchNames",
			pm("monitoring", snapshot.MonitorNamespaceSelector{MatchNames: []string{"pay"}}, snapshot.MonitorEndpoint{Port: "metrics"}), nil,
			[]string{"pay/cart http://10.1.0.3:9090/metrics PodMonitor monitoring/cart endpoint 0"}},
		{"-n bounds the targets considered",
			pm("monitoring", snapshot.MonitorNamespaceSelector{Any: true}, snapshot.MonitorEndpoint{Port: "metrics"}), []string{"shop"},
			[]string{"shop/cart http://10.1.0.1:9090/metrics PodMonitor monitoring/cart endpoint 0"}},
		{"a monitor in the pods' namespace with no namespaceSelector does not reach other namespaces",
			pm("monitoring", snapshot.MonitorNamespaceSelector{}, snapshot.MonitorEndpoint{Port: "metrics"}), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := scrapeRows(t, &snapshot.Snapshot{Pods: slices.Clone(pods), PodMonitors: []snapshot.Monitor{tc.pm}}, tc.scope)
			if !slices.Equal(got, tc.want) {
				t.Errorf("targets\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// ServiceMonitor endpoints over Prometheus' endpointslice role (prometheus
// discovery/kubernetes/endpointslice.go buildEndpointSlice: slice ports,
// then the uncovered container ports of the pods seen) and the operator's
// filters (promcfg.go generateServiceMonitorConfig).
func TestScrapeServiceMonitor(t *testing.T) {
	cart := scrapePod("shop", "cart", "10.1.0.1", map[string]string{}, "http:8080 metrics:9090")
	tcp := corev1.ProtocolTCP
	port := func(name string, n int32) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: &name, Port: &n, Protocol: &tcp}
	}
	snap := func(sm snapshot.Monitor) *snapshot.Snapshot {
		return &snapshot.Snapshot{
			Pods:     []corev1.Pod{cart},
			Services: []corev1.Service{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart", Labels: map[string]string{"app": "cart"}}}},
			EndpointSlices: []discoveryv1.EndpointSlice{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-x", Labels: map[string]string{discoveryv1.LabelServiceName: "cart"}},
				Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "cart"}}},
				Ports:      []discoveryv1.EndpointPort{port("http", 8080)},
			}},
			ServiceMonitors: []snapshot.Monitor{sm},
		}
	}
	sm := func(ep snapshot.MonitorEndpoint, sel map[string]string) snapshot.Monitor {
		return snapshot.Monitor{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "cart"}, Spec: snapshot.MonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: sel}, NamespaceSelector: snapshot.MonitorNamespaceSelector{MatchNames: []string{"shop"}},
			Endpoints: []snapshot.MonitorEndpoint{ep}}}
	}
	tp := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	app := map[string]string{"app": "cart"}
	cases := []struct {
		name string
		sm   snapshot.Monitor
		want []string
	}{
		{"port names the Service port: endpoint address and slice port (the target port)",
			sm(snapshot.MonitorEndpoint{Port: "http"}, app), []string{"shop/cart http://10.1.0.1:8080/metrics ServiceMonitor monitoring/cart endpoint 0"}},
		{"targetPort by number reaches a container port the Service does not declare",
			sm(snapshot.MonitorEndpoint{TargetPort: tp(intstr.FromInt32(9090))}, app), []string{"shop/cart http://10.1.0.1:9090/metrics ServiceMonitor monitoring/cart endpoint 0"}},
		{"targetPort by container port name",
			sm(snapshot.MonitorEndpoint{TargetPort: tp(intstr.FromString("metrics")), Path: "/prom"}, app), []string{"shop/cart http://10.1.0.1:9090/prom ServiceMonitor monitoring/cart endpoint 0"}},
		{"a port name the Service does not have: nothing",
			sm(snapshot.MonitorEndpoint{Port: "metrics"}, app), nil},
		{"no port filter: slice ports and the uncovered container ports",
			sm(snapshot.MonitorEndpoint{}, app), []string{"shop/cart http://10.1.0.1:8080/metrics ServiceMonitor monitoring/cart endpoint 0", "shop/cart http://10.1.0.1:9090/metrics ServiceMonitor monitoring/cart endpoint 0"}},
		{"selector that matches no Service",
			sm(snapshot.MonitorEndpoint{Port: "http"}, map[string]string{"app": "other"}), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := scrapeRows(t, snap(tc.sm), nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("targets\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// A URL both annotated and selected by a monitor is one target with both
// origins; the Prometheus pod itself is left out.
func TestScrapeMergesOriginsSkipsSelf(t *testing.T) {
	cart := scrapePod("shop", "cart", "10.1.0.1", map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}, "metrics:9090")
	self := promPod
	self.Annotations = map[string]string{"prometheus.io/scrape": "true"}
	s := &snapshot.Snapshot{Pods: []corev1.Pod{cart, self}, PodMonitors: []snapshot.Monitor{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"},
		Spec:       snapshot.MonitorSpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}}, PodMetricsEndpoints: []snapshot.MonitorEndpoint{{Port: "metrics"}}},
	}}}
	targets, err := ScrapeTargets(s, snapshot.PodKey{Namespace: "monitoring", Name: "prometheus-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || len(targets[0].Origins) != 2 {
		t.Fatalf("targets %+v, want one with two origins", targets)
	}
	if _, err := ScrapeTargets(s, snapshot.PodKey{Namespace: "monitoring", Name: "nope"}, nil); err == nil {
		t.Error("an unknown source was accepted")
	}
}
