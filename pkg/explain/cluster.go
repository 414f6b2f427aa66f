package explain

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// landing is where a connection ends up, and what decides its TLS.
type landing struct {
	ip         string
	port       int32
	pod        *corev1.Pod
	candidates []endpoint // balancer choices (EDS / kube-proxy); nil when pinned
	balancing  api.Balancing
	tls        api.TLS
	tlsWhy     *api.Reason
	// svcTLS is set for a service cluster: the clientTLS stage decides.
	svcTLS *serviceTLS
}

// serviceTLS is what the clientTLS stage needs of a service cluster.
type serviceTLS struct {
	svc         *service
	sp          *servicePort
	subset      string
	ep          *endpoint // nil for ORIGINAL_DST
	originalDst bool
}

// clusterStage follows the cluster the route chose — a service cluster
// (EDS, ORIGINAL_DST, STRICT_DNS), PassthroughCluster/BlackHoleCluster or
// the dynamic forward proxy — or, for a flow the SRC proxy does not
// capture, kube-proxy.
func (t *tracer) clusterStage(f *flow) {
	if !f.r.Captured {
		t.kubeProxyPath(f)
		return
	}
	switch ch := f.next; ch.kind {
	case choiceService:
		t.serviceCluster(f, ch)
	case choicePassthrough:
		t.passthrough(f, ch.why, passthroughCluster, f.dialIP, f.c.port)
	case choiceDynamicForward:
		t.dynamicForward(f, ch.why.RouteConfig)
	case choiceMissing:
		// The route names a host this proxy has no cluster for: Envoy
		// answers 503 NC (HTTP) or closes the connection (tcp_proxy).
		f.r.TLS = api.TLSNone
		symptom := "503 (NC cluster_not_found) from the source sidecar"
		if !f.viaHCM {
			symptom = "connection closed right after connect (the source sidecar has no cluster " + ch.why.Cluster + ")"
		}
		t.clusterFail(f, ch.why, symptom)
	}
}

// clusterStepName is the cluster stage as -o wide shows it.
func clusterStepName(o *api.Outbound) string {
	if len(o.WeightedClusters) > 0 {
		parts := make([]string, 0, len(o.WeightedClusters))
		for _, wc := range o.WeightedClusters {
			parts = append(parts, fmt.Sprintf("%s (%d)", wc.Cluster, wc.Weight))
		}
		return strings.Join(parts, ", ")
	}
	return o.Cluster
}

func (t *tracer) clusterStep(f *flow) {
	f.step(api.Step{Stage: api.StageCluster, Proxy: t.srcKey, Name: clusterStepName(f.r.Outbound)})
}

func (t *tracer) clusterFail(f *flow, reason api.Reason, symptom string) {
	f.fail(api.StageCluster, t.srcKey, clusterStepName(f.r.Outbound), reason, symptom)
}

// kubeProxyPath describes a flow that no source proxy touches: kube-proxy
// DNATs a ClusterIP to one ready endpoint per connection; pod IPs are
// routed as is.
func (t *tracer) kubeProxyPath(f *flow) {
	r, c, dialIP, why := f.r, f.c, f.dialIP, f.bypass
	r.TLS = api.TLSPlaintext
	if svc, sp := t.m.clusterIPService(dialIP, c.port); svc != nil {
		r.Protocol = sp.protocol
		eps := t.m.endpoints(svc, sp, true)
		if len(eps) == 0 {
			r.KubeProxy = fmt.Sprintf("%s; kube-proxy has no ready endpoint for %s port %d: connection refused", why, svc.key(), sp.port)
			r.Balancing = api.BalancingNone
			t.kubeProxyFail(f, api.Reason{Code: api.ReasonNoEndpoints, Rule: api.RuleServiceNoEndpoints, Object: serviceRef(svc), Port: sp.port}, r.KubeProxy, "")
			return
		}
		ep := t.pick(eps)
		f.land = landing{ip: ep.ip, port: ep.port, pod: ep.pod, candidates: eps, balancing: api.BalancingPerConnection, tls: api.TLSPlaintext}
		r.KubeProxy = fmt.Sprintf("%s; kube-proxy picks one of %d endpoints of %s per connection", why, len(eps), svc.key())
	} else {
		pod := t.podAt(dialIP, c.port)
		r.Protocol = t.m.podPortProtocol(pod, c.port)
		f.land = landing{ip: dialIP, port: c.port, pod: pod, balancing: api.BalancingNone, tls: api.TLSPlaintext}
		r.KubeProxy = why + "; the connection goes straight to " + dialIP
	}
	f.step(api.Step{Stage: api.StageKubeProxy, Proxy: "kube-proxy", Detail: r.KubeProxy})
}

