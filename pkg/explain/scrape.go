package explain

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// --scrape: the URLs Prometheus would really dial, one per target, each
// traced as the URL form (SRC = the Prometheus pod). Three kinds of scrape
// configuration are modelled, as they are written in the wild:
//
//   - the prometheus.io/* pod annotations, read by the `kubernetes-pods` (and
//     `kubernetes-pods-slow`) job of the prometheus-community/prometheus
//     chart (charts/prometheus/values.yaml serverFiles prometheus.yml), the
//     de-facto standard copy of Prometheus' example
//     documentation/examples/prometheus-kubernetes.yml. The annotations are
//     read as the pod carries them: Istio's injector has already rewritten
//     them for metrics merging (pkg/kube/inject/webhook.go
//     applyPrometheusMerge) when it applied;
//   - Prometheus-operator PodMonitors (pkg/prometheus/promcfg.go
//     generatePodMonitorConfig);
//   - Prometheus-operator ServiceMonitors (promcfg.go
//     generateServiceMonitorConfig, endpoints or endpointslice role).
//
// What is not modelled: which monitors a given Prometheus object selects
// (spec.podMonitorSelector and friends: every readable monitor counts),
// user relabelings, and whether this Prometheus runs the kubernetes-pods job
// at all (its configuration lives in a Secret, which podreach never reads).

// ScrapeSource names the kind of scrape configuration a target comes from.
type ScrapeSource string

const (
	ScrapeFromAnnotations    ScrapeSource = "annotations"
	ScrapeFromPodMonitor     ScrapeSource = "PodMonitor"
	ScrapeFromServiceMonitor ScrapeSource = "ServiceMonitor"
)

// ScrapeOrigin is where a target came from.
type ScrapeOrigin struct {
	Source ScrapeSource
	// Namespace, Name and Endpoint (the index in podMetricsEndpoints or
	// endpoints) name the monitor; empty for annotations.
	Namespace, Name string
	Endpoint        int
	// Merged is set when the annotations are Istio's metrics-merging
	// rewrite: the target is the istio-agent's merged endpoint, and Merged
	// holds what the application's own annotations said.
	Merged *MergedMetrics
}

// MergedMetrics is the application's scrape configuration that the injector
// moved into the istio-proxy container's ISTIO_PROMETHEUS_ANNOTATIONS
// (status.PrometheusScrapeConfiguration), which the agent scrapes on
// localhost and merges into what it serves. Empty Port: the application had
// no prometheus.io annotations, the agent serves Envoy's and its own metrics.
type MergedMetrics struct {
	Port string `json:"port,omitempty"`
	Path string `json:"path,omitempty"`
}

// String is the origin as the report names it: "annotations",
// "annotations (Istio metrics merging, app :9090/metrics)",
// "PodMonitor shop/cart endpoint 0".
func (o ScrapeOrigin) String() string {
	if o.Source != ScrapeFromAnnotations {
		return fmt.Sprintf("%s %s/%s endpoint %d", o.Source, o.Namespace, o.Name, o.Endpoint)
	}
	if o.Merged == nil {
		return string(o.Source)
	}
	if o.Merged.Port == "" {
		return string(o.Source) + " (Istio metrics merging)"
	}
	return fmt.Sprintf("%s (Istio metrics merging, app :%s%s)", o.Source, o.Merged.Port, o.Merged.Path)
}

// ScrapeTarget is one URL Prometheus dials.
type ScrapeTarget struct {
	Pod snapshot.PodKey
	URL string
	// Query traces the scrape as the URL form: SRC, the URL, GET, and HTTP
	// traffic for http (https is TLS the application originates).
	Query Query
	// Origins are every configuration that yields this URL (a pod may be
	// both annotated and selected by a PodMonitor): Prometheus scrapes it
	// once per job, the path is the same.
	Origins []ScrapeOrigin
}

