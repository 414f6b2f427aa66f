package explain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

const (
	apiV1       = "v1"
	securityAPI = "security.istio.io/v1"
	networkAPI  = "networking.istio.io/v1"
)

// fixStage attaches the smallest fixes to a failing request. Fixes key on
// reason codes, rules and structured fields, never on message text. Each
// candidate carries its concrete change (a patch, a dial) and only those the
// re-trace proves are kept (prove.go).
func (t *tracer) fixStage(f *flow) {
	r := f.r
	if r.Verdict != api.VerdictFails {
		return
	}
	seen := map[string]bool{}
	var cands []candidate
	for _, reason := range r.Reasons {
		add := func(fx api.Fix, effect ...snapshot.ObjectPatch) {
			if seen[fx.Message] {
				return
			}
			seen[fx.Message] = true
			fx.For = reason.Code
			cands = append(cands, candidate{fix: fx, effect: effect})
		}
		switch reason.Code {
		case api.ReasonStrictRejectsPlaintext, api.ReasonStrictRejectsNonIstioTLS:
			t.strictFixes(f, add)
		case api.ReasonProtocolError:
			if r.Inbound != nil && r.TLS != api.TLSMutual {
				obj, objRef := t.inboundService(r)
				fx := api.Fix{Object: obj, Ref: objRef, Field: "spec.ports[].name / appProtocol",
					Message: fmt.Sprintf("port %d is declared HTTP but the client sends raw TCP: name it tcp-… or set appProtocol: tcp (or send HTTP)", r.Inbound.Port)}
				if tgt := t.inboundTarget(r); tgt != nil {
					fx.Patch = servicePortsPatch(tgt.svc, tgt.sp.port, func(p *corev1.ServicePort) { p.AppProtocol = strPtr("tcp") })
				}
				add(fx)
			} else {
				fx := api.Fix{Object: "PeerAuthentication", Ref: reason.Object, Field: "spec.mtls.mode",
					Message: "the destination's policy is DISABLE while the client sends Istio mTLS: remove the DISABLE (or set a DestinationRule tls.mode DISABLE for this host)"}
				if o := reason.Object; o != nil && o.Kind == "PeerAuthentication" {
					fx.Patch = mergePatch(securityAPI, "PeerAuthentication", o.Namespace, o.Name, map[string]any{"spec": map[string]any{"mtls": nil, "portLevelMtls": nil}})
				}
				add(fx)
			}
		case api.ReasonRegistryOnlyBlocked:
			t.registryOnlyFixes(f, reason, add)
		case api.ReasonDNSNXDomain:
			if r.Form == api.FormExternal {
				// Not a cluster name: only upstream DNS, or the sidecar's DNS
				// proxy for a ServiceEntry host, can answer it.
				hasSE := t.dataplane == api.DataplaneSidecar && len(t.m.byHost[strings.TrimSuffix(strings.ToLower(r.Address), ".")]) > 0
				switch {
				case hasSE && t.sc.proxy.dnsCapture:
					add(api.Fix{Object: "ServiceEntry", Field: "spec.addresses", Message: "the sidecar's DNS proxy does not answer this ServiceEntry host: give it spec.addresses, or let istiod allocate it a VIP (no networking.istio.io/enable-autoallocate-ip=false label, resolution other than NONE), and check that its exportTo and this proxy's Sidecar egress hosts include it"})
				case hasSE:
					add(api.Fix{Object: "Pod", Field: "proxy.istio.io/config proxyMetadata", Message: "set ISTIO_META_DNS_CAPTURE: \"true\" so that the sidecar answers this ServiceEntry host (its addresses, or the VIP istiod allocates), or give the ServiceEntry spec.addresses and a DNS record"})
				default:
					add(api.Fix{Object: "caller", Message: "this name is upstream DNS's to answer: check that it resolves from the pod (or register it with a ServiceEntry that has addresses, with the sidecar's DNS proxy on)"})
				}
				break
			}
			if r.Form == "" || r.Form == api.FormServiceShort || !strings.Contains(r.Address, ".") {
				fx := api.Fix{Object: "caller", Message: fmt.Sprintf("from namespace %s use <service>.<namespace> (a short name only resolves in the caller's namespace)", t.src.Namespace)}
				if t.dst != nil {
					fx.Dial = &api.Dial{Address: r.Address + "." + t.dst.Namespace, Port: r.Port}
					fx.Message = fmt.Sprintf("from namespace %s use %s (a short name only resolves in the caller's namespace)", t.src.Namespace, fx.Dial.Address)
				}
				add(fx)
			}
		case api.ReasonNoVirtualHost, api.ReasonNoRouteMatch:
			fx := api.Fix{Object: "VirtualService", Ref: reason.Object, Field: "spec.http[].match", Message: "add a route without match (a default) so every request of this host is routed"}
			fx.Patch = t.defaultRoutePatch(reason.Object)
			add(fx)
		case api.ReasonWrongDestination:
			t.wrongDestinationFixes(f, add)
		case api.ReasonAuthzNotAllowed, api.ReasonAuthzDenied:
			t.authzFixes(f, reason, add)
		case api.ReasonAmbientStrict:
			t.ambientStrictFixes(f, add)
		}
	}
	r.Fixes = t.prove(f, cands)
}

// addFunc records a candidate fix; effect, when given, is what the model
// sees once the fix has taken effect (when that is not the patch itself).
type addFunc func(fx api.Fix, effect ...snapshot.ObjectPatch)