func (t *tracer) kubeProxyFail(f *flow, reason api.Reason, detail, symptom string) {
	f.fail(api.StageKubeProxy, "kube-proxy", "", reason, symptom)
	f.r.Steps[len(f.r.Steps)-1].Detail = detail
}

// clusterIPService finds the Kubernetes Service owning a ClusterIP:port.
func (m *model) clusterIPService(ip string, port int32) (*service, *servicePort) {
	for _, svc := range m.services {
		if !svc.isKube() || !slices.Contains(svc.addresses, ip) {
			continue
		}
		if sp := svc.portByNumber(port); sp != nil {
			return svc, sp
		}
	}
	return nil, nil
}

// podAt is the pod a connection to ip:port is delivered to: the pod with
// that IP, or a hostNetwork pod of the node with that IP that serves the
// port (its containerPort or hostPort; DST first when it is one of them,
// else DST when no pod on that node declares the port).
func (t *tracer) podAt(ip string, port int32) *corev1.Pod {
	if p := t.m.podByIP[ip]; p != nil {
		return p
	}
	var declared, onNode []*corev1.Pod
	for _, p := range t.m.pods {
		if !p.Spec.HostNetwork || podTerminated(p) || !slices.Contains(podIPs(p), ip) {
			continue
		}
		onNode = append(onNode, p)
		if declaresPort(p, port) {
			declared = append(declared, p)
		}
	}
	switch {
	case t.dst != nil && slices.Contains(declared, t.dst):
		return t.dst
	case len(declared) > 0:
		return declared[0]
	case t.dst != nil && slices.Contains(onNode, t.dst):
		return t.dst
	}
	return nil
}

func declaresPort(p *corev1.Pod, port int32) bool {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == port || cp.HostPort == port {
				return true
			}
		}
	}
	return false
}

// podPortProtocol is the inbound protocol of a pod port (its oldest
// selecting Service port), TCP when no Service declares it.
func (m *model) podPortProtocol(p *corev1.Pod, port int32) api.Protocol {
	if p == nil {
		return api.ProtocolTCP
	}
	if ch := m.inboundChainFor(p, port); ch != nil {
		return ch.protocol
	}
	return api.ProtocolAuto
}

func (t *tracer) portProtocol(svc *service, port int32) api.Protocol {
	if svc != nil {
		if sp := svc.portByNumber(port); sp != nil {
			return sp.protocol
		}
	}
	return api.ProtocolTCP
}

// pick chooses the endpoint to analyse: DST when the balancer may pick it,
// else the first endpoint.
func (t *tracer) pick(eps []endpoint) endpoint {
	if t.dst != nil {
		for _, ep := range eps {
			if ep.pod == t.dst {
				return ep
			}
		}
	}
	return eps[0]
}

