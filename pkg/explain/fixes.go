package explain

import (
	"fmt"
	"strings"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// fixStage attaches the smallest fixes to a failing request. Fixes key on
// reason codes, rules and structured fields, never on message text.
func (t *tracer) fixStage(f *flow) {
	r := f.r
	if r.Verdict != api.VerdictFails {
		return
	}
	seen := map[string]bool{}
	for _, reason := range r.Reasons {
		add := func(fx api.Fix) {
			if seen[fx.Message] {
				return
			}
			seen[fx.Message] = true
			fx.For = reason.Code
			r.Fixes = append(r.Fixes, fx)
		}
		switch reason.Code {
		case api.ReasonStrictRejectsPlaintext, api.ReasonStrictRejectsNonIstioTLS:
			t.strictFixes(f, add)
		case api.ReasonProtocolError:
			if r.Inbound != nil && r.TLS != api.TLSMutual {
				obj, objRef := t.inboundService(r)
				add(api.Fix{Object: obj, Ref: objRef, Field: "spec.ports[].name / appProtocol",
					Message: fmt.Sprintf("port %d is declared HTTP but the client sends raw TCP: name it tcp-… or set appProtocol: tcp (or send HTTP)", r.Inbound.Port)})
			} else {
				add(api.Fix{Object: "PeerAuthentication", Ref: reason.Object, Field: "spec.mtls.mode",
					Message: "the destination's policy is DISABLE while the client sends Istio mTLS: remove the DISABLE (or set a DestinationRule tls.mode DISABLE for this host)"})
			}
		case api.ReasonRegistryOnlyBlocked:
			if reason.Cluster != blackHoleCluster {
				add(api.Fix{Object: "caller", Message: "send a Host that names a Service (e.g. the Service's FQDN) — under REGISTRY_ONLY only registered hosts are routed"})
			} else {
				add(api.Fix{Object: "Service", Field: "spec.ports", Message: fmt.Sprintf("declare port %d in a Service that selects the destination (REGISTRY_ONLY drops traffic to unknown IP:port)", r.Port)})
			}
			add(api.Fix{Object: "ServiceEntry", Message: fmt.Sprintf("or register the destination with a ServiceEntry (addresses/hosts, port %d)", r.Port)})
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
				add(api.Fix{Object: "caller", Message: fmt.Sprintf("from namespace %s use <service>.<namespace> (a short name only resolves in the caller's namespace)", t.src.Namespace)})
			} else {
				add(api.Fix{Object: "Pod", Field: "spec.hostname / spec.subdomain", Message: "per-pod names exist only for ready endpoints whose pod sets hostname and subdomain = the headless Service name"})
			}
		case api.ReasonNoVirtualHost, api.ReasonNoRouteMatch:
			add(api.Fix{Object: "VirtualService", Ref: reason.Object, Field: "spec.http[].match", Message: "add a route without match (a default) so every request of this host is routed"})
		case api.ReasonNoEndpoints:
			add(api.Fix{Object: "Pod", Field: "status.conditions[Ready]", Message: "the Service has no ready endpoints (check readiness probes and selector labels)"})
		case api.ReasonWrongDestination:
			t.wrongDestinationFixes(f, add)
		case api.ReasonAuthzNotAllowed, api.ReasonAuthzDenied:
			t.authzFixes(f, reason, add)
		}
	}
}

