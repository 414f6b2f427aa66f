package explain

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// waypointWorld: namespace shop (use-waypoint: ns-wp), waypoints of each
// traffic type in shop and one in infra that only admits its own namespace.
func waypointWorld(nsLabels map[string]string, gwUnread bool) *model {
	gw := func(ns, name, forLabel, from string) snapshot.Gateway {
		g := snapshot.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{}},
			Spec:   snapshot.GatewaySpec{GatewayClassName: "istio-waypoint", Listeners: []snapshot.GatewayListener{{Name: "mesh", Port: hbonePort, Protocol: "HBONE"}}},
			Status: snapshot.GatewayStatus{Addresses: []snapshot.GatewayStatusAddress{{Type: "Hostname", Value: name + "." + ns + ".svc.cluster.local"}}}}
		if forLabel != "" {
			g.Labels[labelWaypointFor] = forLabel
		}
		if from != "" {
			g.Spec.Listeners[0].AllowedRoutes = &snapshot.GatewayAllowedRoutes{Namespaces: &snapshot.GatewayRouteNamespaces{From: from}}
		}
		return g
	}
	notReady := gw("shop", "not-ready", "all", "")
	notReady.Status.Addresses = nil
	s := &snapshot.Snapshot{
		Namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: nsLabels}}, {ObjectMeta: metav1.ObjectMeta{Name: "infra"}}},
		Gateways: []snapshot.Gateway{gw("shop", "ns-wp", "", ""), gw("shop", "svc-wp", "service", ""), gw("shop", "wl-wp", "workload", ""),
			gw("shop", "all-wp", "all", ""), gw("infra", "shared", "all", "All"), gw("infra", "private", "all", ""), notReady},
	}
	if gwUnread {
		s.Unread = []snapshot.Unread{{Resource: gatewaysResource, Reason: "forbidden", Cause: snapshot.UnreadForbidden}}
	}
	return newModel(s)
}

