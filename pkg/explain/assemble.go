package explain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/podreach/kubectl-podreach/pkg/podref"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"
)

// explain answers q with the source's tracer from tracerOf (shared by the
// queries of one Engine).
func (m *model) explain(q Query, tracerOf func(*corev1.Pod) *tracer) (*api.Reachability, error) {
	src, err := m.queryPod(q.Source, "SRC")
	if err != nil {
		return nil, err
	}
	rep := api.NewReachability()
	var dst *corev1.Pod
	if q.Destination != nil {
		if dst, err = m.queryPod(*q.Destination, "DST"); err != nil {
			return nil, err
		}
	} else if q.Target == nil {
		return nil, usageErrorf("a destination (pod or URL) is required")
	}
	m.assumeControlPlane(src)
	t := tracerOf(src)
	t.dst = dst
	rep.Source = m.workload(src, q.Source.ChosenFrom)
	if t.sc.sidecar != nil {
		rep.Source.Sidecar = t.sc.sidecar.Namespace + "/" + t.sc.sidecar.Name
	}
	if rep.Source.Dataplane == api.DataplaneSidecar {
		rep.Source.OutboundTrafficPolicy = t.sc.outboundPolicy
	}
	rep.Mesh = api.Mesh{
		OutboundTrafficPolicy: api.OutboundPolicy(m.mesh.OutboundTrafficPolicy),
		RootNamespace:         m.mesh.RootNamespace,
		ClusterDomain:         m.clusterDomain,
		EnableAutoMtls:        m.mesh.EnableAutoMtls,
		IstioVersion:          fmt.Sprintf("1.%d", m.istioMinor),
		ConfigMap:             m.mesh.ConfigMap,
		Revision:              m.revisionOf(src),
		VerifiedVersions:      verifiedList(),
	}
	if m.cp != nil {
		rep.Mesh.ControlPlane = m.cp.key()
	}
	for _, cp := range m.controlPlanes {
		rep.Mesh.ControlPlanes = append(rep.Mesh.ControlPlanes, cp.api())
	}
	landing := dst // the pod whose AuthorizationPolicies the requests meet
	if dst != nil {
		w := m.workload(dst, q.Destination.ChosenFrom)
		rep.Destination = &w
		groups, err := m.destinationPorts(dst, portArgs(q.Ports))
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			rep.Ports = append(rep.Ports, g.summary)
			for _, c := range m.matrixCalls(src, dst, g, string(q.Traffic), q.Method) {
				rep.Requests = append(rep.Requests, t.trace(c))
			}
		}
	} else {
		c, err := m.targetCall(src, q.Target, string(q.Traffic), q.Method)
		if err != nil {
			return nil, err
		}
		// An app that dials a pod (its IP or a per-pod name) means that pod:
		// landing anywhere else (Host-routed to another Service, captured by
		// a ServiceEntry listener) is a wrong destination, not a success.
		t.dst = m.dialedPod(src, c.address)
		r := t.trace(c)
		rep.Requests = append(rep.Requests, r)
		rep.Target = &api.Target{URL: q.Target.Raw, Scheme: q.Target.Scheme, Host: q.Target.HostHeader}
		// DST is the pod the app dialed, else the pod the request lands on.
		p := t.dst
		if p == nil && r.Upstream != nil && r.Upstream.Pod != "" {
			p = m.podByKey[r.Upstream.Pod]
		}
		if p != nil {
			w := m.workload(p, "")
			rep.Destination = &w
		}
		landing = p
	}
	for _, r := range rep.Requests {
		rep.Summary.Requests++
		if r.Verdict == api.VerdictFails {
			rep.Summary.Failing++
		} else {
			rep.Summary.Reaching++
		}
	}
	rep.Warnings = m.warningsFor(t)
	rep.Warnings = append(rep.Warnings, waypointRouteWarnings(rep.Requests)...)
	rep.Warnings = append(rep.Warnings, m.versionWarnings(src, t.dst)...)
	rep.Warnings = append(rep.Warnings, m.trustDomainWarnings(landing)...)
	return rep, nil
}

