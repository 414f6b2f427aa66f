package explain

import (
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"strings"
)

// finish attaches the smallest fixes to a failing request.
func (t *tracer) finish(r api.Request) api.Request {
	if r.Verdict != api.VerdictFails {
		return r
	}
	seen := map[string]bool{}
	add := func(f api.Fix) {
		if !seen[f.Message] {
			seen[f.Message] = true
			r.Fixes = append(r.Fixes, f)
		}
	}
	for _, reason := range r.Reasons {
		switch reason.Code {
		case "STRICT_REJECTS_PLAINTEXT", "STRICT_REJECTS_NON_ISTIO_TLS":
			t.strictFixes(&r, add)
		case "PROTOCOL_ERROR":
			if r.Inbound != nil && r.TLS != api.TLSMutual {
				add(api.Fix{Object: t.inboundServiceName(r), Field: "spec.ports[].name / appProtocol",
					Message: fmt.Sprintf("port %d is declared HTTP but the client sends raw TCP: name it tcp-… or set appProtocol: tcp (or send HTTP)", r.Inbound.Port)})
			} else {
				add(api.Fix{Object: "PeerAuthentication", Field: "spec.mtls.mode",
					Message: "the destination's policy is DISABLE while the client sends Istio mTLS: remove the DISABLE (or set a DestinationRule tls.mode DISABLE for this host)"})
			}
		case "REGISTRY_ONLY_BLOCKED":
			if r.Outbound != nil && r.Outbound.VirtualHost == "block_all" {
				add(api.Fix{Object: "caller", Message: "send a Host that names a Service (e.g. the Service's FQDN) — under REGISTRY_ONLY only registered hosts are routed"})
			} else {
				add(api.Fix{Object: "Service", Field: "spec.ports", Message: fmt.Sprintf("declare port %d in a Service that selects the destination (REGISTRY_ONLY drops traffic to unknown IP:port)", r.Port)})
			}
			add(api.Fix{Object: "ServiceEntry", Message: fmt.Sprintf("or register the destination with a ServiceEntry (addresses/hosts, port %d)", r.Port)})
		case "DNS_NXDOMAIN":
			if r.Form == "" || r.Form == "service-short" || !strings.Contains(r.Address, ".") {
				add(api.Fix{Object: "caller", Message: fmt.Sprintf("from namespace %s use <service>.<namespace> (a short name only resolves in the caller's namespace)", t.src.Namespace)})
			} else {
				add(api.Fix{Object: "Pod", Field: "spec.hostname / spec.subdomain", Message: "per-pod names exist only for ready endpoints whose pod sets hostname and subdomain = the headless Service name"})
			}
		case "NO_VIRTUAL_HOST", "NO_ROUTE_MATCH":
			add(api.Fix{Object: "VirtualService", Field: "spec.http[].match", Message: "add a route without match (a default) so every request of this host is routed"})
		case "NO_ENDPOINTS":
			add(api.Fix{Object: "Pod", Field: "status.conditions[Ready]", Message: "the Service has no ready endpoints (check readiness probes and selector labels)"})
		case "WRONG_DESTINATION":
			t.wrongDestinationFixes(&r, add)
		}
	}
	return r
}