// strictFixes: the client sent plaintext (or non-Istio TLS) to a STRICT port.
func (t *tracer) strictFixes(f *flow, add func(api.Fix)) {
	r := f.r
	in := r.Inbound
	port := int32(0)
	if in != nil {
		port = in.Port
	}
	switch {
	case t.dataplane != api.DataplaneSidecar || !r.Captured:
		add(api.Fix{Object: fmt.Sprintf("Pod %s/%s", t.src.Namespace, t.src.Name), Ref: ref("Pod", t.src.Namespace, t.src.Name), Field: "sidecar injection",
			Message: "the caller has no sidecar (or bypasses it) and cannot send Istio mTLS: inject it (namespace label istio-injection=enabled or istio.io/rev) and restart it"})
	case r.Outbound != nil && r.Outbound.Cluster == passthroughCluster:
		if svc := t.headlessHTTPService(r); svc != nil {
			add(api.Fix{Object: "caller", Message: fmt.Sprintf("call the pod by its per-pod name (e.g. %s) so the request uses the service cluster with mTLS", t.podNameHint(r))})
			add(api.Fix{Object: svc.kindName(), Ref: serviceRef(svc), Field: fmt.Sprintf("spec.ports[port=%d].name / appProtocol", r.Port),
				Message: "or make the port tcp (name tcp-…, appProtocol: tcp) or leave it unnamed, so the headless per-pod listener carries pod-IP traffic with mTLS (Istio ≥ 1.12)"})
		} else if r.Form == api.FormPodIP || r.Form == api.FormIP {
			if p := t.m.podByIP[r.DialedIP]; p != nil && t.m.serviceTargets(p, port) == nil {
				add(api.Fix{Object: "Service", Field: "spec.ports",
					Message: fmt.Sprintf("no Service declares port %d of %s/%s: add it to a Service that selects the pod and call that Service's name (pod-IP traffic is passthrough: plaintext)", port, p.Namespace, p.Name)})
			} else {
				add(api.Fix{Object: "caller", Message: "call the Service name instead of the pod IP (pod-IP traffic is passthrough: plaintext, no L7 load balancing)"})
			}
			if r.Outbound.Listener == virtualOutboundListener {
				add(api.Fix{Object: "Service", Field: "spec.clusterIP: None",
					Message: fmt.Sprintf("or serve port %d from a headless Service with a tcp/unnamed port: Istio then builds a per-pod listener with mTLS for each pod IP", r.Port)})
			}
		} else {
			add(api.Fix{Object: "caller", Message: "the Host does not name a Service this proxy imports (Sidecar egress / exportTo), so it leaves as passthrough plaintext: send the Service's name as Host, or import it"})
			if sc := t.sc.sidecar; sc != nil {
				add(api.Fix{Object: fmt.Sprintf("Sidecar %s/%s", sc.Namespace, sc.Name), Ref: ref("Sidecar", sc.Namespace, sc.Name), Field: "spec.egress[].hosts",
					Message: "add the destination's namespace/host to the egress hosts"})
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
					Message: "remove tls.mode " + mode + " (auto mTLS then applies) or set ISTIO_MUTUAL"})
			case api.RuleHeadlessAllOrNothing:
				add(api.Fix{Object: "endpoints", Ref: reason.Object, Message: "inject a sidecar into every endpoint of the headless port (mTLS to a headless port is all-or-nothing)"})
			case api.RuleNamespaceDisable:
				add(api.Fix{Object: "PeerAuthentication", Field: "spec.mtls.mode", Message: "the service namespace's policy DISABLE turns auto mTLS off while the workload requires STRICT: make them consistent"})
			}
		}
	}
	if in != nil {
		ns, name, sel := t.workloadPAHint(in)
		add(api.Fix{Object: "PeerAuthentication " + sel, Ref: ref("PeerAuthentication", ns, name), Field: fmt.Sprintf("spec.portLevelMtls[%d].mode", port),
			Message: fmt.Sprintf("or accept plaintext on port %d: a workload PeerAuthentication with portLevelMtls %d: PERMISSIVE (weakens mTLS; keyed by the container port)", port, port)})
	}
}

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

// workloadPAHint names the workload PeerAuthentication a fix would add:
// namespace, name and how the fix shows it ("demo/web (selector app=web)").
func (t *tracer) workloadPAHint(in *api.Inbound) (ns, name, shown string) {
	p := t.m.podByKey[in.Pod]
	if p == nil {
		return "", in.Pod, in.Pod
	}
	if app := p.Labels["app"]; app != "" {
		return p.Namespace, app, fmt.Sprintf("%s/%s (selector app=%s)", p.Namespace, app, app)
	}
	return p.Namespace, p.Name, p.Namespace + "/" + p.Name
}

// inboundService is the Service whose port the destination's inbound chain
// serves ("Service" when there is none).
func (t *tracer) inboundService(r *api.Request) (string, *api.ObjectRef) {
	if p := t.m.podByKey[r.Inbound.Pod]; p != nil {
		if tgt := t.m.serviceTargets(p, r.Inbound.Port); tgt != nil {
			return tgt.svc.kindName(), serviceRef(tgt.svc)
		}
	}
	return "Service", nil
}

