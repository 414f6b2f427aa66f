package explain

import (
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// What istiod's ambient index tells ztunnel about pods and Services, Istio
// 1.31 (pilot/pkg/serviceregistry/ambient):
//   - enrolment: cni/pkg/util/enablement_selector.go Matches with the chart's
//     default selectors (pod or namespace istio.io/dataplane-mode=ambient,
//     pod label none opts out; sidecar pods and hostNetwork pods never),
//     and the CNI's ambient.istio.io/redirection annotation as the observed
//     state (cni/pkg/util/podutil.go PodFullyEnrolled);
//   - waypoints: waypoints.go gatewayToWaypointTransform (every Gateway
//     with status addresses; istio.io/waypoint-for on the Gateway, default
//     service), fetchWaypointForTarget (use-waypoint on the object, "none"
//     opts out, else on its namespace; use-waypoint-namespace overrides the
//     namespace; the waypoint must allow attachment from the namespace),
//     fetchWaypointForService (service or all) and fetchWaypointForWorkload
//     (workload or all); fetchWaypointForInstance (a waypoint's own pods
//     have none);
//   - the tunnel protocol: workloads.go setTunnelProtocol (HBONE when the
//     CNI redirected the pod or the pod carries networking.istio.io/tunnel=http).

const (
	labelDataplaneMode    = "istio.io/dataplane-mode"
	annotationRedirection = "ambient.istio.io/redirection"
	labelUseWaypoint      = "istio.io/use-waypoint"
	labelUseWaypointNS    = "istio.io/use-waypoint-namespace"
	labelWaypointFor      = "istio.io/waypoint-for"
	labelGatewayName      = "gateway.networking.k8s.io/gateway-name"
	labelTunnel           = "networking.istio.io/tunnel"
	labelGatewayManaged   = "gateway.istio.io/managed"
	managedMeshController = "istio.io-mesh-controller"
	hbonePort             = 15008
)

// waypoint mirrors ambient.Waypoint.
type waypoint struct {
	gw          *snapshot.Gateway
	trafficType string // service | workload | all | none
	from        string // the HBONE listener's allowedRoutes: All | Same | Selector
	selector    labels.Selector
}

func (w *waypoint) key() string { return w.gw.Namespace + "/" + w.gw.Name }

// waypointTarget is the result of a waypoint lookup: the waypoint, or why
// there is none (unknown: the Gateways could not be read).
type waypointTarget struct {
	wp      *waypoint
	unknown bool
}

// ambientWaypoints indexes the Gateways that are waypoints (gatewayToWaypointTransform).
func ambientWaypoints(gws []snapshot.Gateway) map[string]*waypoint {
	out := map[string]*waypoint{}
	for i := range gws {
		gw := &gws[i]
		if len(gw.Status.Addresses) == 0 {
			continue // not ready: istiod ignores it
		}
		w := &waypoint{gw: gw, trafficType: "service", from: "Same"}
		if tt, ok := gw.Labels[labelWaypointFor]; ok {
			w.trafficType = tt
		}
		// makeAllowedRoutes without an inbound binding: the HBONE listener on 15008.
		for _, l := range gw.Spec.Listeners {
			if l.Protocol != "HBONE" || l.Port != hbonePort {
				continue
			}
			if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil {
				if ar.Namespaces.From != "" {
					w.from = ar.Namespaces.From
				}
				if ar.Namespaces.Selector != nil {
					w.selector, _ = metav1.LabelSelectorAsSelector(ar.Namespaces.Selector)
				}
			}
			break
		}
		out[w.key()] = w
	}
	return out
}

// allowsFrom mirrors Waypoint.AllowsAttachmentFromNamespace.
func (m *model) allowsFrom(w *waypoint, ns string) bool {
	switch w.from {
	case "All":
		return true
	case "Selector":
		var l map[string]string
		if n := m.namespaces[ns]; n != nil {
			l = n.Labels
		}
		return w.selector != nil && w.selector.Matches(labels.Set(l))
	}
	return w.gw.Namespace == ns
}

// gatewaysUnread says why the Gateways are unknown ("" when read or when the
// kind is not installed: then there are none).
func (m *model) gatewaysUnread() string {
	for _, u := range m.s.Unread {
		if u.Resource == gatewaysResource && u.Cause != snapshot.UnreadNotInstalled {
			return u.Reason
		}
	}
	return ""
}

// gatewaysResource names the Gateways as the readers record them.
const gatewaysResource = "gateways.gateway.networking.k8s.io"

// useWaypoint mirrors GetUseWaypoint.
func useWaypoint(meta metav1.ObjectMeta, defaultNS string) (key string, none bool) {
	v, ok := meta.Labels[labelUseWaypoint]
	if !ok {
		return "", false
	}
	if v == "none" {
		return "", true
	}
	ns := defaultNS
	if o, ok := meta.Labels[labelUseWaypointNS]; ok {
		ns = o
	}
	return ns + "/" + v, false
}

// waypointFor mirrors fetchWaypointForTarget followed by the traffic-type
// check of fetchWaypointForService (kind "service") or
// fetchWaypointForWorkload (kind "workload").
func (m *model) waypointFor(meta metav1.ObjectMeta, kind string) waypointTarget {
	key, none := useWaypoint(meta, meta.Namespace)
	switch {
	case none:
		return waypointTarget{}
	case key == "":
		ns := m.namespaces[meta.Namespace]
		if ns == nil {
			return waypointTarget{}
		}
		if key, _ = useWaypoint(ns.ObjectMeta, meta.Namespace); key == "" {
			return waypointTarget{} // no use-waypoint anywhere: no waypoint, whatever the Gateways
		}
	}
	if m.gatewaysUnread() != "" {
		return waypointTarget{unknown: true} // named, but the Gateways are unread
	}
	w := m.waypoints[key]
	if w == nil || !m.allowsFrom(w, meta.Namespace) {
		return waypointTarget{} // not ready, or attachment denied
	}
	if w.trafficType != kind && w.trafficType != "all" {
		return waypointTarget{}
	}
	return waypointTarget{wp: w}
}

// serviceWaypoint is the waypoint istiod attaches to a Kubernetes Service
// or a ServiceEntry (fetchWaypointForService; a waypoint's own Service has none).
func (m *model) serviceWaypoint(svc *service) waypointTarget {
	switch {
	case svc == nil:
		return waypointTarget{}
	case svc.isKube():
		if svc.kube.Labels[labelGatewayManaged] == managedMeshController {
			return waypointTarget{}
		}
		return m.waypointFor(svc.kube.ObjectMeta, "service")
	}
	return m.waypointFor(svc.se.ObjectMeta, "service")
}

// workloadWaypoint is istiod's Workload.waypoint of a pod (computeWaypoint).
func (m *model) workloadWaypoint(p *corev1.Pod) waypointTarget {
	if p.Labels[labelGatewayName] != "" {
		if _, ok := m.waypoints[p.Namespace+"/"+p.Labels[labelGatewayName]]; ok {
			return waypointTarget{} // an instance of a waypoint
		}
	}
	return m.waypointFor(p.ObjectMeta, "workload")
}

// ambientSelected mirrors the CNI's enablement selector with the default
// selectors: the pod, or its namespace unless the pod opts out.
func (m *model) ambientSelected(p *corev1.Pod) bool {
	if p.Spec.HostNetwork || hasSidecar(p) {
		return false
	}
	switch p.Labels[labelDataplaneMode] {
	case "ambient":
		return true
	case "none":
		return false
	}
	ns := m.namespaces[p.Namespace]
	return ns != nil && ns.Labels[labelDataplaneMode] == "ambient"
}

// redirected is the CNI's observed state: the pod's traffic goes through
// ztunnel.
func redirected(p *corev1.Pod) bool {
	return !p.Spec.HostNetwork && !hasSidecar(p) && p.Annotations[annotationRedirection] == "enabled"
}

// tunnelProtocol mirrors setTunnelProtocol.
func tunnelProtocol(p *corev1.Pod) api.TunnelProtocol {
	if p.Annotations[annotationRedirection] == "enabled" || p.Labels[labelTunnel] == "http" {
		return api.TunnelHBONE
	}
	return api.TunnelNone
}

// spiffeID is a pod's identity.
func (m *model) spiffeID(p *corev1.Pod) string {
	return "spiffe://" + m.mesh.TrustDomain + "/ns/" + p.Namespace + "/sa/" + serviceAccount(p)
}

// ambientOf is the report's Workload.ambient (nil for pods ambient does not concern).
func (m *model) ambientOf(p *corev1.Pod) *api.WorkloadAmbient {
	sel, red := m.ambientSelected(p), redirected(p)
	if !sel && !red {
		return nil
	}
	a := &api.WorkloadAmbient{Selected: sel, TunnelProtocol: tunnelProtocol(p), Identity: m.spiffeID(p)}
	switch {
	case sel && red:
		a.Redirection = api.RedirectionEnabled
	case sel:
		a.Redirection = api.RedirectionPending
	default:
		a.Redirection = api.RedirectionStale
	}
	wt := m.workloadWaypoint(p)
	a.WaypointUnknown = wt.unknown
	if wt.wp != nil {
		a.Waypoint = wt.wp.key()
	}
	if z := m.ztunnelOn(p); z != nil {
		a.Ztunnel = podKey(z)
		if c := firstContainer(z, "istio-proxy"); c != nil {
			a.ZtunnelVersion, _ = imageVersion(c.Image)
		}
	}
	return a
}

// ztunnelOn is the ztunnel pod on a pod's node (nil when not read).
func (m *model) ztunnelOn(p *corev1.Pod) *corev1.Pod {
	var found *corev1.Pod
	for i := range m.s.Ztunnels {
		if z := &m.s.Ztunnels[i]; z.Spec.NodeName == p.Spec.NodeName {
			if runningReady(z) {
				return z // during a rollout, the one that serves
			}
			if found == nil {
				found = z
			}
		}
	}
	return found
}

// ztunnelName is how steps name a pod's ztunnel: "ztunnel NODE".
func (m *model) ztunnelName(p *corev1.Pod) string {
	if p == nil || p.Spec.NodeName == "" {
		return "ztunnel"
	}
	return "ztunnel " + p.Spec.NodeName
}

func firstContainer(p *corev1.Pod, name string) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	if len(p.Spec.Containers) > 0 {
		return &p.Spec.Containers[0]
	}
	return nil
}