// strictFixes: the client sent plaintext (or non-Istio TLS) to a STRICT port.
func (t *tracer) strictFixes(r *api.Request, add func(api.Fix)) {
	in := r.Inbound
	port := int32(0)
	if in != nil {
		port = in.Port
	}
	switch {
	case t.dataplane != api.DataplaneSidecar || !r.Captured:
		add(api.Fix{Object: fmt.Sprintf("Pod %s/%s", t.src.Namespace, t.src.Name), Field: "sidecar injection",
			Message: "the caller has no sidecar (or bypasses it) and cannot send Istio mTLS: inject it (namespace label istio-injection=enabled or istio.io/rev) and restart it"})
	case r.Outbound != nil && r.Outbound.Cluster == "PassthroughCluster":
		if svc := t.headlessHTTPService(r); svc != "" {
			add(api.Fix{Object: "caller", Message: fmt.Sprintf("call the pod by its per-pod name (e.g. %s) so the request uses the service cluster with mTLS", t.podNameHint(r))})
			add(api.Fix{Object: svc, Field: fmt.Sprintf("spec.ports[port=%d].name / appProtocol", r.Port),
				Message: "or make the port tcp (name tcp-…, appProtocol: tcp) or leave it unnamed, so the headless per-pod listener carries pod-IP traffic with mTLS (Istio ≥ 1.12)"})
		} else if r.Form == "pod-ip" || r.Form == "ip" {
			if p := t.m.podByIP[r.DialedIP]; p != nil && t.m.serviceTargets(p, port) == nil {
				add(api.Fix{Object: "Service", Field: "spec.ports",
					Message: fmt.Sprintf("no Service declares port %d of %s/%s: add it to a Service that selects the pod and call that Service's name (pod-IP traffic is passthrough: plaintext)", port, p.Namespace, p.Name)})
			} else {
				add(api.Fix{Object: "caller", Message: "call the Service name instead of the pod IP (pod-IP traffic is passthrough: plaintext, no L7 load balancing)"})
			}
			if r.Outbound.Listener == "virtualOutbound" {
				add(api.Fix{Object: "Service", Field: "spec.clusterIP: None",
					Message: fmt.Sprintf("or serve port %d from a headless Service with a tcp/unnamed port: Istio then builds a per-pod listener with mTLS for each pod IP", r.Port)})
			}
		} else {
			add(api.Fix{Object: "caller", Message: "the Host does not name a Service this proxy imports (Sidecar egress / exportTo), so it leaves as passthrough plaintext: send the Service's name as Host, or import it"})
			if t.sc.sidecar != nil {
				add(api.Fix{Object: fmt.Sprintf("Sidecar %s/%s", t.sc.sidecar.Namespace, t.sc.sidecar.Name), Field: "spec.egress[].hosts",
					Message: "add the destination's namespace/host to the egress hosts"})
			}
		}
	default:
		for _, reason := range r.Reasons {
			if reason.Code == "CLIENT_TLS" && strings.HasPrefix(reason.Message, "DestinationRule") {
				dr := strings.Fields(reason.Message)[1]
				add(api.Fix{Object: "DestinationRule " + dr, Field: "spec.trafficPolicy.tls.mode",
					Message: "remove tls.mode " + strings.TrimSpace(strings.TrimPrefix(reason.Message[strings.Index(reason.Message, "tls.mode")+len("tls.mode"):], " ")) + " (auto mTLS then applies) or set ISTIO_MUTUAL"})
			}
			if reason.Code == "CLIENT_TLS" && strings.Contains(reason.Message, "all-or-nothing") {
				add(api.Fix{Object: "endpoints", Message: "inject a sidecar into every endpoint of the headless port (mTLS to a headless port is all-or-nothing)"})
			}
			if reason.Code == "CLIENT_TLS" && strings.Contains(reason.Message, "namespace") && strings.Contains(reason.Message, "DISABLE") {
				add(api.Fix{Object: "PeerAuthentication", Field: "spec.mtls.mode", Message: "the service namespace's policy DISABLE turns auto mTLS off while the workload requires STRICT: make them consistent"})
			}
		}
	}
	if in != nil {
		add(api.Fix{Object: fmt.Sprintf("PeerAuthentication %s", t.workloadPAHint(in)), Field: fmt.Sprintf("spec.portLevelMtls[%d].mode", port),
			Message: fmt.Sprintf("or accept plaintext on port %d: a workload PeerAuthentication with portLevelMtls %d: PERMISSIVE (weakens mTLS; keyed by the container port)", port, port)})
	}
}