// strictFixes: the client sent plaintext (or non-Istio TLS) to a STRICT port.
func (t *tracer) strictFixes(f *flow, add addFunc) {
	r := f.r
	in := r.Inbound
	port := int32(0)
	if in != nil {
		port = in.Port
	}
	switch {
	case t.dataplane == api.DataplaneAmbient:
		// ztunnel sent plain TCP (the destination accepts no HBONE): a
		// sidecar for the caller is not the change; the port can accept it.
	case t.dataplane != api.DataplaneSidecar || !r.Captured:
		t.noSidecarFixes(f, add, true)
	case r.Outbound != nil && r.Outbound.Cluster == passthroughCluster:
		if r.Traffic == api.TrafficTCP {
			t.tcpOnHTTPPortFixes(f, add)
		}
		if svc := t.headlessHTTPService(r); svc != nil {
			if addr, ok := t.perPodName(r); ok {
				add(api.Fix{Object: "caller", Dial: &api.Dial{Address: addr, Port: r.Port},
					Message: fmt.Sprintf("call the pod by its per-pod name (%s:%d) so the request uses the service cluster with mTLS", addr, r.Port)})
			}
			add(api.Fix{Object: svc.kindName(), Ref: serviceRef(svc), Field: fmt.Sprintf("spec.ports[port=%d].appProtocol", r.Port),
				Patch:   servicePortsPatch(svc, r.Port, func(p *corev1.ServicePort) { p.AppProtocol = strPtr("tcp") }),
				Message: "or make the port tcp (appProtocol: tcp, or a tcp-… name, or unnamed), so the headless per-pod listener carries pod-IP traffic with mTLS (Istio ≥ 1.12)"})
		} else if r.Form == api.FormPodIP || r.Form == api.FormIP {
			if p := t.m.podByIP[r.DialedIP]; p != nil && t.m.serviceTargets(p, port) == nil {
				if fx, ok := t.declarePortFix(p, port, r.Port); ok {
					add(fx)
				}
			} else if p != nil {
				if tgt := t.m.serviceTargets(p, port); tgt != nil {
					add(api.Fix{Object: "caller", Dial: &api.Dial{Address: tgt.svc.hostname, Port: tgt.sp.port},
						Message: fmt.Sprintf("call the Service name %s:%d instead of the pod IP (pod-IP traffic is passthrough: plaintext, no L7 load balancing)", tgt.svc.hostname, tgt.sp.port)})
				}
			}
		} else {
			add(api.Fix{Object: "caller", Message: "the Host does not name a Service this proxy imports (Sidecar egress / exportTo), so it leaves as passthrough plaintext: send the Service's name as Host, or import it"})
			if sc := t.sc.sidecar; sc != nil && t.dst != nil {
				add(api.Fix{Object: fmt.Sprintf("Sidecar %s/%s", sc.Namespace, sc.Name), Ref: ref("Sidecar", sc.Namespace, sc.Name), Field: "spec.egress[0].hosts",
					Patch:   t.sidecarEgressPatch(sc.Namespace, sc.Name, t.dst.Namespace+"/*"),
					Message: fmt.Sprintf("add %s/* to the Sidecar's egress hosts", t.dst.Namespace)})
			}
		}
	default:
		for _, reason := range r.Reasons {
			if reason.Code != api.ReasonClientTLS {
				continue
			}
			switch reason.Rule {
			case api.RuleDestinationRuleTLS:
				mode := reason.Mode
				if mode == "SIMPLE" || mode == "MUTUAL" {
					mode += " (not Istio mTLS)"
				}
				add(api.Fix{Object: "DestinationRule " + reason.Object.Namespace + "/" + reason.Object.Name, Ref: reason.Object, Field: "spec.trafficPolicy.tls.mode",
					Patch:   mergePatch(networkAPI, "DestinationRule", reason.Object.Namespace, reason.Object.Name, map[string]any{"spec": map[string]any{"trafficPolicy": map[string]any{"tls": map[string]any{"mode": "ISTIO_MUTUAL"}}}}),
					Message: "set tls.mode ISTIO_MUTUAL instead of " + mode})
			case api.RuleHeadlessAllOrNothing:
				// Injecting every endpoint is a restart of workloads the
				// report does not name; the PeerAuthentication fix below is
				// the change this request can prove.
			case api.RuleNamespaceDisable:
				// The namespace policy that disables auto mTLS is not named
				// by the reason; the port-level fix below is provable.
			}
		}
	}
	if in != nil {
		if fx, ok := t.portPermissiveFix(in, port); ok {
			add(fx)
		}
	}
}