func (m *model) queryPod(k PodKeyLike, role string) (*corev1.Pod, error) {
	p := m.podByKey[k.String()]
	if p == nil {
		return nil, usageErrorf("%s pod %q not found", role, k.String())
	}
	if len(podIPs(p)) == 0 && !p.Spec.HostNetwork {
		return nil, usageErrorf("%s pod %s has no IP yet (phase %s)", role, k.String(), p.Status.Phase)
	}
	return p, nil
}

// PodKeyLike is satisfied by snapshot.PodKey.
type PodKeyLike interface{ String() string }

func (m *model) workload(p *corev1.Pod, chosen string) api.Workload {
	w := api.Workload{Namespace: p.Namespace, Name: p.Name, Dataplane: m.dataplaneOf(p), HostNetwork: p.Spec.HostNetwork, ChosenFrom: chosen}
	if ips := podIPs(p); len(ips) > 0 {
		w.IP = ips[0]
	}
	if c := istioProxyContainer(p); c != nil {
		w.IstioVersion, _ = imageVersion(c.Image)
	}
	w.Revision = m.revisionOf(p)
	if cp := m.controlPlaneFor(p); cp != nil {
		w.ControlPlane = cp.key()
	}
	w.DNSCapture = m.proxySettingsOf(p).dnsCapture
	w.Ambient = m.ambientOf(p)
	if w.Dataplane == api.DataplaneSidecar || w.Dataplane == api.DataplaneAmbient {
		pa := m.composePeerAuthentication(p.Namespace, p.Labels)
		w.PeerAuthentication = pa.summary()
		w.AuthorizationPolicies = m.authzPolicies(p).names()
		if w.Dataplane == api.DataplaneAmbient {
			w.AuthorizationPolicies = m.ztunnelPolicies(m.authzPolicies(p)).names() // what istiod sends ztunnel
		}
		if pa.decider != nil {
			w.PeerAuthenticationRef = ref("PeerAuthentication", pa.decider.Namespace, pa.decider.Name)
		}
		if len(pa.perPort) > 0 {
			var ps []string
			for port, md := range pa.perPort {
				ps = append(ps, fmt.Sprintf("%d=%s", port, md))
			}
			sort.Strings(ps)
			w.PeerAuthentication += " (ports " + strings.Join(ps, ",") + ")"
		}
	}
	return w
}

func (m *model) warningsFor(t *tracer) []string {
	var out []string
	for _, u := range m.s.Unread {
		if u.Resource == gatewaysResource {
			continue // ambientWarnings says it when it matters
		}
		where := "cluster-wide"
		if u.Namespace != "" {
			where = "in namespace " + u.Namespace
		}
		out = append(out, fmt.Sprintf("could not read %s %s (%s): the answer assumes there are none", u.Resource, where, u.Reason))
	}
	if !m.mesh.Found {
		out = append(out, "no istio mesh ConfigMap found: assuming Istio's defaults (ALLOW_ANY, root namespace istio-system, auto mTLS on)")
	}
	if t.sc.hasPortEgress {
		out = append(out, fmt.Sprintf("Sidecar %s/%s has egress listeners with explicit ports (%s): not modelled; Istio builds those ports' listeners and routes from that egress listener's hosts only, so answers on those ports may be wrong", t.sc.sidecar.Namespace, t.sc.sidecar.Name, strings.Join(t.sc.egressPorts, ", ")))
	}
	if p := t.sc.proxy; t.dataplane == api.DataplaneSidecar && p.dnsCapture && p.dnsAutoAllocate && !m.istiodRule(ruleSEAutoAllocateController) {
		out = append(out, fmt.Sprintf("the source proxy sets ISTIO_META_DNS_AUTO_ALLOCATE and its control plane (Istio 1.%d) allocates ServiceEntry VIPs at push time: those VIPs are not computed here, so names of ServiceEntries without addresses are answered as if they had none", m.istioMinor))
	}
	return append(out, m.ambientWarnings(t)...)
}

// portGroup is one destination (pod) port of the matrix.
type portGroup struct {
	summary api.PortSummary
	refs    []inboundTarget // service ports that reach this pod port
}