// waypointPods are the ready pods of a waypoint (label
// gateway.networking.k8s.io/gateway-name), in IP order.
func (m *model) waypointPods(w *waypoint) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range m.pods {
		if p.Namespace == w.gw.Namespace && p.Labels[labelGatewayName] == w.gw.Name && podReady(p) && !podTerminated(p) && len(podIPs(p)) > 0 {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return ipLess(podIPs(out[i])[0], podIPs(out[j])[0]) })
	return out
}

// hasSidecar: the istio-proxy container or the injector's status annotation.
func hasSidecar(p *corev1.Pod) bool {
	if istioProxyContainer(p) != nil {
		return true
	}
	_, ok := p.Annotations["sidecar.istio.io/status"]
	return ok
}

// ambientWarnings: enrolment that label and annotation disagree on, and
// Gateways that could not be read, for SRC and DST.
func (m *model) ambientWarnings(t *tracer) []string {
	var out []string
	concerned := false
	for _, p := range []*corev1.Pod{t.src, t.dst} {
		if p == nil {
			continue
		}
		a := m.ambientOf(p)
		if a == nil {
			continue
		}
		concerned = true
		if a.Redirection == api.RedirectionEnabled && len(m.s.Ztunnels) == 0 {
			w := "no ztunnel pod read (pods -l app=ztunnel in the mesh namespace): whether a ztunnel serves the nodes of the ambient pods is not known (with none, their connections are refused)"
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
		switch a.Redirection {
		case api.RedirectionPending:
			out = append(out, "pod "+podKey(p)+" is selected for ambient (istio.io/dataplane-mode) but has no ambient.istio.io/redirection: enabled annotation: the CNI node agent has not enrolled it (yet), or is not running on its node; its traffic does not go through ztunnel")
		case api.RedirectionStale:
			out = append(out, "pod "+podKey(p)+" carries ambient.istio.io/redirection: enabled but is no longer selected for ambient: it stays redirected until the CNI node agent removes it")
		}
	}
	if u := m.gatewaysUnread(); u != "" && concerned {
		out = append(out, "could not read "+gatewaysResource+" ("+u+"): which waypoints pods and Services use is unknown (reported as waypointUnknown)")
	}
	return out
}

// waypointRouteWarnings: the waypoints the requests go through route with
// the Service's default route here; HTTPRoutes and VirtualServices bound to
// a waypoint are not modelled.
func waypointRouteWarnings(reqs []api.Request) []string {
	var seen []string
	for _, r := range reqs {
		if r.Ambient != nil && r.Ambient.Waypoint != "" && !slices.Contains(seen, r.Ambient.Waypoint) {
			seen = append(seen, r.Ambient.Waypoint)
		}
	}
	var out []string
	for _, w := range seen {
		out = append(out, "waypoint "+w+": HTTPRoutes and VirtualServices bound to it are not modelled; the answer assumes the Service's default route")
	}
	return out
}

// ztunnelDown tells whether a redirected pod's node has no Ready ztunnel,
// judged only when ztunnel pods were read (a -f dump without them says
// nothing). The ztunnel there, if any, is returned for the reason.
func (m *model) ztunnelDown(p *corev1.Pod) (down bool, z *corev1.Pod) {
	if len(m.s.Ztunnels) == 0 || p == nil || p.Spec.NodeName == "" || !redirected(p) {
		return false, nil
	}
	z = m.ztunnelOn(p)
	if z == nil {
		return true, nil
	}
	return !runningReady(z), z
}

// runningReady: Running, and not marked unready (a dump without
// conditions counts as ready).
func runningReady(p *corev1.Pod) bool {
	if ph := p.Status.Phase; ph != "" && ph != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return true
}

// ztunnelDownReason is the reason for a pod whose node has no Ready ztunnel.
func ztunnelDownReason(p, z *corev1.Pod) api.Reason {
	r := api.Reason{Code: api.ReasonAmbientZtunnelDown, Pod: podKey(p), Detail: p.Spec.NodeName}
	if z != nil {
		r.Object = ref("Pod", z.Namespace, z.Name)
	}
	return r
}