// tcpOnHTTPPortFixes: raw TCP to a port a Service declares HTTP/gRPC (a
// port named grpc, as CockroachDB's chart names 26257) leaves through the
// listener's PassthroughFilterChain: plaintext on every address, pod names
// included. Declaring the port tcp (appProtocol wins over the name) makes
// the listener TCP, with mTLS. One candidate per Service declaring the
// port: one fix changes every Service that declares the port for the pod
// (the destination's inbound chain takes the protocol of the oldest one),
// the one the request names first.
func (t *tracer) tcpOnHTTPPortFixes(f *flow, add addFunc) {
	r := f.r
	if t.dst == nil {
		return
	}
	var svcs []*service
	for _, svc := range t.m.services {
		if !svc.isKube() || svc.namespace != t.dst.Namespace {
			continue
		}
		sp := svc.portByNumber(r.Port)
		if sp == nil || !isHTTP(sp.protocol) || !labelsMatch(svc.kube.Spec.Selector, t.dst.Labels) || len(svc.kube.Spec.Selector) == 0 {
			continue
		}
		if svc.key() == r.Service {
			svcs = append([]*service{svc}, svcs...)
		} else {
			svcs = append(svcs, svc)
		}
	}
	if len(svcs) == 0 {
		return
	}
	fx := api.Fix{Object: svcs[0].kindName(), Ref: serviceRef(svcs[0]), Field: fmt.Sprintf("spec.ports[port=%d].appProtocol", r.Port)}
	var names []string
	for i, svc := range svcs {
		p := servicePortsPatch(svc, r.Port, func(p *corev1.ServicePort) { p.AppProtocol = strPtr("tcp") })
		if p == nil {
			return
		}
		if i == 0 {
			fx.Patch = p
		} else {
			fx.Also = append(fx.Also, *p)
		}
		names = append(names, svc.kindName())
	}
	fx.Message = fmt.Sprintf("the app sends raw TCP to port %d, which %s declare%s %s (port name %q): set appProtocol: tcp (or name it tcp-…) on %s so Istio carries it as TCP with mTLS",
		r.Port, strings.Join(names, " and "), map[bool]string{true: "", false: "s"}[len(names) > 1], svcs[0].portByNumber(r.Port).protocol, svcs[0].portByNumber(r.Port).name, map[bool]string{true: "each", false: "it"}[len(names) > 1])
	add(fx)
}

// noSidecarFixes: the caller has no sidecar (or bypasses it), so it can send
// neither Istio mTLS nor a peer identity. Istio's documented options for a
// scraper (https://istio.io/latest/docs/ops/integrations/prometheus/): scrape
// the merged metrics on the agent's port 15020, which istio-iptables never
// captures (injection template: -d 15090,15021,15020), when the destination
// carries metrics merging; else inject the caller.
//
// certs offers Istio's other recipe, scraping with the mesh's certificates,
// which the model cannot trace: only where the rejection is mTLS (STRICT),
// not an AuthorizationPolicy, where the identity the certificates carry is
// what the proof of injecting the caller already judged.
func (t *tracer) noSidecarFixes(f *flow, add addFunc, certs bool) {
	r := f.r
	if d := t.mergedMetricsDial(r); d != nil {
		add(api.Fix{Object: "caller", Field: "scrape target", Dial: d,
			Message: fmt.Sprintf("scrape the merged metrics at %s:%d%s, as the pod's prometheus.io annotations already say (Istio's metrics merging: the agent scrapes the app's port %d itself; port %d is never captured, so STRICT and AuthorizationPolicies do not apply)",
				d.Address, d.Port, mergedMetricsPath, r.Port, d.Port)})
	}
	if t.src.Spec.HostNetwork {
		return // a hostNetwork pod cannot get a sidecar
	}
	fx, effect := t.injectFix()
	add(fx, effect...)
	if d := t.mergedMetricsDial(r); certs && d == nil && r.Traffic == api.TrafficHTTP {
		if fx, ok := t.scrapeWithCertsFix(r); ok {
			add(fx)
		}
	}
}