// ScrapeTargets lists what the Prometheus pod src would scrape among the pods
// of namespaces (nil: all namespaces), sorted by pod and URL. src itself is
// left out: a self-scrape never leaves the pod.
func ScrapeTargets(s *snapshot.Snapshot, src snapshot.PodKey, namespaces []string) ([]ScrapeTarget, error) {
	pods := make(map[[2]string]*corev1.Pod, len(s.Pods))
	for i := range s.Pods {
		pods[[2]string{s.Pods[i].Namespace, s.Pods[i].Name}] = &s.Pods[i]
	}
	if pods[[2]string{src.Namespace, src.Name}] == nil {
		return nil, usageErrorf("pod %q not found in namespace %q", src.Name, src.Namespace)
	}
	inScope := func(ns string) bool { return namespaces == nil || slices.Contains(namespaces, ns) }
	byURL := map[string]*ScrapeTarget{}
	var order []string
	add := func(p *corev1.Pod, u scrapeURL, o ScrapeOrigin) error {
		if !inScope(p.Namespace) || (p.Namespace == src.Namespace && p.Name == src.Name) {
			return nil
		}
		raw := u.String()
		if t := byURL[raw]; t != nil {
			if !slices.ContainsFunc(t.Origins, func(x ScrapeOrigin) bool { return x.String() == o.String() }) {
				t.Origins = append(t.Origins, o)
			}
			return nil
		}
		tg, err := podref.ParseTarget(raw, nil)
		if err != nil {
			return err
		}
		q := Query{Source: src, Target: tg, Method: "GET"}
		if u.scheme == "http" {
			q.Traffic = api.TrafficHTTP
		}
		byURL[raw] = &ScrapeTarget{Pod: snapshot.PodKey{Namespace: p.Namespace, Name: p.Name}, URL: raw, Query: q, Origins: []ScrapeOrigin{o}}
		order = append(order, raw)
		return nil
	}

	for i := range s.Pods {
		p := &s.Pods[i]
		urls, origin := annotationTargets(p)
		for _, u := range urls {
			if err := add(p, u, origin); err != nil {
				return nil, err
			}
		}
	}
	monitors := []struct {
		source ScrapeSource
		list   []snapshot.Monitor
	}{{ScrapeFromPodMonitor, s.PodMonitors}, {ScrapeFromServiceMonitor, s.ServiceMonitors}}
	for _, kind := range monitors {
		for _, m := range kind.list {
			endpoints := m.Spec.PodMetricsEndpoints
			if kind.source == ScrapeFromServiceMonitor {
				endpoints = m.Spec.Endpoints
			}
			for i, ep := range endpoints {
				o := ScrapeOrigin{Source: kind.source, Namespace: m.Namespace, Name: m.Name, Endpoint: i}
				for _, t := range monitorTargets(s, pods, kind.source, m, ep) {
					if err := add(t.pod, t.url, o); err != nil {
						return nil, err
					}
				}
			}
		}
	}

	out := make([]ScrapeTarget, 0, len(order))
	for _, raw := range order {
		out = append(out, *byURL[raw])
	}
	slices.SortFunc(out, func(a, b ScrapeTarget) int {
		return cmp.Or(cmp.Compare(a.Pod.Namespace, b.Pod.Namespace), cmp.Compare(a.Pod.Name, b.Pod.Name), cmp.Compare(a.URL, b.URL))
	})
	return out, nil
}

// scrapeURL is what Prometheus builds from a target's __scheme__,
// __address__ and __metrics_path__. port 0: the address had none, the HTTP
// client dials the scheme's default (80 or 443).
type scrapeURL struct {
	scheme, ip string
	port       int32
	path       string
}

func (u scrapeURL) String() string {
	port := u.port
	if port == 0 {
		port = map[string]int32{"http": 80, "https": 443}[u.scheme]
	}
	path := u.path
	if !strings.HasPrefix(path, "/") {
		// Go's url.URL (which Prometheus builds the scrape URL with) puts a
		// "/" between host and a relative path: prometheus.io/path: metrics
		// scrapes /metrics.
		path = "/" + path
	}
	return u.scheme + "://" + net.JoinHostPort(u.ip, strconv.Itoa(int(port))) + path
}

// Relabelling regexes of the kubernetes-pods job; Prometheus anchors them.
var (
	annotationSchemeRE = regexp.MustCompile(`^https?$`)
	annotationPortRE   = regexp.MustCompile(`^\d+$`)
)