// destinationPorts lists the DST pod ports to examine: Service ports that
// select DST (by resolved target port), declared containerPorts (the
// istio-proxy container excluded) and --port values.
func (m *model) destinationPorts(dst *corev1.Pod, only []string) ([]*portGroup, error) {
	groups := map[int32]*portGroup{}
	get := func(p int32) *portGroup {
		g := groups[p]
		if g == nil {
			g = &portGroup{summary: api.PortSummary{Port: p}}
			groups[p] = g
		}
		return g
	}
	ips := map[string]bool{}
	for _, ip := range podIPs(dst) {
		ips[ip] = true
	}
	for _, svc := range m.servicesFor(dst.Namespace) {
		if !svc.isKube() || svc.resolution == "Alias" {
			continue
		}
		selects := svc.namespace == dst.Namespace && len(svc.kube.Spec.Selector) > 0 && labelsMatch(svc.kube.Spec.Selector, dst.Labels)
		for _, sp := range svc.ports {
			var tp int32 = -1
			if selects {
				if p, ok := resolveTargetPort(dst, sp); ok {
					tp = p
				}
			} else if len(svc.kube.Spec.Selector) == 0 {
				for _, ep := range m.endpoints(svc, sp, false) {
					if ips[ep.ip] {
						tp = ep.port
					}
				}
			}
			if tp < 0 {
				continue
			}
			g := get(tp)
			g.refs = append(g.refs, inboundTarget{svc: svc, sp: sp})
			name := sp.name
			if name == "" {
				name = "(unnamed)"
			}
			kind := ""
			if svc.isHeadless() {
				kind = ", headless"
			}
			g.summary.Sources = append(g.summary.Sources, fmt.Sprintf("Service %s port %s %d→%d (%s%s)", svc.key(), name, sp.port, tp, sp.protocol, kind))
		}
	}
	for _, c := range dst.Spec.Containers {
		if c.Name == "istio-proxy" {
			continue
		}
		for _, cp := range c.Ports {
			if cp.Protocol == corev1.ProtocolUDP || cp.Protocol == corev1.ProtocolSCTP {
				continue
			}
			g := get(cp.ContainerPort)
			if g.summary.Name == "" {
				g.summary.Name = cp.Name
			}
			g.summary.Sources = append(g.summary.Sources, fmt.Sprintf("containerPort %s/%d", c.Name, cp.ContainerPort))
		}
	}
	var out []*portGroup
	if len(only) > 0 {
		seen := map[int32]bool{}
		for _, o := range only {
			p, err := m.resolvePortArg(dst, o, groups)
			if err != nil {
				return nil, err
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			g := get(p)
			if len(g.summary.Sources) == 0 {
				g.summary.Sources = []string{"--port"}
			}
			out = append(out, g)
		}
	} else {
		for _, g := range groups {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].summary.Port < out[j].summary.Port })
	for _, g := range out {
		g.summary.Protocol = m.podPortProtocol(dst, g.summary.Port)
		if g.summary.Protocol == api.ProtocolAuto && len(g.refs) == 0 {
			g.summary.Protocol = "undeclared"
		}
	}
	if len(out) == 0 {
		return nil, usageErrorf("pod %s/%s declares no ports and no Service selects it: give one with --port", dst.Namespace, dst.Name)
	}
	return out, nil
}

func (m *model) resolvePortArg(dst *corev1.Pod, arg string, groups map[int32]*portGroup) (int32, error) {
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 1 || n > 65535 {
			return 0, usageErrorf("invalid --port %q: not in 1-65535", arg)
		}
		// A Service port number maps to its target port.
		for tp, g := range groups {
			for _, r := range g.refs {
				if r.sp.port == int32(n) && tp != int32(n) {
					if _, direct := groups[int32(n)]; !direct {
						return tp, nil
					}
				}
			}
		}
		return int32(n), nil
	}
	for _, c := range dst.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == arg {
				return cp.ContainerPort, nil
			}
		}
	}
	for tp, g := range groups {
		for _, r := range g.refs {
			if r.sp.name == arg {
				return tp, nil
			}
		}
	}
	return 0, usageErrorf("invalid --port %q: pod %s/%s has no port named %q", arg, dst.Namespace, dst.Name, arg)
}