// dynamicForward follows ALLOW_ANY_DYNAMIC_DNS's catch-all (Istio 1.31,
// httproute.go buildCatchAllVirtualHost, cluster_builder.go
// buildAllowAnyDFPCluster): Envoy's dynamic forward proxy connects to the
// Host header's name (resolved by DNS) and port (80 when absent), not to
// the address the app dialed; plaintext unless the outbound traffic policy
// sets TLS.
func (t *tracer) dynamicForward(f *flow, route string) {
	r, c := f.r, f.c
	host, port := stripPort(c.host), int32(80)
	if _, p, err := net.SplitHostPort(c.host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			port = int32(n)
		}
	}
	ans := t.m.resolve(host, t.src.Namespace)
	target := host // a name outside the cluster: resolved by upstream DNS, unseen here
	if len(ans.ips) > 0 {
		target = ans.ips[0]
	}
	r.Outbound.Cluster = allowAnyDynamicDNSCluster
	if len(ans.ips) == 0 && ans.form != api.FormExternal {
		r.TLS = api.TLSNone
		t.clusterFail(f, api.Reason{Code: api.ReasonDNSNXDomain, Rule: api.RuleDynamicForwardProxy, Host: host, Detail: ans.note},
			"503 (DF: dns_resolution_failure) from the source sidecar")
		return
	}
	t.passthrough(f, api.Reason{Rule: api.RuleDynamicForwardProxy, Host: host, RouteConfig: route, IP: target, Port: port}, allowAnyDynamicDNSCluster, target, port)
}

// passthrough: PassthroughCluster (ALLOW_ANY) forwards the app's bytes to the
// dialed IP, never with mTLS; BlackHoleCluster (REGISTRY_ONLY) drops them
// (cluster_builder.go buildDefaultPassthroughCluster / buildBlackHoleCluster).
// The dynamic forward proxy does the same toward the Host it resolved.
func (t *tracer) passthrough(f *flow, why api.Reason, cluster, ip string, port int32) {
	r, c, ob := f.r, f.c, f.r.Outbound
	if ob.VirtualHost == "" && t.sc.outboundPolicy == api.OutboundRegistryOnly {
		ob.Cluster = blackHoleCluster
		r.TLS = api.TLSNone
		why.Code, why.Cluster = api.ReasonRegistryOnlyBlocked, blackHoleCluster
		symptom := "connection closed right after connect (source sidecar BlackHoleCluster)"
		if c.traffic == api.TrafficHTTP {
			symptom = "curl: (52) Empty reply from server — the source sidecar closes the connection (BlackHoleCluster)"
		}
		t.clusterFail(f, why, symptom)
		return
	}
	ob.Cluster = cluster
	ob.ClusterType = api.ClusterOriginalDst
	if cluster == allowAnyDynamicDNSCluster {
		ob.ClusterType = api.ClusterDynamicForwardProxy
	}
	why.Code, why.Cluster = api.ReasonPassthrough, cluster
	f.note(api.StageCluster, t.srcKey, clusterStepName(ob), why)
	plain := api.Reason{Code: api.ReasonClientTLS, Rule: api.RulePassthroughPlaintext, Cluster: cluster}
	ld := landing{ip: ip, port: port, pod: t.podAt(ip, port), balancing: api.BalancingNone, tls: api.TLSPlaintext, tlsWhy: &plain}
	if t.m.isClusterIP(ip) {
		// Envoy connects to the ClusterIP itself: kube-proxy DNATs it when
		// the port is a Service port, else nothing answers.
		svc, sp := t.m.clusterIPService(ip, port)
		if svc == nil {
			r.TLS = api.TLSPlaintext
			symptom := "connection timed out (nothing answers on the ClusterIP for this port)"
			if f.viaHCM {
				symptom = "503 upstream connect error (UF: connection timeout)"
			}
			t.kubeProxyFail(f, api.Reason{Code: api.ReasonNoServicePort, IP: ip, Port: port}, "", symptom)
			return
		}
		eps := t.m.endpoints(svc, sp, true)
		if len(eps) == 0 {
			r.TLS = api.TLSPlaintext
			t.kubeProxyFail(f, api.Reason{Code: api.ReasonNoEndpoints, Rule: api.RuleServiceNoEndpoints, Object: serviceRef(svc), Port: sp.port}, "", "connection refused")
			return
		}
		ep := t.pick(eps)
		plain.Object = serviceRef(svc)
		ld = landing{ip: ep.ip, port: ep.port, pod: ep.pod, candidates: eps, balancing: api.BalancingPerConnection, tls: api.TLSPlaintext, tlsWhy: &plain}
		f.step(api.Step{Stage: api.StageKubeProxy, Proxy: "kube-proxy",
			Detail: fmt.Sprintf("kube-proxy picks one of %d endpoints of %s per connection", len(eps), svc.key())})
	}
	f.land = ld
}