// annotationTargets mirrors the kubernetes-pods job (chart values.yaml):
//
//   - keep prometheus.io/scrape == "true" (kubernetes-pods-slow keeps
//     prometheus.io/scrape-slow == "true" with the same rules: one of the two
//     jobs scrapes the pod);
//   - __scheme__ from prometheus.io/scheme when it is http or https;
//   - __metrics_path__ from prometheus.io/path when not empty (default
//     /metrics);
//   - __address__ = pod IP:prometheus.io/port when the port is digits;
//     otherwise the pod role's own targets stay (discovery/kubernetes/pod.go
//     buildPod): one per declared port of every container and init
//     container, the bare pod IP for a container without ports;
//   - drop the phases Pending, Succeeded, Failed; the pod role has no target
//     for a pod without IP.
//
// Prometheus matches annotations through their sanitized label names
// (prometheus.io/port → prometheus_io_port), so does this.
func annotationTargets(p *corev1.Pod) ([]scrapeURL, ScrapeOrigin) {
	origin := ScrapeOrigin{Source: ScrapeFromAnnotations}
	ip := p.Status.PodIP
	if ip == "" {
		return nil, origin
	}
	switch p.Status.Phase {
	case corev1.PodPending, corev1.PodSucceeded, corev1.PodFailed:
		return nil, origin
	}
	ann := prometheusAnnotations(p)
	if ann["scrape"] != "true" && ann["scrape_slow"] != "true" {
		return nil, origin
	}
	scheme := "http"
	if annotationSchemeRE.MatchString(ann["scheme"]) {
		scheme = ann["scheme"]
	}
	path := "/metrics"
	if ann["path"] != "" {
		path = ann["path"]
	}
	origin.Merged = mergedMetrics(p, ann)
	if port := ann["port"]; annotationPortRE.MatchString(port) {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, origin // an address Prometheus cannot dial
		}
		return []scrapeURL{{scheme: scheme, ip: ip, port: int32(n), path: path}}, origin
	}
	var urls []scrapeURL
	for _, cp := range containerPorts(p) {
		u := scrapeURL{scheme: scheme, ip: ip, port: cp.number, path: path}
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	return urls, origin
}

// prometheusAnnotations returns the prometheus.io/* annotations by the
// suffix of their sanitized name (scrape, scrape_slow, scheme, path, port).
// When two annotations sanitize to the same label (prometheus.io/port and
// prometheus_io/port), Prometheus keeps one of them at random; the one
// spelled prometheus.io/ wins here.
func prometheusAnnotations(p *corev1.Pod) map[string]string {
	out := map[string]string{}
	keys := make([]string, 0, len(p.Annotations))
	for k := range p.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, preferred := range []bool{false, true} { // the preferred spelling last
		for _, k := range keys {
			if strings.HasPrefix(k, "prometheus.io/") != preferred {
				continue
			}
			if rest, ok := strings.CutPrefix(sanitizeLabelName(k), "prometheus_io_"); ok {
				out[rest] = p.Annotations[k]
			}
		}
	}
	return out
}

// sanitizeLabelName mirrors prometheus/util/strutil SanitizeLabelName: every
// character outside [a-zA-Z0-9_] becomes '_'.
func sanitizeLabelName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// mergedMetrics recognises Istio's metrics-merging rewrite
// (pkg/kube/inject/webhook.go applyPrometheusMerge, Istio 1.31): on an
// injected pod whose scrape annotation was not "false", unless
// prometheus.istio.io/merge-metrics: "false" or meshConfig
// enablePrometheusMerge: false, the injector moves the prometheus.io
// annotations into the istio-proxy env ISTIO_PROMETHEUS_ANNOTATIONS and
// writes prometheus.io/port = the status port (15020, or the pod's
// status.sidecar.istio.io/port), prometheus.io/path = /stats/prometheus.
// The agent serves that port itself, excluded from inbound capture
// (istio-init -d), so a scrape without mTLS works under STRICT.
func mergedMetrics(p *corev1.Pod, ann map[string]string) *MergedMetrics {
	proxy := istioProxyContainer(p)
	if proxy == nil {
		return nil
	}
	statusPort := "15020"
	if v := p.Annotations["status.sidecar.istio.io/port"]; v != "" {
		statusPort = v
	}
	if ann["port"] != statusPort || ann["path"] != "/stats/prometheus" {
		return nil
	}
	m := &MergedMetrics{}
	for _, e := range proxy.Env {
		if e.Name == "ISTIO_PROMETHEUS_ANNOTATIONS" {
			_ = json.Unmarshal([]byte(e.Value), m) // a bad value: the agent scrapes nothing of the app
		}
	}
	return m
}