// scrapeWithCertsFix is Istio's documented recipe for a scraper that must
// reach pods' own ports under mTLS
// (https://istio.io/latest/docs/ops/integrations/prometheus/#tls-settings):
// inject it without capturing its traffic (includeInboundPorts and
// includeOutboundIPRanges ""), have the agent write its certificates
// (proxy.istio.io/config proxyMetadata OUTPUT_CERTS) to a volume the
// scraper mounts, and scrape with TLS using them. The patch is on the
// caller's workload template; the TLS client configuration is the
// scraper's own, which the model cannot trace: the fix is reported
// unverified, requiring a restart and the certificates.
func (t *tracer) scrapeWithCertsFix(r *api.Request) (api.Fix, bool) {
	kind, name := ownerWorkload(t.src)
	if kind == "" {
		return api.Fix{}, false
	}
	ann := map[string]any{
		"sidecar.istio.io/inject":                          "true",
		"traffic.sidecar.istio.io/includeInboundPorts":     "",
		"traffic.sidecar.istio.io/includeOutboundIPRanges": "",
		"proxy.istio.io/config":                            "proxyMetadata:\n  OUTPUT_CERTS: /etc/istio-output-certs\n",
		"sidecar.istio.io/userVolumeMount":                 `[{"name": "istio-certs", "mountPath": "/etc/istio-output-certs"}]`,
	}
	fx := api.Fix{Object: kind + " " + t.src.Namespace + "/" + name, Ref: ref(kind, t.src.Namespace, name), Field: "spec.template.metadata.annotations",
		Patch:    mergePatch("apps/v1", kind, t.src.Namespace, name, map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": ann}}}}),
		Requires: []api.FixRequirement{api.RequiresRestart, api.RequiresCertificates},
		Message: fmt.Sprintf("or scrape with Istio's certificates (Istio's Prometheus TLS settings): inject %s %s/%s without capturing its traffic and with OUTPUT_CERTS, mount an emptyDir istio-certs at /etc/istio-output-certs in the sidecar and the scraper, and scrape port %d with tls_config (ca_file root-cert.pem, cert_file cert-chain.pem, key_file key.pem, insecure_skip_verify: true)",
			kind, t.src.Namespace, name, r.Port)}
	return fx, true
}

// ownerWorkload is the Deployment or StatefulSet (or DaemonSet) that owns
// p, from its owner references (a ReplicaSet's Deployment by the
// pod-template-hash suffix).
func ownerWorkload(p *corev1.Pod) (kind, name string) {
	for _, o := range p.OwnerReferences {
		switch o.Kind {
		case "StatefulSet", "DaemonSet":
			return o.Kind, o.Name
		case "ReplicaSet":
			if h := p.Labels["pod-template-hash"]; h != "" && strings.HasSuffix(o.Name, "-"+h) {
				return "Deployment", strings.TrimSuffix(o.Name, "-"+h)
			}
		}
	}
	return "", ""
}

// mergedMetricsPort and mergedMetricsPath are where pilot-agent serves the
// merged metrics (pkg/istio-agent/metrics, the injector's
// prometheus.io/port and /path rewrite).
const (
	mergedMetricsPort = 15020
	mergedMetricsPath = "/stats/prometheus"
)

// mergedMetricsDial is the dial a scraper should use instead when the
// request is a scrape of a sidecar pod's application metrics that Istio
// merges: with meshConfig.enablePrometheusMerge the injector rewrites the
// pod's prometheus.io/port and /path to 15020 /stats/prometheus and hands
// the original ones to the agent in the istio-proxy container's
// ISTIO_PROMETHEUS_ANNOTATIONS (pkg/kube/inject, pilot-agent's status
// server handleStats), which then scrapes the application itself. The
// scraped port must be that original port: without the variable the agent
// serves only Envoy's and its own metrics.
func (t *tracer) mergedMetricsDial(r *api.Request) *api.Dial {
	p := t.dst
	if p == nil || r.Traffic != api.TrafficHTTP || r.Port == mergedMetricsPort {
		return nil
	}
	if _, ok := p.Annotations["sidecar.istio.io/status"]; !ok || p.Annotations["prometheus.io/port"] != strconv.Itoa(mergedMetricsPort) {
		return nil
	}
	c := istioProxyContainer(p)
	if c == nil {
		return nil
	}
	merged := false
	for _, e := range c.Env {
		if e.Name != "ISTIO_PROMETHEUS_ANNOTATIONS" {
			continue
		}
		var orig struct {
			Port string `json:"port"`
		}
		if json.Unmarshal([]byte(e.Value), &orig) == nil && orig.Port != "" {
			merged = orig.Port == strconv.Itoa(int(r.DestinationPort)) || orig.Port == strconv.Itoa(int(r.Port))
		}
	}
	ips := podIPs(p)
	if !merged || len(ips) == 0 {
		return nil
	}
	return &api.Dial{Address: ips[0], Port: mergedMetricsPort, Path: mergedMetricsPath}
}

// injectFix: label the caller's namespace for injection. The model sees
// the effect only once the pod is recreated: the proof traces the caller as
// injected (sidecar.istio.io/status and an istio-proxy container, as the
// injector adds them), and the fix says it requires a restart.
func (t *tracer) injectFix() (api.Fix, []snapshot.ObjectPatch) {
	ns := t.src.Namespace
	fx := api.Fix{Object: "Namespace " + ns, Ref: ref("Namespace", "", ns), Field: "metadata.labels[istio-injection]",
		Patch:    mergePatch(apiV1, "Namespace", "", ns, map[string]any{"metadata": map[string]any{"labels": map[string]any{"istio-injection": "enabled"}}}),
		Requires: []api.FixRequirement{api.RequiresRestart},
		Message: fmt.Sprintf("inject the caller's sidecar: label namespace %s istio-injection=enabled and restart %s/%s; its requests then carry Istio mTLS and the identity spiffe://%s/ns/%s/sa/%s",
			ns, ns, t.src.Name, t.m.mesh.TrustDomain, ns, serviceAccount(t.src))}
	if v := t.src.Annotations["sidecar.istio.io/inject"]; v == "false" {
		fx.Message += fmt.Sprintf(" (and remove the pod template's annotation sidecar.istio.io/inject: %q)", v)
	}
	containers := append(slices.Clone(t.src.Spec.Containers), corev1.Container{Name: "istio-proxy", Image: t.m.proxyImage()})
	effect := snapshot.ObjectPatch{ObjectKey: snapshot.ObjectKey{Kind: "Pod", Namespace: ns, Name: t.src.Name}}
	effect.MergePatch, _ = json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{"sidecar.istio.io/status": `{"containers":["istio-proxy"]}`}},
		"spec":     map[string]any{"containers": containers},
	})
	return fx, []snapshot.ObjectPatch{objectPatch(fx.Patch), effect}
}

// proxyImage is the istio-proxy image of the first injected pod (the
// injector would use the same), else the model's version.
func (m *model) proxyImage() string {
	for _, p := range m.pods {
		if c := istioProxyContainer(p); c != nil && c.Image != "" {
			return c.Image
		}
	}
	return "docker.io/istio/proxyv2:" + m.istioVersion
}

// portPermissiveFix: accept plaintext on one port with a workload
// PeerAuthentication (portLevelMtls is keyed by the container port and
// needs a selector).
func (t *tracer) portPermissiveFix(in *api.Inbound, port int32) (api.Fix, bool) {
	p := t.m.podByKey[in.Pod]
	if p == nil {
		return api.Fix{}, false
	}
	sel := workloadSelector(p)
	if len(sel) == 0 {
		return api.Fix{}, false
	}
	name := p.Name
	if app := p.Labels["app"]; app != "" {
		name = app
	}
	shown := fmt.Sprintf("%s/%s (selector %s)", p.Namespace, name, selectorString(sel))
	fx := api.Fix{Object: "PeerAuthentication " + shown, Ref: ref("PeerAuthentication", p.Namespace, name), Field: fmt.Sprintf("spec.portLevelMtls[%d].mode", port),
		Message: fmt.Sprintf("or accept plaintext on port %d: a workload PeerAuthentication with portLevelMtls %d: PERMISSIVE (weakens mTLS; keyed by the container port)", port, port)}
	level := map[string]any{strconv.Itoa(int(port)): map[string]any{"mode": "PERMISSIVE"}}
	if t.m.peerAuthentication(p.Namespace, name) != nil {
		fx.Patch = mergePatch(securityAPI, "PeerAuthentication", p.Namespace, name, map[string]any{"spec": map[string]any{"portLevelMtls": level}})
	} else {
		fx.Patch = newObject(securityAPI, "PeerAuthentication", p.Namespace, name, map[string]any{"selector": map[string]any{"matchLabels": sel}, "portLevelMtls": level})
	}
	return fx, true
}