// wrongDestinationFixes: the request lands somewhere that is not DST. Name
// what diverted it: a VirtualService tcp route, a ServiceEntry without
// addresses owning the port, a Host header naming another Service, or plain
// load balancing.
func (t *tracer) wrongDestinationFixes(f *flow, add func(api.Fix)) {
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
		add(api.Fix{Object: "VirtualService " + vsTCP.Route, Ref: vsTCP.Object, Field: "spec.tcp[].route",
			Message: fmt.Sprintf("this VirtualService sends the connection to %s: change its route (or its hosts) if the destination pod should get it", r.Outbound.Cluster)})
	case svc != nil && svc.se != nil && len(svc.addresses) == 0 && r.Outbound.RouteConfig == "":
		add(api.Fix{Object: "ServiceEntry " + svc.key(), Ref: serviceRef(svc), Field: "spec.addresses",
			Message: fmt.Sprintf("this ServiceEntry has no addresses, so its 0.0.0.0_%d listener takes every TCP connection to port %d from this proxy: give it spec.addresses, or hide it from this namespace (exportTo / Sidecar egress)", r.Port, r.Port)})
	case svc != nil && r.Traffic == api.TrafficHTTP && r.Outbound.VirtualHost != "":
		add(api.Fix{Object: "caller", Field: "Host header",
			Message: fmt.Sprintf("the Host header %q routes the request to %s; send the destination's own Service name (or no Host override)", stripPort(r.Host), svc.hostname)})
	default:
		add(api.Fix{Object: "caller", Message: "address the pod itself: its per-pod name through a headless Service (hostname.subdomain), or its IP on a port whose Service is headless"})
	}
}

// authzFixes: the destination's AuthorizationPolicies refuse the request.
func (t *tracer) authzFixes(f *flow, reason api.Reason, add func(api.Fix)) {
	r := f.r
	a := r.Inbound.Authorization
	pol := t.m.authzPolicy(a.Policy)
	if reason.Code == api.ReasonAuthzDenied && pol != nil {
		fx := api.Fix{Object: "AuthorizationPolicy " + a.Policy, Ref: reason.Object, Field: fmt.Sprintf("spec.rules[%d]", *a.Rule)}
		if r.Inbound.VirtualHost == "" && pol.Spec.GetAction() != securityapi.AuthorizationPolicy_ALLOW && ruleHasHTTPOnly(pol, *a.Rule) {
			fx.Message = fmt.Sprintf("port %d is TCP, where Istio drops the HTTP-only fields (methods, paths, hosts, request.*) of a DENY rule, so this rule denies every connection: move those fields to a policy for HTTP ports, or restrict the rule with to.operation.ports", r.Inbound.Port)
		} else {
			fx.Message = "this DENY rule matches the caller: narrow it (notPrincipals, notNamespaces, ports) if this caller should pass"
		}
		add(fx)
		return
	}
	allow := keysOf(enforcedPolicies(t.m.authzPolicies(t.m.podByKey[r.Inbound.Pod]).allow))
	target := "AuthorizationPolicy"
	var tref *api.ObjectRef
	if len(allow) > 0 {
		target += " " + allow[0]
		ns, name, _ := strings.Cut(allow[0], "/")
		tref = ref("AuthorizationPolicy", ns, name)
	}
	if a.Principal != "" {
		add(api.Fix{Object: target, Ref: tref, Field: "spec.rules[].from[].source.principals",
			Message: fmt.Sprintf("allow the caller: add its identity %q to a rule", strings.TrimPrefix(a.Principal, "spiffe://"))})
		return
	}
	// Plaintext (or non-Istio TLS): the request carries no identity.
	switch {
	case t.dataplane != api.DataplaneSidecar || !r.Captured:
		add(api.Fix{Object: fmt.Sprintf("Pod %s/%s", t.src.Namespace, t.src.Name), Ref: ref("Pod", t.src.Namespace, t.src.Name), Field: "sidecar injection",
			Message: "the caller has no sidecar, so its requests carry no identity: inject it (its requests then carry mTLS and spiffe://" + t.m.mesh.TrustDomain + "/ns/" + t.src.Namespace + "/sa/" + serviceAccount(t.src) + "), or for a Prometheus scraper mount the Istio certificates and scrape with TLS (traffic.sidecar.istio.io/includeOutboundIPRanges: \"\" and OUTPUT_CERTS)"})
	case r.Outbound != nil && (r.Outbound.Cluster == passthroughCluster || r.Outbound.Cluster == allowAnyDynamicDNSCluster):
		add(api.Fix{Object: "caller", Message: "call the Service name (or the pod's per-pod name) instead of the IP, so the request leaves through a service cluster with mTLS and carries the caller's identity"})
	default:
		add(api.Fix{Object: "caller", Message: "send Istio mTLS (remove a DestinationRule tls.mode DISABLE/SIMPLE for this host): plaintext carries no identity for principals/namespaces to match"})
	}
	if t.srcIP != "" {
		add(api.Fix{Object: target, Ref: tref, Field: "spec.rules[].from[].source.ipBlocks",
			Message: fmt.Sprintf("or allow the caller by address: add %s/32 to a rule's source.ipBlocks (weaker than an identity; pod IPs change)", t.srcIP)})
	}
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