func (t *tracer) headlessHTTPService(r *api.Request) string {
	if r.Upstream == nil {
		return ""
	}
	for _, svc := range t.m.services {
		if !svc.isHeadless() {
			continue
		}
		if sp := svc.portByNumber(r.Port); sp != nil && isHTTP(sp.protocol) {
			for _, ep := range t.m.endpoints(svc, sp, false) {
				if ep.ip == r.Upstream.IP {
					return svc.kindName()
				}
			}
		}
	}
	return ""
}

func (t *tracer) podNameHint(r *api.Request) string {
	if r.Upstream != nil && r.Upstream.Pod != "" {
		if p := t.m.podByKey[r.Upstream.Pod]; p != nil {
			for _, rec := range t.m.podHostnameRecords(p) {
				return fmt.Sprintf("%s.%s:%d", rec.hostname, rec.svc.hostname, r.Port)
			}
		}
	}
	return "<pod>.<headless-service>.<namespace>.svc." + t.m.clusterDomain
}

func (t *tracer) workloadPAHint(in *api.Inbound) string {
	ns, name, _ := strings.Cut(in.Pod, "/")
	if p := t.m.podByKey[in.Pod]; p != nil {
		if app := p.Labels["app"]; app != "" {
			return fmt.Sprintf("%s/%s (selector app=%s)", ns, app, app)
		}
	}
	return ns + "/" + name
}

func (t *tracer) inboundServiceName(r api.Request) string {
	if r.Inbound == nil {
		return "Service"
	}
	if p := t.m.podByKey[r.Inbound.Pod]; p != nil {
		if tgt := t.m.serviceTargets(p, r.Inbound.Port); tgt != nil {
			return tgt.svc.kindName()
		}
	}
	return "Service"
}

// wrongDestinationFixes: the request lands somewhere that is not DST. Name
// what diverted it: a ServiceEntry without addresses owning the port, a
// Host header naming another Service, or plain load balancing.
func (t *tracer) wrongDestinationFixes(r *api.Request, add func(api.Fix)) {
	var svc *service
	if r.Outbound != nil {
		// outbound|PORT|SUBSET|HOST
		if parts := strings.SplitN(r.Outbound.Cluster, "|", 4); len(parts) == 4 && parts[0] == "outbound" {
			if l := t.m.byHost[parts[3]]; len(l) > 0 {
				svc = l[0]
			}
		}
	}
	vsRoute := ""
	for _, rs := range r.Reasons {
		if rs.Code == "VIRTUAL_SERVICE_TCP" && r.Outbound != nil {
			vsRoute = r.Outbound.Route
		}
	}
	switch {
	case vsRoute != "":
		add(api.Fix{Object: "VirtualService " + vsRoute, Field: "spec.tcp[].route",
			Message: fmt.Sprintf("this VirtualService sends the connection to %s: change its route (or its hosts) if the destination pod should get it", r.Outbound.Cluster)})
	case svc != nil && svc.se != nil && len(svc.addresses) == 0 && r.Outbound.RouteConfig == "":
		add(api.Fix{Object: "ServiceEntry " + svc.key(), Field: "spec.addresses",
			Message: fmt.Sprintf("this ServiceEntry has no addresses, so its 0.0.0.0_%d listener takes every TCP connection to port %d from this proxy: give it spec.addresses, or hide it from this namespace (exportTo / Sidecar egress)", r.Port, r.Port)})
	case svc != nil && r.Traffic == "http" && r.Outbound.VirtualHost != "":
		add(api.Fix{Object: "caller", Field: "Host header",
			Message: fmt.Sprintf("the Host header %q routes the request to %s; send the destination's own Service name (or no Host override)", stripPort(r.Host), svc.hostname)})
	default:
		add(api.Fix{Object: "caller", Message: "address the pod itself: its per-pod name through a headless Service (hostname.subdomain), or its IP on a port whose Service is headless"})
	}
}
