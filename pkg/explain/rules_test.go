package explain

import (
	"reflect"
	"testing"
	"time"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

func strp(s string) *string { return &s }

// Cases from pkg/config/kube/conversion_test.go and docs/MODEL.md#protocol-selection.
func TestConvertProtocol(t *testing.T) {
	cases := []struct {
		port        int32
		name, proto string
		app         *string
		want        api.Protocol
	}{
		{8080, "http", "TCP", nil, api.ProtocolHTTP},
		{8080, "http-web", "TCP", nil, api.ProtocolHTTP},
		{8080, "HTTP2-x", "TCP", nil, api.ProtocolHTTP2},
		{8080, "grpc-web-x", "TCP", nil, api.ProtocolGRPCWeb},
		{8080, "grpc", "TCP", nil, api.ProtocolGRPC},
		{8080, "tcp-foo", "TCP", nil, api.ProtocolTCP},
		{8080, "", "TCP", nil, api.ProtocolAuto},
		{8080, "metrics", "TCP", nil, api.ProtocolAuto},
		{3306, "", "TCP", nil, api.ProtocolTCP},
		{27017, "db", "TCP", nil, api.ProtocolTCP},
		{53, "dns", "UDP", nil, api.ProtocolUDP},
		{8080, "http-x", "TCP", strp("tcp"), api.ProtocolTCP},
		{8080, "http", "TCP", strp("custom.io/thing"), api.ProtocolAuto},
		{8080, "", "TCP", strp("kubernetes.io/h2c"), api.ProtocolHTTP2},
		{8080, "", "TCP", strp("kubernetes.io/ws"), api.ProtocolHTTP},
		{8080, "", "TCP", strp("kubernetes.io/wss"), api.ProtocolHTTPS},
		{8443, "https-x", "TCP", nil, api.ProtocolHTTPS},
	}
	for _, c := range cases {
		if got := convertProtocol(c.port, c.name, c.proto, c.app); got != c.want {
			t.Errorf("convertProtocol(%d, %q, %q, %v) = %s, want %s", c.port, c.name, c.proto, c.app, got, c.want)
		}
	}
}

func testModel(minor int) *model {
	m := newModel(&snapshot.Snapshot{Mesh: snapshot.DefaultMeshConfig()})
	m.istioMinor = minor
	return m
}

// Pinned by httproute_test.go TestGenerateVirtualHostDomains (Istio 1.31).
func TestVhostDomains(t *testing.T) {
	m := testModel(31)
	svc := &service{hostname: "web.default.svc.cluster.local", namespace: "default", name: "web", kube: &corev1.Service{}, resolution: "ClientSideLB", addresses: []string{"10.96.0.10"}}
	hl := &service{hostname: "headless.default.svc.cluster.local", namespace: "default", name: "headless", kube: &corev1.Service{}, resolution: "Passthrough"}
	cases := []struct {
		name    string
		svc     *service
		proxyNS string
		minor   int
		want    []string
	}{
		{"same namespace", svc, "default", 31, []string{"web.default.svc.cluster.local", "web.default.svc.cluster.local.", "web", "web.default.svc", "web.default", "10.96.0.10"}},
		{"other namespace", svc, "other", 31, []string{"web.default.svc.cluster.local", "web.default.svc.cluster.local.", "web.default", "web.default.svc", "10.96.0.10"}},
		{"before 1.27 no trailing dot", svc, "other", 26, []string{"web.default.svc.cluster.local", "web.default", "web.default.svc", "10.96.0.10"}},
		{"headless wildcard", hl, "default", 31, []string{
			"headless.default.svc.cluster.local", "headless.default.svc.cluster.local.", "headless", "headless.default.svc", "headless.default",
			"*.headless.default.svc.cluster.local", "*.headless.default.svc.cluster.local.", "*.headless", "*.headless.default.svc", "*.headless.default"}},
	}
	for _, c := range cases {
		m.istioMinor = c.minor
		if got := m.vhostDomains(c.svc, &sidecarScope{proxyNS: c.proxyNS}); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}

func TestMatchVirtualHost(t *testing.T) {
	vhosts := []*vhost{
		{name: "web", domains: []string{"web.default.svc.cluster.local", "web", "10.96.0.10"}},
		{name: "hl", domains: []string{"hl.default.svc.cluster.local", "*.hl.default.svc.cluster.local", "*.hl"}},
		{name: "allow_any", domains: []string{"*"}},
	}
	cases := map[string]string{
		"web":                                "web",
		"web:9999":                           "web", // port ignored
		"WEB.default.svc.cluster.local:8080": "web",
		"10.96.0.10":                         "web",
		"pod-0.hl.default.svc.cluster.local": "hl",
		"pod-0.hl":                           "hl",
		"hl":                                 "allow_any", // "*.hl" needs a label before it
		"10.0.0.1:8080":                      "allow_any",
		"web2":                               "allow_any",
	}
	for host, want := range cases {
		if got := matchVirtualHost(vhosts, host); got == nil || got.name != want {
			t.Errorf("matchVirtualHost(%q) = %v, want %s", host, got, want)
		}
	}
}

func pa(ns, name string, age int, sel map[string]string, mode securityapi.PeerAuthentication_MutualTLS_Mode, ports map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode) *securityv1.PeerAuthentication {
	p := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(1000-age), 0))}}
	p.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: mode}
	if sel != nil {
		p.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: sel}
	}
	for port, md := range ports {
		if p.Spec.PortLevelMtls == nil {
			p.Spec.PortLevelMtls = map[uint32]*securityapi.PeerAuthentication_MutualTLS{}
		}
		p.Spec.PortLevelMtls[port] = &securityapi.PeerAuthentication_MutualTLS{Mode: md}
	}
	return p
}