// containerPort is one target of the pod role: a declared port of a
// container or init container, or number 0 for a container without ports.
type containerPort struct {
	name   string
	number int32
}

// containerPorts lists the pod role's targets in Prometheus' order
// (containers, then init containers: discovery/kubernetes/pod.go buildPod).
func containerPorts(p *corev1.Pod) []containerPort {
	var out []containerPort
	for _, c := range append(slices.Clip(p.Spec.Containers), p.Spec.InitContainers...) {
		if len(c.Ports) == 0 {
			out = append(out, containerPort{})
			continue
		}
		for _, cp := range c.Ports {
			out = append(out, containerPort{name: cp.Name, number: cp.ContainerPort})
		}
	}
	return out
}

// monitorNamespaces mirrors promcfg.go getNamespacesFromNamespaceSelector:
// any → every namespace (nil), matchNames → those, neither → the monitor's.
func monitorNamespaces(own string, sel snapshot.MonitorNamespaceSelector) []string {
	switch {
	case sel.Any:
		return nil
	case len(sel.MatchNames) > 0:
		return sel.MatchNames
	}
	return []string{own}
}

// selectedPods are the pods a PodMonitor selects: in its namespaces, whose
// labels match its selector, with an IP, not Failed or Succeeded (the
// operator's running filter, generateRunningFilter).
func selectedPods(s *snapshot.Snapshot, own string, nsSel snapshot.MonitorNamespaceSelector, sel metav1.LabelSelector) []*corev1.Pod {
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		return nil // the operator rejects the monitor
	}
	nss := monitorNamespaces(own, nsSel)
	var out []*corev1.Pod
	for i := range s.Pods {
		p := &s.Pods[i]
		if nss != nil && !slices.Contains(nss, p.Namespace) || !selector.Matches(labels.Set(p.Labels)) {
			continue
		}
		if p.Status.PodIP == "" || p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		out = append(out, p)
	}
	return out
}