// TestWaypointBinding mirrors waypoints.go fetchWaypointForTarget and its
// service/workload traffic-type checks, case by case.
func TestWaypointBinding(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nsLabels map[string]string
		labels   map[string]string
		kind     string // service | workload
		want     string // NS/NAME, "" none, "?" unknown
		unread   bool
	}{
		{"nothing", nil, nil, "service", "", false},
		{"namespace label, default service type", map[string]string{labelUseWaypoint: "ns-wp"}, nil, "service", "shop/ns-wp", false},
		{"namespace label does not bind workloads to a service waypoint", map[string]string{labelUseWaypoint: "ns-wp"}, nil, "workload", "", false},
		{"object label wins over namespace", map[string]string{labelUseWaypoint: "ns-wp"}, map[string]string{labelUseWaypoint: "all-wp"}, "service", "shop/all-wp", false},
		{"none opts out of the namespace's", map[string]string{labelUseWaypoint: "ns-wp"}, map[string]string{labelUseWaypoint: "none"}, "service", "", false},
		{"workload waypoint for a pod", nil, map[string]string{labelUseWaypoint: "wl-wp"}, "workload", "shop/wl-wp", false},
		{"workload waypoint refuses service traffic", nil, map[string]string{labelUseWaypoint: "wl-wp"}, "service", "", false},
		{"service waypoint refuses workload traffic", nil, map[string]string{labelUseWaypoint: "svc-wp"}, "workload", "", false},
		{"all serves both", nil, map[string]string{labelUseWaypoint: "all-wp"}, "workload", "shop/all-wp", false},
		{"use-waypoint-namespace, From All", nil, map[string]string{labelUseWaypoint: "shared", labelUseWaypointNS: "infra"}, "service", "infra/shared", false},
		{"use-waypoint-namespace, From Same denies", nil, map[string]string{labelUseWaypoint: "private", labelUseWaypointNS: "infra"}, "service", "", false},
		{"no status address: not ready", nil, map[string]string{labelUseWaypoint: "not-ready"}, "service", "", false},
		{"missing waypoint", nil, map[string]string{labelUseWaypoint: "nope"}, "service", "", false},
		{"gateways forbidden", map[string]string{labelUseWaypoint: "ns-wp"}, nil, "service", "?", true},
		{"gateways forbidden, opted out", nil, map[string]string{labelUseWaypoint: "none"}, "service", "", true},
		{"gateways forbidden, no use-waypoint anywhere", nil, nil, "service", "", true},
		{"gateways forbidden, object label", nil, map[string]string{labelUseWaypoint: "all-wp"}, "workload", "?", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := waypointWorld(tc.nsLabels, tc.unread)
			wt := m.waypointFor(metav1.ObjectMeta{Namespace: "shop", Name: "x", Labels: tc.labels}, tc.kind)
			got := ""
			switch {
			case wt.unknown:
				got = "?"
			case wt.wp != nil:
				got = wt.wp.key()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAmbientEnrolment: the label selects, the CNI's annotation is what
// happened; sidecars and hostNetwork never; tunnel protocol per
// setTunnelProtocol.
func TestAmbientEnrolment(t *testing.T) {
	pod := func(labels, ann map[string]string, sidecar, host bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p", Labels: labels, Annotations: ann}}
		p.Spec.HostNetwork = host
		if sidecar {
			p.Spec.Containers = []corev1.Container{{Name: "istio-proxy"}}
		}
		return p
	}
	red := map[string]string{annotationRedirection: "enabled"}
	amb := map[string]string{labelDataplaneMode: "ambient"}
	for _, tc := range []struct {
		name     string
		nsAmb    bool
		p        *corev1.Pod
		dp       api.Dataplane
		redir    api.Redirection // "" = no ambient block
		tunnel   api.TunnelProtocol
		selected bool
	}{
		{"namespace label and annotation", true, pod(nil, red, false, false), api.DataplaneAmbient, api.RedirectionEnabled, api.TunnelHBONE, true},
		{"namespace label, no annotation", true, pod(nil, nil, false, false), api.DataplaneNone, api.RedirectionPending, api.TunnelNone, true},
		{"pod label opts out", true, pod(map[string]string{labelDataplaneMode: "none"}, nil, false, false), api.DataplaneNone, "", "", false},
		{"pod label, annotation", false, pod(amb, red, false, false), api.DataplaneAmbient, api.RedirectionEnabled, api.TunnelHBONE, true},
		{"annotation only: stale", false, pod(nil, red, false, false), api.DataplaneAmbient, api.RedirectionStale, api.TunnelHBONE, false},
		{"sidecar wins", true, pod(amb, nil, true, false), api.DataplaneSidecar, "", "", false},
		{"hostNetwork never", true, pod(amb, red, false, true), api.DataplaneNone, "", "", false},
		{"sidecar with tunnel label", false, pod(map[string]string{labelTunnel: "http"}, nil, true, false), api.DataplaneSidecar, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
			if tc.nsAmb {
				ns.Labels = amb
			}
			m := newModel(&snapshot.Snapshot{Namespaces: []corev1.Namespace{ns}})
			if got := m.dataplaneOf(tc.p); got != tc.dp {
				t.Errorf("dataplane %s, want %s", got, tc.dp)
			}
			a := m.ambientOf(tc.p)
			switch {
			case tc.redir == "" && a != nil:
				t.Errorf("ambient %+v, want none", *a)
			case tc.redir != "" && a == nil:
				t.Errorf("no ambient block, want %s", tc.redir)
			case a != nil && (a.Redirection != tc.redir || a.TunnelProtocol != tc.tunnel || a.Selected != tc.selected):
				t.Errorf("ambient %+v, want redirection %s tunnel %s selected %t", *a, tc.redir, tc.tunnel, tc.selected)
			}
		})
	}
	if tunnelProtocol(pod(map[string]string{labelTunnel: "http"}, nil, true, false)) != api.TunnelHBONE {
		t.Error("a sidecar with networking.istio.io/tunnel=http accepts HBONE")
	}
}

// TestAmbientEnrolFixModelsTheCNI: enrolling a caller needs the CNI node
// agent; the proof traces the caller redirected, and the fix says what it
// requires.
func TestAmbientEnrolFixModelsTheCNI(t *testing.T) {
	wq := loadQuery(t, "../../examples/ambient-strict-prometheus.yaml", "monitoring/prometheus-k8s-0 payments/api-7d9f8c6b5-q2w3e --port 9090")
	rep, err := Explain(wq.snap, wq.q)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rep.Requests {
		for _, fx := range r.Fixes {
			if fx.Patch == nil || fx.Patch.Kind != "Namespace" {
				continue
			}
			found = true
			if !fx.Verified || !slices.Equal(fx.Requires, []api.FixRequirement{api.RequiresCNI}) {
				t.Errorf("%s: verified %t requires %v, want verified [cni]", fx.Message, fx.Verified, fx.Requires)
			}
		}
	}
	if !found {
		t.Fatal("no ambient enrolment fix")
	}
}

// TestAmbientPaths pins the path and TLS of each example's requests by
// address form: what ztunnel's build_request and the interop rules decide.
func TestAmbientPaths(t *testing.T) {
	for _, tc := range []struct {
		world, line, address string
		path                 api.AmbientPath
		tls                  api.TLS
		waypoint, bypassed   string
	}{
		{"ambient-podip.yaml", "data/client-7c9d8b6f5-abcde data/db-0", "10.244.2.30", api.AmbientPathHBONE, api.TLSMutual, "", ""},
		{"ambient-podip.yaml", "data/client-7c9d8b6f5-abcde data/db-0", "db-0.db.data.svc.cluster.local", api.AmbientPathHBONE, api.TLSMutual, "", ""},
		{"ambient-waypoint-bypass.yaml", "shop/frontend-6f7d9c8b5-x2k9p shop/reviews-5b8c7d9f6-m3n4q", "reviews", api.AmbientPathWaypoint, api.TLSMutual, "shop/waypoint", ""},
		{"ambient-waypoint-bypass.yaml", "shop/frontend-6f7d9c8b5-x2k9p shop/reviews-5b8c7d9f6-m3n4q", "10.244.2.22", api.AmbientPathHBONE, api.TLSMutual, "", "shop/waypoint"},
		{"ambient-sidecar-interop.yaml", "legacy/orders-6c8d7f9b5-t5y6u apps/catalog-5f7c9d8b6-p8o9i", "catalog.apps", api.AmbientPathHBONE, api.TLSMutual, "", ""},
		{"ambient-sidecar-interop.yaml", "legacy/orders-6c8d7f9b5-t5y6u apps/catalog-5f7c9d8b6-p8o9i", "10.244.2.51", api.AmbientPathInboundOnly, api.TLSPlaintext, "", ""},
		{"ambient-sidecar-interop.yaml", "apps/catalog-5f7c9d8b6-p8o9i legacy/orders-6c8d7f9b5-t5y6u", "orders.legacy", api.AmbientPathTCP, api.TLSPlaintext, "", ""},
		{"ambient-strict-prometheus.yaml", "monitoring/prometheus-k8s-0 payments/api-7d9f8c6b5-q2w3e --port 9090", "10.244.2.41", api.AmbientPathInboundOnly, api.TLSPlaintext, "", ""},
		{"ambient-not-enrolled.yaml", "web/shop-ui-7b6c5d4e3-a1s2d web/cart-6d5c4b3a2-z9x8c", "cart", api.AmbientPathInboundOnly, api.TLSPlaintext, "", ""},
	} {
		t.Run(tc.world+" "+tc.address, func(t *testing.T) {
			wq := loadQuery(t, "../../examples/"+tc.world, tc.line)
			rep, err := Explain(wq.snap, wq.q)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(rep.Requests, func(r api.Request) bool { return r.Address == tc.address })
			if i < 0 {
				t.Fatalf("no request to %s", tc.address)
			}
			r := rep.Requests[i]
			if r.Ambient == nil {
				t.Fatal("no ambient block")
			}
			if r.Ambient.Path != tc.path || r.TLS != tc.tls || r.Ambient.Waypoint != tc.waypoint || r.Ambient.BypassedWaypoint != tc.bypassed {
				t.Errorf("path %s tls %s waypoint %q bypassed %q, want %s %s %q %q", r.Ambient.Path, r.TLS, r.Ambient.Waypoint, r.Ambient.BypassedWaypoint, tc.path, tc.tls, tc.waypoint, tc.bypassed)
			}
		})
	}
}