// serviceCluster follows an outbound|PORT|SUBSET|HOST cluster: ORIGINAL_DST
// for headless (Passthrough) services or a DR with PASSTHROUGH load
// balancing, else EDS with LEAST_REQUEST (cluster.go convertResolution,
// cluster_traffic_policy.go defaultLBAlgorithm).
func (t *tracer) serviceCluster(f *flow, ch clusterChoice) {
	r, c, ob := f.r, f.c, f.r.Outbound
	svc, port, subset := ch.svc, ch.port, ch.subset
	sp := svc.portByNumber(port)
	if sp == nil {
		r.TLS = api.TLSNone
		t.clusterFail(f, api.Reason{Code: api.ReasonUnknownPort, Object: serviceRef(svc), Port: port}, "503 (NC cluster_not_found) from the source sidecar")
		return
	}
	dr := t.m.destinationRuleFor(t.sc, svc)
	_, tp := drTLS(dr, port, subset)
	if svc.resolution == "Passthrough" || tp.GetLoadBalancer().GetSimple().String() == "PASSTHROUGH" {
		ob.ClusterType = api.ClusterOriginalDst
		f.land = landing{ip: f.dialIP, port: c.port, pod: t.podAt(f.dialIP, c.port), balancing: api.BalancingNone,
			svcTLS: &serviceTLS{svc: svc, sp: sp, subset: subset, originalDst: true}}
		t.clusterStep(f)
		return
	}
	if svc.resolution == "DNS" {
		ob.ClusterType = api.ClusterStrictDNS
	} else {
		ob.ClusterType = api.ClusterEDS
	}
	eps := t.clusterEndpoints(svc, sp, subset)
	if len(eps) == 0 {
		r.TLS = api.TLSNone
		symptom := "connection closed right after connect (UH: no healthy upstream)"
		if f.viaHCM {
			symptom = "503 no healthy upstream (UH)"
		}
		t.clusterFail(f, api.Reason{Code: api.ReasonNoEndpoints, Rule: api.RuleClusterNoEndpoints, Cluster: ob.Cluster}, symptom)
		return
	}
	ep := t.pick(eps)
	bal := api.BalancingPerConnection
	if f.viaHCM {
		bal = api.BalancingPerRequest
	}
	f.land = landing{ip: ep.ip, port: ep.port, pod: ep.pod, candidates: eps, balancing: bal,
		svcTLS: &serviceTLS{svc: svc, sp: sp, subset: subset, ep: &ep}}
	t.clusterStep(f)
}

// clusterEndpoints is the EDS of outbound|port|subset|svc: the service's
// ready endpoints, kept by the DestinationRule subset's labels.
func (t *tracer) clusterEndpoints(svc *service, sp *servicePort, subset string) []endpoint {
	eps := t.m.endpoints(svc, sp, true)
	dr := t.m.destinationRuleFor(t.sc, svc)
	if subset == "" || dr == nil {
		return eps
	}
	var sel map[string]string
	for _, ss := range dr.Spec.GetSubsets() {
		if ss.GetName() == subset {
			sel = ss.GetLabels()
		}
	}
	var keep []endpoint
	for _, ep := range eps {
		if labelsMatch(sel, ep.labels) {
			keep = append(keep, ep)
		}
	}
	return keep
}