// ComposePeerAuthentication cases (policy_applier_test.go, docs/MODEL.md#peerauthentication).
func TestComposePeerAuthentication(t *testing.T) {
	const (
		unset  = securityapi.PeerAuthentication_MutualTLS_UNSET
		strict = securityapi.PeerAuthentication_MutualTLS_STRICT
		perm   = securityapi.PeerAuthentication_MutualTLS_PERMISSIVE
		dis    = securityapi.PeerAuthentication_MutualTLS_DISABLE
	)
	app := map[string]string{"app": "web"}
	cases := []struct {
		name string
		pas  []*securityv1.PeerAuthentication
		port int32
		want api.MTLSMode
	}{
		{"none", nil, 8080, api.MTLSPermissive},
		{"mesh strict", []*securityv1.PeerAuthentication{pa("istio-system", "default", 1, nil, strict, nil)}, 8080, api.MTLSStrict},
		{"namespace overrides mesh", []*securityv1.PeerAuthentication{pa("istio-system", "default", 1, nil, strict, nil), pa("demo", "ns", 1, nil, perm, nil)}, 8080, api.MTLSPermissive},
		{"unset namespace inherits mesh", []*securityv1.PeerAuthentication{pa("istio-system", "default", 1, nil, strict, nil), pa("demo", "ns", 1, nil, unset, nil)}, 8080, api.MTLSStrict},
		{"oldest namespace policy wins", []*securityv1.PeerAuthentication{pa("demo", "new", 1, nil, perm, nil), pa("demo", "old", 5, nil, strict, nil)}, 8080, api.MTLSStrict},
		{"workload overrides namespace", []*securityv1.PeerAuthentication{pa("demo", "ns", 1, nil, strict, nil), pa("demo", "wl", 1, app, dis, nil)}, 8080, api.MTLSDisable},
		{"workload selector not matching", []*securityv1.PeerAuthentication{pa("demo", "ns", 1, nil, strict, nil), pa("demo", "wl", 1, map[string]string{"app": "x"}, dis, nil)}, 8080, api.MTLSStrict},
		{"selector policy in root namespace ignored", []*securityv1.PeerAuthentication{pa("istio-system", "wl", 1, app, strict, nil)}, 8080, api.MTLSPermissive},
		{"port level", []*securityv1.PeerAuthentication{pa("demo", "ns", 1, nil, strict, nil), pa("demo", "wl", 1, app, unset, map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{9090: perm})}, 9090, api.MTLSPermissive},
		{"port level other port inherits", []*securityv1.PeerAuthentication{pa("demo", "ns", 1, nil, strict, nil), pa("demo", "wl", 1, app, unset, map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{9090: perm})}, 8080, api.MTLSStrict},
		{"other namespace ignored", []*securityv1.PeerAuthentication{pa("other", "ns", 1, nil, strict, nil)}, 8080, api.MTLSPermissive},
	}
	for _, c := range cases {
		m := newModel(&snapshot.Snapshot{Mesh: snapshot.DefaultMeshConfig(), PeerAuthentications: c.pas})
		got, _ := m.composePeerAuthentication("demo", app).forPort(c.port)
		if got != c.want {
			t.Errorf("%s: mode = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestOutboundCaptured(t *testing.T) {
	c := captureConfig{includeOutboundIPRanges: "*", excludeOutboundIPRanges: []string{"10.0.0.0/8"}, excludeOutboundPorts: []string{"5432"}, includeOutboundPorts: []string{"9092"}}
	cases := []struct {
		ip   string
		port int32
		want bool
	}{
		{"192.168.1.1", 80, true},
		{"10.1.2.3", 80, false},  // excluded range
		{"10.1.2.3", 9092, true}, // included port wins over excluded range
		{"192.168.1.1", 5432, false},
	}
	for _, tc := range cases {
		if got, _ := c.outboundCaptured(tc.ip, tc.port); got != tc.want {
			t.Errorf("outboundCaptured(%s, %d) = %v, want %v", tc.ip, tc.port, got, tc.want)
		}
	}
}
