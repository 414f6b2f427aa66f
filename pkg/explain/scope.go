package explain

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
)

// sidecarScope is what the source proxy imports (pilot/pkg/model/sidecar.go).
type sidecarScope struct {
	sidecar *networkingv1.Sidecar // nil: default scope, egress */*
	// egressHosts of the catch-all egress listener ("ns/host").
	egressHosts []string
	// portLocked lists egress listeners with an explicit port (modelled only as a warning).
	hasPortEgress  bool
	egressPorts    []string // ports of egress listeners with an explicit port
	outboundPolicy api.OutboundPolicy
	proxyNS        string
	proxyLabels    map[string]string
	visible        map[*service]bool
	// onPort caches visibleServicesOnPort: a fleet asks it for every
	// request of the source, and it scans every service on the port.
	onPort map[int32][]*service

	// proxy is the sidecar's DNS settings; autoVIPs is true when the proxy
	// consumes ServiceEntry VIPs that istiod's controller allocated
	// (model.Service nodeUsesAutoallocatedIPs: DNS capture, with the
	// controller on — ruleSEAutoAllocateController — or
	// ISTIO_META_DNS_AUTO_ALLOCATE).
	proxy    proxySettings
	autoVIPs bool
	// excludes: a "~" namespace prefix on an egress host excludes
	// (ruleSidecarEgressExclude, istiod ≥ 1.31); before, "~…" is a
	// namespace name that no Service has.
	excludes bool
}

// selectSidecar mirrors pilot/pkg/model/push_context.go getSidecarScope: in
// the proxy namespace, Sidecars whose workloadSelector matches (oldest
// first), then the selector-less one; else the root namespace's selector-less
// Sidecar; else the default scope (egress */*).
func (m *model) selectSidecar(pod *corev1.Pod) *networkingv1.Sidecar {
	var withSel, noSel []*networkingv1.Sidecar
	for _, sc := range m.s.Sidecars {
		if sc.Namespace != pod.Namespace {
			continue
		}
		if sel := sc.Spec.GetWorkloadSelector().GetLabels(); len(sel) > 0 {
			if labelsMatch(sel, pod.Labels) {
				withSel = append(withSel, sc)
			}
		} else {
			noSel = append(noSel, sc)
		}
	}
	oldest := func(l []*networkingv1.Sidecar) *networkingv1.Sidecar {
		sort.SliceStable(l, func(i, j int) bool {
			a, b := l[i], l[j]
			if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
				return a.CreationTimestamp.Before(&b.CreationTimestamp)
			}
			return a.Name < b.Name
		})
		return l[0]
	}
	if len(withSel) > 0 {
		return oldest(withSel)
	}
	if len(noSel) > 0 {
		return oldest(noSel)
	}
	var root []*networkingv1.Sidecar
	for _, sc := range m.s.Sidecars {
		if sc.Namespace == m.mesh.RootNamespace && len(sc.Spec.GetWorkloadSelector().GetLabels()) == 0 {
			root = append(root, sc)
		}
	}
	if len(root) > 0 {
		return oldest(root)
	}
	return nil
}

func (m *model) newSidecarScope(pod *corev1.Pod) *sidecarScope {
	sc := &sidecarScope{
		sidecar:        m.selectSidecar(pod),
		egressHosts:    []string{"*/*"},
		outboundPolicy: api.OutboundPolicy(m.mesh.OutboundTrafficPolicy),
		proxyNS:        pod.Namespace,
		proxyLabels:    pod.Labels,
		visible:        map[*service]bool{},
		proxy:          m.proxySettingsOf(pod),
	}
	sc.autoVIPs = sc.proxy.dnsCapture && m.istiodRule(ruleSEAutoAllocateController)
	sc.excludes = m.istiodRule(ruleSidecarEgressExclude)
	if sc.sidecar != nil {
		sc.egressHosts = nil
		for _, eg := range sc.sidecar.Spec.GetEgress() {
			if eg.GetPort() != nil {
				sc.hasPortEgress = true
				sc.egressPorts = append(sc.egressPorts, strconv.Itoa(int(eg.GetPort().GetNumber())))
				continue
			}
			sc.egressHosts = append(sc.egressHosts, eg.GetHosts()...)
		}
		if len(sc.sidecar.Spec.GetEgress()) == 0 {
			sc.egressHosts = []string{"*/*"}
		}
		// initSidecarScopeInternalIndexes: the Sidecar's policy replaces the mesh's.
		if p := sc.sidecar.Spec.GetOutboundTrafficPolicy(); p != nil && p.GetMode().String() != "" {
			if mode := api.OutboundPolicy(p.GetMode().String()); mode == "REGISTRY_ONLY" || mode == "ALLOW_ANY" || mode == "ALLOW_ANY_DYNAMIC_DNS" {
				sc.outboundPolicy = api.OutboundPolicy(p.GetMode().String())
			}
		}
	}
	for _, svc := range m.services {
		if m.exportedTo(svc.exportTo, svc.namespace, pod.Namespace) && sc.egressImports(svc.namespace, svc.hostname, pod.Namespace) {
			sc.visible[svc] = true
		}
	}
	// Services that are destinations of imported VirtualServices are pulled
	// in too (sidecar.go collectImportedServices).
	if sc.sidecar != nil {
		for _, vs := range m.s.VirtualServices {
			if !m.vsVisible(vs, sc) {
				continue
			}
			for _, d := range vsDestinations(vs) {
				fq := m.resolveShortHost(d, vs.Namespace)
				for _, svc := range m.byHost[fq] {
					if m.exportedTo(svc.exportTo, svc.namespace, pod.Namespace) {
						sc.visible[svc] = true
					}
				}
			}
		}
	}
	return sc
}