func (m *model) peerAuthentication(ns, name string) *securityv1.PeerAuthentication {
	for _, pa := range m.s.PeerAuthentications {
		if pa.Namespace == ns && pa.Name == name {
			return pa
		}
	}
	return nil
}

// workloadSelector selects p's workload: its app label, else its labels
// without the per-pod and per-revision ones controllers add.
func workloadSelector(p *corev1.Pod) map[string]string {
	if app := p.Labels["app"]; app != "" {
		return map[string]string{"app": app}
	}
	out := map[string]string{}
	for k, v := range p.Labels {
		switch k {
		case "pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index", "pod-template-generation":
			continue
		}
		out[k] = v
	}
	return out
}

func selectorString(sel map[string]string) string {
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// declarePortFix: no Service declares the pod port that pod-IP traffic hits
// in passthrough. Declare it in a Service that already selects the pod (a
// tcp port, so Istio builds no HTTP chain for an unknown protocol) and call
// that Service's name.
func (t *tracer) declarePortFix(p *corev1.Pod, port, dialed int32) (api.Fix, bool) {
	for _, svc := range t.m.services {
		if !svc.isKube() || svc.namespace != p.Namespace || len(svc.kube.Spec.Selector) == 0 || !labelsMatch(svc.kube.Spec.Selector, p.Labels) {
			continue
		}
		if svc.portByNumber(port) != nil {
			continue // the Service port number is taken by another target
		}
		ports := slices.Clone(svc.kube.Spec.Ports)
		ports = append(ports, corev1.ServicePort{Name: fmt.Sprintf("tcp-%d", port), Port: port, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP})
		return api.Fix{Object: svc.kindName(), Ref: serviceRef(svc), Field: "spec.ports",
			Patch: mergePatch(apiV1, "Service", svc.namespace, svc.name, map[string]any{"spec": map[string]any{"ports": ports}}),
			Dial:  &api.Dial{Address: svc.hostname, Port: port},
			Message: fmt.Sprintf("no Service declares port %d of %s/%s: add it to %s (tcp-%d) and call %s:%d (pod-IP traffic is passthrough: plaintext)",
				port, p.Namespace, p.Name, svc.kindName(), port, svc.hostname, port)}, true
	}
	return api.Fix{}, false
}

// servicePortsPatch is a merge patch of svc's ports (a list: replaced
// whole) with the port numbered port changed by change.
func servicePortsPatch(svc *service, port int32, change func(*corev1.ServicePort)) *api.Patch {
	if svc == nil || svc.kube == nil {
		return nil
	}
	ports := make([]corev1.ServicePort, len(svc.kube.Spec.Ports))
	found := false
	for i, p := range svc.kube.Spec.Ports {
		ports[i] = *p.DeepCopy()
		if p.Port == port {
			change(&ports[i])
			found = true
		}
	}
	if !found {
		return nil
	}
	return mergePatch(apiV1, "Service", svc.namespace, svc.name, map[string]any{"spec": map[string]any{"ports": ports}})
}

func strPtr(s string) *string { return &s }

// headlessHTTPService is the headless Service whose HTTP port the request's
// endpoint serves, if any.
func (t *tracer) headlessHTTPService(r *api.Request) *service {
	if r.Upstream == nil {
		return nil
	}
	for _, svc := range t.m.services {
		if !svc.isHeadless() {
			continue
		}
		if sp := svc.portByNumber(r.Port); sp != nil && isHTTP(sp.protocol) {
			for _, ep := range t.m.endpoints(svc, sp, false) {
				if ep.ip == r.Upstream.IP {
					return svc
				}
			}
		}
	}
	return nil
}

// perPodName is the FQDN of the pod the request lands on through a
// headless Service (hostname.subdomain), if it has one and it is not the
// address that was dialed.
func (t *tracer) perPodName(r *api.Request) (string, bool) {
	pod := ""
	if r.Upstream != nil {
		pod = r.Upstream.Pod
	}
	if pod == "" && t.dst != nil {
		pod = podKey(t.dst)
	}
	p := t.m.podByKey[pod]
	if p == nil {
		return "", false
	}
	for _, rec := range t.m.podHostnameRecords(p) {
		name := rec.hostname + "." + rec.svc.hostname
		if strings.TrimSuffix(r.Address, ".") != name {
			return name, true
		}
	}
	return "", false
}

// inboundService is the Service whose port the destination's inbound chain
// serves ("Service" when there is none).
func (t *tracer) inboundService(r *api.Request) (string, *api.ObjectRef) {
	if tgt := t.inboundTarget(r); tgt != nil {
		return tgt.svc.kindName(), serviceRef(tgt.svc)
	}
	return "Service", nil
}

func (t *tracer) inboundTarget(r *api.Request) *inboundTarget {
	if p := t.m.podByKey[r.Inbound.Pod]; p != nil {
		return t.m.serviceTargets(p, r.Inbound.Port)
	}
	return nil
}

// registryOnlyFixes: REGISTRY_ONLY sends what the registry does not know
// to the BlackHoleCluster (or block_all).
func (t *tracer) registryOnlyFixes(f *flow, reason api.Reason, add addFunc) {
	r := f.r
	p := t.dst
	if p == nil && r.DialedIP != "" {
		p = t.m.podByIP[r.DialedIP]
	}
	if reason.Cluster != blackHoleCluster {
		if p != nil {
			if tgt := t.m.serviceTargets(p, r.DestinationPort); tgt != nil {
				add(api.Fix{Object: "caller", Field: "Host header", Dial: &api.Dial{Address: r.Address, Port: r.Port, Host: hostHeader(tgt.svc.hostname, tgt.sp.port)},
					Message: fmt.Sprintf("send Host %s (a Service's name) — under REGISTRY_ONLY only registered hosts are routed", hostHeader(tgt.svc.hostname, tgt.sp.port))})
			}
		}
	} else if p != nil {
		if fx, ok := t.declarePortFix(p, r.Port, r.Port); ok {
			fx.Message = fmt.Sprintf("declare port %d in %s and call %s:%d (REGISTRY_ONLY drops traffic to unknown IP:port)", r.Port, fx.Object, fx.Dial.Address, r.Port)
			add(fx)
		}
	}
	if r.DialedIP != "" && p != nil {
		name := fmt.Sprintf("%s-%d", p.Name, r.Port)
		spec := map[string]any{
			"hosts":      []string{fmt.Sprintf("%s.%s.podreach.internal", p.Name, p.Namespace)},
			"addresses":  []string{r.DialedIP},
			"ports":      []map[string]any{{"number": r.Port, "name": fmt.Sprintf("tcp-%d", r.Port), "protocol": "TCP"}},
			"location":   "MESH_INTERNAL",
			"resolution": "STATIC",
			"endpoints":  []map[string]any{{"address": r.DialedIP}},
		}
		add(api.Fix{Object: "ServiceEntry " + t.src.Namespace + "/" + name, Ref: ref("ServiceEntry", t.src.Namespace, name),
			Patch:   newObject(networkAPI, "ServiceEntry", t.src.Namespace, name, spec),
			Message: fmt.Sprintf("or register %s:%d with a ServiceEntry (addresses, port %d)", r.DialedIP, r.Port, r.Port)})
	}
}

// wrongDestinationFixes: the request lands somewhere that is not DST. Name
// what diverted it: a VirtualService tcp route, a ServiceEntry without
// addresses owning the port, a Host header naming another Service, or plain
// load balancing.
func (t *tracer) wrongDestinationFixes(f *flow, add addFunc) {
	r := f.r
	var svc *service
	if r.Outbound != nil && f.next.kind == choiceService {
		svc = f.next.svc
	}
	var vsTCP *api.Reason
	for i, rs := range r.Reasons {
		if rs.Code == api.ReasonVirtualServiceTCP {
			vsTCP = &r.Reasons[i]
		}
	}
	switch {
	case vsTCP != nil:
		// Which route the destination should have is the owner's choice:
		// no change to prove. Addressing the pod itself may be.
		if addr, ok := t.perPodName(r); ok {
			add(api.Fix{Object: "caller", Dial: &api.Dial{Address: addr, Port: r.Port},
				Message: fmt.Sprintf("VirtualService %s sends the connection to %s: call the pod by its per-pod name %s:%d", vsTCP.Route, r.Outbound.Cluster, addr, r.Port)})
		}
	case svc != nil && svc.se != nil && len(svc.addresses) == 0 && r.Outbound.RouteConfig == "":
		why := fmt.Sprintf("this ServiceEntry has no addresses, so its 0.0.0.0_%d listener takes every TCP connection to port %d from this proxy", r.Port, r.Port)
		if vip := t.m.freeAutoVIP(); vip != "" {
			add(api.Fix{Object: "ServiceEntry " + svc.key(), Ref: serviceRef(svc), Field: "spec.addresses",
				Patch:   mergePatch(networkAPI, "ServiceEntry", svc.namespace, svc.name, map[string]any{"spec": map[string]any{"addresses": []string{vip}}}),
				Message: fmt.Sprintf("%s: give it spec.addresses (e.g. %s, from the 240.240.0.0/16 range Istio's DNS proxy auto-allocates), so its listener is %s_%d only", why, vip, vip, r.Port)})
		}
		if svc.namespace != t.src.Namespace {
			add(api.Fix{Object: "ServiceEntry " + svc.key(), Ref: serviceRef(svc), Field: "spec.exportTo",
				Patch:   mergePatch(networkAPI, "ServiceEntry", svc.namespace, svc.name, map[string]any{"spec": map[string]any{"exportTo": []string{"."}}}),
				Message: fmt.Sprintf("%s: or export it to its own namespace only (exportTo: [\".\"])", why)})
		}
	case svc != nil && r.Traffic == api.TrafficHTTP && r.Outbound.VirtualHost != "" && t.dst != nil:
		if tgt := t.m.serviceTargets(t.dst, r.DestinationPort); tgt != nil {
			host := hostHeader(tgt.svc.hostname, tgt.sp.port)
			add(api.Fix{Object: "caller", Field: "Host header", Dial: &api.Dial{Address: tgt.svc.hostname, Port: tgt.sp.port, Host: host},
				Message: fmt.Sprintf("the Host header %q routes the request to %s; call %s:%d with its own Host", stripPort(r.Host), svc.hostname, tgt.svc.hostname, tgt.sp.port)})
		}
	default:
		if addr, ok := t.perPodName(r); ok {
			add(api.Fix{Object: "caller", Dial: &api.Dial{Address: addr, Port: r.Port},
				Message: fmt.Sprintf("address the pod itself: its per-pod name %s:%d", addr, r.Port)})
		} else if t.dst != nil {
			if ips := podIPs(t.dst); len(ips) > 0 && r.DestinationPort != 0 && ips[0] != r.Address {
				add(api.Fix{Object: "caller", Dial: &api.Dial{Address: ips[0], Port: r.DestinationPort},
					Message: fmt.Sprintf("address the pod itself: %s:%d", ips[0], r.DestinationPort)})
			}
		}
	}
}

// authzFixes: the destination's AuthorizationPolicies refuse the request.
func (t *tracer) authzFixes(f *flow, reason api.Reason, add addFunc) {
	r := f.r
	a, set, port, ok := t.denialUnderReview(f)
	if !ok {
		return
	}
	pol := t.m.authzPolicy(a.Policy)
	if reason.Code == api.ReasonAuthzDenied && pol != nil {
		if r.Inbound == nil || f.wp != nil || t.m.dataplaneOf(f.land.pod) == api.DataplaneAmbient {
			return // ztunnel and waypoints: nothing of the sidecar's TCP-chain rule applies
		}
		fx := api.Fix{Object: "AuthorizationPolicy " + a.Policy, Ref: reason.Object, Field: fmt.Sprintf("spec.rules[%d]", *a.Rule)}
		if r.Inbound.VirtualHost == "" && pol.Spec.GetAction() != securityapi.AuthorizationPolicy_ALLOW && ruleHasHTTPOnly(pol, *a.Rule) {
			fx.Field = fmt.Sprintf("spec.rules[%d].to[].operation.notPorts", *a.Rule)
			fx.Message = fmt.Sprintf("port %d is TCP, where Istio drops the HTTP-only fields (methods, paths, hosts, request.*) of a DENY rule, so this rule denies every connection: restrict the rule to the HTTP ports (here: to.operation.notPorts %d)", r.Inbound.Port, r.Inbound.Port)
			fx.Patch = rulesPatch(pol, func(rules []map[string]any) []map[string]any {
				rule := rules[*a.Rule]
				tos, _ := rule["to"].([]any)
				if len(tos) == 0 {
					tos = []any{map[string]any{"operation": map[string]any{}}}
				}
				for _, to := range tos {
					tm, _ := to.(map[string]any)
					op, _ := tm["operation"].(map[string]any)
					if op == nil {
						op = map[string]any{}
						tm["operation"] = op
					}
					np, _ := op["notPorts"].([]any)
					op["notPorts"] = append(np, strconv.Itoa(int(r.Inbound.Port)))
				}
				rule["to"] = tos
				return rules
			})
			add(fx)
		}
		// Narrowing a DENY that matches on purpose is the owner's call: no
		// change to prove.
		return
	}
	allow := enforcedPolicies(set.allow)
	var target *securityv1.AuthorizationPolicy
	if len(allow) > 0 {
		target = allow[0]
	}
	appendRule := func(source map[string]any) *api.Patch {
		return rulesPatch(target, func(rules []map[string]any) []map[string]any {
			return append(rules, map[string]any{"from": []any{map[string]any{"source": source}}})
		})
	}
	objName := "AuthorizationPolicy"
	var tref *api.ObjectRef
	if target != nil {
		objName += " " + polKey(target)
		tref = ref("AuthorizationPolicy", target.Namespace, target.Name)
	}
	if a.Principal != "" {
		id := strings.TrimPrefix(a.Principal, "spiffe://")
		add(api.Fix{Object: objName, Ref: tref, Field: "spec.rules[].from[].source.principals", Patch: appendRule(map[string]any{"principals": []string{id}}),
			Message: fmt.Sprintf("allow the caller: add a rule with its identity %q", id)})
		return
	}
	// Plaintext (or non-Istio TLS): the request carries no identity.
	switch {
	case t.dataplane == api.DataplaneNone && f.land.pod != nil && t.m.dataplaneOf(f.land.pod) == api.DataplaneAmbient:
		if fx, effect, ok := t.ambientEnrolFix(); ok {
			add(fx, effect...)
		}
	case t.dataplane != api.DataplaneSidecar || !r.Captured:
		t.noSidecarFixes(f, add, false)
	case r.Outbound != nil && (r.Outbound.Cluster == passthroughCluster || r.Outbound.Cluster == allowAnyDynamicDNSCluster):
		if addr, ok := t.perPodName(r); ok {
			add(api.Fix{Object: "caller", Dial: &api.Dial{Address: addr, Port: r.Port},
				Message: fmt.Sprintf("call the pod's per-pod name %s:%d instead of the IP, so the request leaves through a service cluster with mTLS and carries the caller's identity", addr, r.Port)})
		}
		if p := t.m.podByKey[r.Inbound.Pod]; p != nil {
			if tgt := t.m.serviceTargets(p, port); tgt != nil {
				add(api.Fix{Object: "caller", Dial: &api.Dial{Address: tgt.svc.hostname, Port: tgt.sp.port},
					Message: fmt.Sprintf("call the Service name %s:%d instead of the IP, so the request leaves through a service cluster with mTLS and carries the caller's identity", tgt.svc.hostname, tgt.sp.port)})
			}
		}
	default:
		for _, rs := range r.Reasons {
			if rs.Code == api.ReasonClientTLS && rs.Rule == api.RuleDestinationRuleTLS && rs.Object != nil {
				add(api.Fix{Object: "DestinationRule " + rs.Object.Namespace + "/" + rs.Object.Name, Ref: rs.Object, Field: "spec.trafficPolicy.tls.mode",
					Patch:   mergePatch(networkAPI, "DestinationRule", rs.Object.Namespace, rs.Object.Name, map[string]any{"spec": map[string]any{"trafficPolicy": map[string]any{"tls": map[string]any{"mode": "ISTIO_MUTUAL"}}}}),
					Message: "send Istio mTLS: set tls.mode ISTIO_MUTUAL (plaintext carries no identity for principals/namespaces to match)"})
			}
		}
	}
	if t.srcIP != "" && target != nil {
		add(api.Fix{Object: objName, Ref: tref, Field: "spec.rules[].from[].source.ipBlocks", Patch: appendRule(map[string]any{"ipBlocks": []string{t.srcIP + "/32"}}),
			Message: fmt.Sprintf("or allow the caller by address: add a rule with source.ipBlocks %s/32 (weaker than an identity; pod IPs change)", t.srcIP)})
	}
}

// rulesPatch is a merge patch of p's rules (a list: replaced whole) as
// change leaves them.
func rulesPatch(p *securityv1.AuthorizationPolicy, change func([]map[string]any) []map[string]any) *api.Patch {
	if p == nil {
		return nil
	}
	var spec struct {
		Rules []map[string]any `json:"rules"`
	}
	if !reshape(&p.Spec, &spec) {
		return nil
	}
	return mergePatch(securityAPI, "AuthorizationPolicy", p.Namespace, p.Name, map[string]any{"spec": map[string]any{"rules": change(spec.Rules)}})
}

// defaultRoutePatch appends a route without match to a VirtualService's
// http routes, sending to the destination of its first route.
func (t *tracer) defaultRoutePatch(o *api.ObjectRef) *api.Patch {
	if o == nil || o.Kind != "VirtualService" {
		return nil
	}
	for _, vs := range t.m.s.VirtualServices {
		if vs.Namespace != o.Namespace || vs.Name != o.Name {
			continue
		}
		var spec struct {
			HTTP []map[string]any `json:"http"`
		}
		if !reshape(&vs.Spec, &spec) || len(spec.HTTP) == 0 || spec.HTTP[0]["route"] == nil {
			return nil
		}
		http := append(spec.HTTP, map[string]any{"name": "default", "route": spec.HTTP[0]["route"]})
		return mergePatch(networkAPI, "VirtualService", vs.Namespace, vs.Name, map[string]any{"spec": map[string]any{"http": http}})
	}
	return nil
}

// sidecarEgressPatch adds host to the first egress listener's hosts.
func (t *tracer) sidecarEgressPatch(ns, name, host string) *api.Patch {
	for _, sc := range t.m.s.Sidecars {
		if sc.Namespace != ns || sc.Name != name {
			continue
		}
		var spec struct {
			Egress []map[string]any `json:"egress"`
		}
		if !reshape(&sc.Spec, &spec) || len(spec.Egress) == 0 {
			return nil
		}
		hosts, _ := spec.Egress[0]["hosts"].([]any)
		spec.Egress[0]["hosts"] = append(hosts, host)
		return mergePatch(networkAPI, "Sidecar", ns, name, map[string]any{"spec": map[string]any{"egress": spec.Egress}})
	}
	return nil
}

// reshape reads an Istio spec (protobuf JSON) into out's plain shape.
func reshape(spec, out any) bool {
	b, err := json.Marshal(spec)
	return err == nil && json.Unmarshal(b, out) == nil
}

// authzPolicy finds a policy by NS/NAME.
func (m *model) authzPolicy(key string) *securityv1.AuthorizationPolicy {
	for _, p := range m.s.AuthorizationPolicies {
		if polKey(p) == key {
			return p
		}
	}
	return nil
}

// ruleHasHTTPOnly tells whether a rule uses fields a TCP chain cannot see.
func ruleHasHTTPOnly(p *securityv1.AuthorizationPolicy, i int) bool {
	rules := p.Spec.GetRules()
	if i < 0 || i >= len(rules) {
		return false
	}
	r := rules[i]
	for _, to := range r.GetTo() {
		o := to.GetOperation()
		if len(o.GetMethods())+len(o.GetNotMethods())+len(o.GetPaths())+len(o.GetNotPaths())+len(o.GetHosts())+len(o.GetNotHosts()) > 0 {
			return true
		}
	}
	for _, from := range r.GetFrom() {
		if s := from.GetSource(); len(s.GetRequestPrincipals())+len(s.GetNotRequestPrincipals()) > 0 {
			return true
		}
	}
	for _, w := range r.GetWhen() {
		if (cond{key: w.GetKey()}).httpOnly() {
			return true
		}
	}
	return false
}

func serviceAccount(p *corev1.Pod) string {
	if p.Spec.ServiceAccountName != "" {
		return p.Spec.ServiceAccountName
	}
	return "default"
}

// freeAutoVIP is an address of 240.240.0.0/16 (the range Istio's DNS proxy
// auto-allocates ServiceEntry addresses from, pkg/dns/server) no Service or
// ServiceEntry of the snapshot uses.
func (m *model) freeAutoVIP() string {
	used := map[string]bool{}
	for _, svc := range m.services {
		for _, a := range svc.addresses {
			used[a] = true
		}
	}
	for i := 1; i < 255; i++ {
		if vip := fmt.Sprintf("240.240.0.%d", i); !used[vip] {
			return vip
		}
	}
	return ""
}