// podMonitorTargets filters the pod role's targets by the endpoint's port
// (generatePodMonitorConfig: port keeps the container port name, else
// portNumber the number, else the deprecated targetPort the name or number;
// none keeps every target).
func podMonitorTargets(p *corev1.Pod, ep snapshot.MonitorEndpoint) []scrapeURL {
	scheme, path := monitorSchemePath(ep)
	var out []scrapeURL
	for _, cp := range containerPorts(p) {
		if !portSelected(ep, true, "", &cp) {
			continue
		}
		u := scrapeURL{scheme: scheme, ip: p.Status.PodIP, port: cp.number, path: path}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// portSelected applies an endpoint's port filter to one target of the pod
// or endpoints role. PodMonitor (generatePodMonitorConfig): port keeps the
// container port name, else portNumber the number, else the deprecated
// targetPort the name or number. ServiceMonitor
// (generateServiceMonitorConfig): port keeps the EndpointSlice port name
// (slicePort), else targetPort the container port name or number, which a
// target has only when a container declares its port. No filter keeps every
// target.
func portSelected(ep snapshot.MonitorEndpoint, podMonitor bool, slicePort string, cp *containerPort) bool {
	name, number := "", int32(-1)
	if cp != nil {
		name, number = cp.name, cp.number
	}
	switch {
	case ep.Port != "" && podMonitor:
		return name == ep.Port
	case ep.Port != "":
		return slicePort == ep.Port
	case podMonitor && ep.PortNumber != 0:
		return number == ep.PortNumber
	case ep.TargetPort != nil && ep.TargetPort.Type == intstr.String && ep.TargetPort.StrVal != "":
		return name == ep.TargetPort.StrVal
	case ep.TargetPort != nil && ep.TargetPort.Type == intstr.Int && ep.TargetPort.IntVal != 0:
		return number == ep.TargetPort.IntVal
	}
	return true
}

// monitorSchemePath: scheme lower-cased (monitoringv1.Scheme.String), http
// and /metrics by default (Prometheus' scrape_config defaults).
func monitorSchemePath(ep snapshot.MonitorEndpoint) (string, string) {
	scheme, path := strings.ToLower(ep.Scheme), ep.Path
	if scheme == "" {
		scheme = "http"
	}
	if path == "" {
		path = "/metrics"
	}
	return scheme, path
}

// selectedServices are the Services a ServiceMonitor selects.
func selectedServices(s *snapshot.Snapshot, own string, nsSel snapshot.MonitorNamespaceSelector, sel metav1.LabelSelector) []*corev1.Service {
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		return nil
	}
	nss := monitorNamespaces(own, nsSel)
	var out []*corev1.Service
	for i := range s.Services {
		svc := &s.Services[i]
		if (nss == nil || slices.Contains(nss, svc.Namespace)) && selector.Matches(labels.Set(svc.Labels)) {
			out = append(out, svc)
		}
	}
	return out
}

type podURL struct {
	pod *corev1.Pod
	url scrapeURL
}

// monitorTargets are the targets of one endpoint of a PodMonitor or
// ServiceMonitor.
func monitorTargets(s *snapshot.Snapshot, pods map[[2]string]*corev1.Pod, source ScrapeSource, m snapshot.Monitor, ep snapshot.MonitorEndpoint) []podURL {
	var out []podURL
	if source == ScrapeFromPodMonitor {
		for _, p := range selectedPods(s, m.Namespace, m.Spec.NamespaceSelector, m.Spec.Selector) {
			for _, u := range podMonitorTargets(p, ep) {
				out = append(out, podURL{p, u})
			}
		}
		return out
	}
	for _, svc := range selectedServices(s, m.Namespace, m.Spec.NamespaceSelector, m.Spec.Selector) {
		out = append(out, serviceMonitorTargets(s, pods, svc, ep)...)
	}
	return out
}

// serviceMonitorTargets mirrors Prometheus' endpoints / endpointslice role
// (discovery/kubernetes/endpointslice.go buildEndpointSlice): one target per
// endpoint address and slice port (address = the endpoint's IP, port = the
// slice's port, that is the resolved target port), ready or not; then, for
// every pod seen, one target per container port no slice port covered.
// generateServiceMonitorConfig then keeps, with port, the targets whose
// slice port name matches; with targetPort, those whose container port name
// or number matches; with neither, all. Endpoints that are not pods (no
// targetRef) are left out: podreach traces pod targets.
func serviceMonitorTargets(s *snapshot.Snapshot, pods map[[2]string]*corev1.Pod, svc *corev1.Service, ep snapshot.MonitorEndpoint) []podURL {
	scheme, path := monitorSchemePath(ep)
	var out []podURL
	seen := map[*corev1.Pod]map[int32]bool{}
	var seenOrder []*corev1.Pod
	keep := func(p *corev1.Pod, ip string, slicePortName string, port int32) {
		if portSelected(ep, false, slicePortName, containerPortByNumber(p, port)) {
			u := podURL{p, scrapeURL{scheme: scheme, ip: ip, port: port, path: path}}
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	for i := range s.EndpointSlices {
		es := &s.EndpointSlices[i]
		if es.Namespace != svc.Namespace || es.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		for _, e := range es.Endpoints {
			if e.TargetRef == nil || e.TargetRef.Kind != "Pod" || len(e.Addresses) == 0 {
				continue
			}
			p := pods[[2]string{es.Namespace, e.TargetRef.Name}]
			if p == nil {
				continue
			}
			if seen[p] == nil {
				seen[p] = map[int32]bool{}
				seenOrder = append(seenOrder, p)
			}
			for _, sp := range es.Ports {
				if sp.Port == nil || (sp.Protocol != nil && *sp.Protocol != corev1.ProtocolTCP) {
					continue
				}
				seen[p][*sp.Port] = true
				keep(p, e.Addresses[0], deref(sp.Name), *sp.Port)
			}
		}
	}
	for _, p := range seenOrder {
		if p.Status.PodIP == "" {
			continue
		}
		for _, cp := range containerPorts(p) {
			if cp.number != 0 && !seen[p][cp.number] {
				keep(p, p.Status.PodIP, "", cp.number)
			}
		}
	}
	return out
}

// containerPortByNumber is the container port the endpoints role matches
// to a slice port by number (its __meta_kubernetes_pod_container_port_*).
func containerPortByNumber(p *corev1.Pod, port int32) *containerPort {
	for _, cp := range containerPorts(p) {
		if cp.number == port {
			return &cp
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