// exportedTo mirrors IsServiceVisible / exportTo semantics: "*" public,
// "." or the owner namespace private, "~" nobody, else namespace names.
func (m *model) exportedTo(exportTo []string, owner, viewer string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		switch e {
		case "*":
			return true
		case ".":
			if owner == viewer {
				return true
			}
		case "~":
		default:
			if e == viewer {
				return true
			}
		}
	}
	return false
}

// egressImports mirrors sidecar.go's egress host handling (Istio 1.31):
// "ns/host" imports, ns "*" any namespace and "." the proxy's; a "~" prefix
// on the namespace ("~/*", "~ns/host", "~*/host") excludes instead, and an
// exclusion in the service's namespace or the wildcard one wins over any
// import (selectServices checks Excluded first); host "*", "*.suffix" or an
// exact hostname. Before 1.31 (sc.excludes false) "~" and "~ns" are plain
// namespace names: no Service is in them, so those entries import nothing.
func (sc *sidecarScope) egressImports(ns, hostname, proxyNS string) bool {
	nsOf := func(hns string) string {
		if hns == "." {
			return proxyNS
		}
		return hns
	}
	for _, h := range sc.egressHosts {
		hns, hhost, ok := strings.Cut(h, "/")
		if !ok || !sc.excludes || !strings.HasPrefix(hns, "~") {
			continue
		}
		ens := nsOf(strings.TrimPrefix(hns, "~"))
		if ens == "" {
			ens = "*"
		}
		if (ens == "*" || ens == ns) && hostMatches(hostname, hhost) {
			return false
		}
	}
	for _, h := range sc.egressHosts {
		hns, hhost, ok := strings.Cut(h, "/")
		if !ok || sc.excludes && strings.HasPrefix(hns, "~") {
			continue
		}
		if hns = nsOf(hns); hns != "*" && hns != ns {
			continue
		}
		if hostMatches(hostname, hhost) {
			return true
		}
	}
	return false
}

// hostMatches: pattern "*" matches all, "*.x" matches names ending ".x".
func hostMatches(name, pattern string) bool {
	pattern = strings.ToLower(pattern)
	if pattern == "*" {
		return true
	}
	if strings.HasPrefix(pattern, "*") {
		return strings.HasSuffix(name, pattern[1:])
	}
	return name == pattern
}

func (m *model) vsVisible(vs *networkingv1.VirtualService, sc *sidecarScope) bool {
	exportTo := vs.Spec.GetExportTo()
	if len(exportTo) == 0 {
		exportTo = m.mesh.DefaultVirtualServiceExportTo
	}
	if !m.exportedTo(exportTo, vs.Namespace, sc.proxyNS) {
		return false
	}
	gws := vs.Spec.GetGateways()
	if len(gws) > 0 {
		mesh := false
		for _, g := range gws {
			if g == "mesh" {
				mesh = true
			}
		}
		if !mesh {
			return false
		}
	}
	for _, h := range vs.Spec.GetHosts() {
		fq := m.resolveShortHost(h, vs.Namespace)
		if sc.egressImports(vs.Namespace, fq, sc.proxyNS) {
			return true
		}
	}
	return false
}

func vsDestinations(vs *networkingv1.VirtualService) []string {
	var out []string
	for _, r := range vs.Spec.GetHttp() {
		for _, d := range r.GetRoute() {
			out = append(out, d.GetDestination().GetHost())
		}
	}
	for _, r := range vs.Spec.GetTcp() {
		for _, d := range r.GetRoute() {
			out = append(out, d.GetDestination().GetHost())
		}
	}
	return out
}

// resolveShortHost mirrors pkg/config/host ResolveShortnameToFQDN: a host
// without dots is relative to the config's namespace.
func (m *model) resolveShortHost(h, ns string) string {
	h = strings.ToLower(h)
	if h == "*" || strings.Contains(h, ".") {
		return h
	}
	return h + "." + ns + ".svc." + m.clusterDomain
}

// visibleServicesOnPort returns the services visible to the proxy that
// declare the port, in Istio's order.
func (m *model) visibleServicesOnPort(sc *sidecarScope, port int32) []*service {
	if out, ok := sc.onPort[port]; ok {
		return out
	}
	var out []*service
	for _, svc := range m.byPort[port] {
		if sc.visible[svc] {
			out = append(out, svc)
		}
	}
	if sc.onPort == nil {
		sc.onPort = map[int32][]*service{}
	}
	out = slices.Clip(out) // shared: an append must not write into it
	sc.onPort[port] = out
	return out
}

// visibleVirtualServices returns the VirtualServices the proxy sees, oldest
// first (push_context.go sortConfigByCreationTime).
func (m *model) visibleVirtualServices(sc *sidecarScope) []*networkingv1.VirtualService {
	var out []*networkingv1.VirtualService
	for _, vs := range m.s.VirtualServices {
		if m.vsVisible(vs, sc) {
			out = append(out, vs)
		}
	}
	// push_context.go initVirtualServices / VirtualServicesForGateway: the
	// proxy's namespace-private VirtualServices first, then those exported to
	// its namespace by name, then public ones; oldest first within each. The
	// first to claim a domain keeps it (httproute.go vhost domain dedupe).
	group := func(vs *networkingv1.VirtualService) int {
		exportTo := vs.Spec.GetExportTo()
		if len(exportTo) == 0 {
			exportTo = m.mesh.DefaultVirtualServiceExportTo
		}
		if len(exportTo) == 0 || contains(exportTo, "*") {
			return 2
		}
		if vs.Namespace == sc.proxyNS {
			return 0
		}
		return 1
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ga, gb := group(a), group(b); ga != gb {
			return ga < gb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}