// matrixCalls lists every address SRC could dial for DST on one pod port.
func (m *model) matrixCalls(src, dst *corev1.Pod, g *portGroup, traffic, method string) []call {
	var out []call
	seen := map[string]bool{}
	add := func(addr string, port int32, proto api.Protocol) {
		k := addr + ":" + strconv.Itoa(int(port))
		if seen[k] {
			return
		}
		seen[k] = true
		out = append(out, m.newCall(addr, port, proto, traffic, method, g.summary.Port))
	}
	for _, ref := range g.refs {
		svc, sp := ref.svc, ref.sp
		names := []string{}
		if src.Namespace == svc.namespace {
			names = append(names, svc.name)
		}
		names = append(names, svc.name+"."+svc.namespace, svc.name+"."+svc.namespace+".svc", svc.hostname, svc.hostname+".")
		for _, n := range names {
			add(n, sp.port, sp.protocol)
		}
		if svc.isHeadless() {
			for _, rec := range m.podHostnameRecords(dst) {
				if rec.svc != svc {
					continue
				}
				base := rec.hostname + "." + svc.name
				if src.Namespace == svc.namespace {
					add(base, sp.port, sp.protocol)
				}
				add(base+"."+svc.namespace, sp.port, sp.protocol)
				add(base+"."+svc.namespace+".svc", sp.port, sp.protocol)
				add(rec.hostname+"."+svc.hostname, sp.port, sp.protocol)
			}
		} else {
			for _, a := range svc.addresses {
				add(a, sp.port, sp.protocol)
			}
		}
	}
	if ips := podIPs(dst); len(ips) > 0 {
		add(ips[0], g.summary.Port, m.podPortProtocol(dst, g.summary.Port))
	}
	return out
}

// newCall builds the request an app would send. With --traffic auto, ports
// Istio treats as HTTP or auto-detects are called with HTTP (the usual
// incident: scrapes, health checks, REST), the others with raw TCP.
func (m *model) newCall(addr string, port int32, proto api.Protocol, traffic, method string, destPort int32) call {
	c := call{address: addr, port: port, destPort: destPort, path: "/"}
	switch traffic {
	case "http", "tcp":
		c.traffic = api.Traffic(traffic)
	default:
		if isHTTPOrSniffed(proto) {
			c.traffic = "http"
		} else {
			c.traffic = "tcp"
		}
	}
	if c.traffic == "http" {
		c.host, c.method = hostHeader(addr, port), httpMethod(method)
	}
	return c
}

// httpMethod is the method the app sends: GET unless --method says otherwise.
func httpMethod(m string) string {
	if m == "" {
		return "GET"
	}
	return strings.ToUpper(m)
}

// hostHeader is what curl sends: no port for 80.
func hostHeader(addr string, port int32) string {
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	if port == 80 {
		return addr
	}
	return addr + ":" + strconv.Itoa(int(port))
}

// dialedPod is the pod that owns the first address the URL's host resolves
// to from src, if it is a pod IP (not a ClusterIP, not a hostNetwork pod's
// node IP).
func (m *model) dialedPod(src *corev1.Pod, host string) *corev1.Pod {
	ans := m.resolve(host, src.Namespace)
	if len(ans.ips) == 0 {
		return nil
	}
	if p := m.podByIP[ans.ips[0]]; p != nil && !p.Spec.HostNetwork {
		return p
	}
	return nil
}

func (m *model) targetCall(src *corev1.Pod, tg *podref.Target, traffic, method string) (call, error) {
	c := call{address: tg.Host, port: tg.Port, path: tg.Path, headers: tg.Headers}
	switch {
	case traffic == "http" || traffic == "tcp":
		c.traffic = api.Traffic(traffic)
	case tg.Scheme == "http" || tg.Scheme == "grpc":
		c.traffic = "http"
	case tg.Scheme == "tcp" || tg.Scheme == "https":
		c.traffic = "tcp"
	default: // host:port: by the port's protocol
		ans := m.resolve(tg.Host, src.Namespace)
		proto := api.ProtocolTCP
		if ans.svc != nil {
			if sp := ans.svc.portByNumber(tg.Port); sp != nil {
				proto = sp.protocol
			}
		} else if len(ans.ips) > 0 {
			if p := m.podByIP[ans.ips[0]]; p != nil {
				proto = m.podPortProtocol(p, tg.Port)
			}
		}
		c.traffic = "tcp"
		if isHTTP(proto) {
			c.traffic = "http"
		}
	}
	if c.traffic == "http" {
		c.method = httpMethod(method)
		c.host = hostHeader(tg.Host, tg.Port)
		if tg.HostHeader != "" {
			c.host = tg.HostHeader
		}
	}
	return c, nil
}
