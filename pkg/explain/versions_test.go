package explain

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestVersionRules: each rule starts at its minor, the control plane's flag
// overrides the default while the flag exists, and the skew policy.
func TestVersionRules(t *testing.T) {
	tests := []struct {
		name  string
		id    ruleID
		minor int
		flags map[string]string // nil: no istiod read
		want  bool
	}{
		{"fqdn vhost before 1.27", ruleAbsoluteFQDNVhost, 26, nil, false},
		{"fqdn vhost at 1.27", ruleAbsoluteFQDNVhost, 27, nil, true},
		{"fqdn vhost turned off", ruleAbsoluteFQDNVhost, 31, map[string]string{"PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN": "false"}, false},
		{"fqdn vhost, a flag that is no bool", ruleAbsoluteFQDNVhost, 31, map[string]string{"PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN": "maybe"}, true},
		{"auto-allocation controller at 1.24", ruleSEAutoAllocateController, 24, nil, false},
		{"auto-allocation controller at 1.25", ruleSEAutoAllocateController, 25, nil, true},
		{"auto-allocation controller turned on at 1.24", ruleSEAutoAllocateController, 24, map[string]string{"PILOT_ENABLE_IP_AUTOALLOCATE": "true"}, true},
		{"auto-allocation controller turned off", ruleSEAutoAllocateController, 31, map[string]string{"PILOT_ENABLE_IP_AUTOALLOCATE": "false"}, false},
		{"ExternalName alias turned off at 1.23", ruleExternalNameAlias, 23, map[string]string{"ENABLE_EXTERNAL_NAME_ALIAS": "false"}, false},
		{"ExternalName alias flag gone at 1.24", ruleExternalNameAlias, 24, map[string]string{"ENABLE_EXTERNAL_NAME_ALIAS": "false"}, true},
		{"ExternalName alias before 1.21", ruleExternalNameAlias, 20, nil, false},
		{"egress exclusion at 1.30", ruleSidecarEgressExclude, 30, nil, false},
		{"egress exclusion at 1.31", ruleSidecarEgressExclude, 31, nil, true},
		{"ALLOW_ANY_DYNAMIC_DNS at 1.30", ruleAllowAnyDynamicDNS, 30, nil, false},
		{"ALLOW_ANY_DYNAMIC_DNS at 1.31", ruleAllowAnyDynamicDNS, 31, nil, true},
		{"source.trustDomains at 1.27", ruleSourceTrustDomains, 27, map[string]string{}, false},
		{"source.trustDomains at 1.31", ruleSourceTrustDomains, 31, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &model{istioMinor: tt.minor}
			if tt.flags != nil {
				m.cp = &controlPlane{minor: tt.minor, flags: tt.flags}
			}
			if got := m.istiodRule(tt.id); got != tt.want {
				t.Errorf("istiodRule = %v, want %v", got, tt.want)
			}
		})
	}
	skew := []struct {
		istiod, proxy int
		want          bool
	}{{31, 31, true}, {31, 30, true}, {31, 29, false}, {30, 31, false}}
	for _, s := range skew {
		if got := skewSupported(s.istiod, s.proxy); got != s.want {
			t.Errorf("skewSupported(1.%d, 1.%d) = %v, want %v", s.istiod, s.proxy, got, s.want)
		}
	}
}

// TestEgressImports: Sidecar egress hosts with and without the 1.31
// exclusion prefix.
func TestEgressImports(t *testing.T) {
	tests := []struct {
		hosts    []string
		excludes bool // istiod ≥ 1.31
		ns, host string
		want     bool
	}{
		{[]string{"~/*", "pub/open.pub.svc.cluster.local"}, true, "pub", "open.pub.svc.cluster.local", false},
		{[]string{"~/*", "pub/open.pub.svc.cluster.local"}, false, "pub", "open.pub.svc.cluster.local", true},
		{[]string{"~/*", "pub/open.pub.svc.cluster.local"}, false, "pub", "other.pub.svc.cluster.local", false},
		{[]string{"*/*", "~ns1/*"}, true, "ns1", "a.ns1.svc.cluster.local", false},
		{[]string{"*/*", "~ns1/*"}, true, "ns2", "a.ns2.svc.cluster.local", true},
		{[]string{"*/*", "~ns1/*"}, false, "ns1", "a.ns1.svc.cluster.local", true},
		{[]string{"./*", "~/a.app.svc.cluster.local"}, true, "app", "a.app.svc.cluster.local", false},
		{[]string{"./*", "~/a.app.svc.cluster.local"}, true, "app", "b.app.svc.cluster.local", true},
		{[]string{"~/*"}, false, "app", "a.app.svc.cluster.local", false},
	}
	for _, tt := range tests {
		sc := &sidecarScope{egressHosts: tt.hosts, excludes: tt.excludes, proxyNS: "app"}
		if got := sc.egressImports(tt.ns, tt.host, "app"); got != tt.want {
			t.Errorf("hosts %q (excludes %v): imports %s/%s = %v, want %v", tt.hosts, tt.excludes, tt.ns, tt.host, got, tt.want)
		}
	}
}

// TestPodIstiodRule: a pod's own proxy configuration (its inbound chain and
// authorization filters) follows its revision's istiod, not SRC's.
func TestPodIstiodRule(t *testing.T) {
	pod := func(rev string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p-" + rev, Namespace: "app",
				Annotations: map[string]string{"sidecar.istio.io/status": `{"revision":"` + rev + `"}`}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.30.0"}}},
		}
	}
	m := &model{istioMinor: 31, namespaces: map[string]*corev1.Namespace{}, controlPlanes: []*controlPlane{
		{pod: &corev1.Pod{}, revision: "default", minor: 30, flags: map[string]string{}},
		{pod: &corev1.Pod{}, revision: "canary", minor: 31, flags: map[string]string{}},
	}}
	for _, tt := range []struct {
		pod  *corev1.Pod
		want bool
	}{
		{pod("default"), false}, // istiod 1.30 built its filters
		{pod("canary"), true},
		{pod("stable"), true}, // no istiod of that revision read: the assumed 1.31
		{nil, true},
	} {
		if got := m.podIstiodRule(ruleSourceTrustDomains, tt.pod); got != tt.want {
			t.Errorf("podIstiodRule(source.trustDomains, %s) = %v, want %v", podKey(tt.pod), got, tt.want)
		}
	}
}
