package inspect

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// proxyPod is an injected pod whose PROXY_CONFIG names a discovery address.
func proxyPod(proxyConfig string) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app"},
		{Name: "istio-proxy", Env: []corev1.EnvVar{{Name: "PROXY_CONFIG", Value: proxyConfig}}},
	}}}
}

// TestControlPlaneNamespaces: istiod pods are read in the mesh namespace
// and wherever a proxy's discoveryAddress points.
func TestControlPlaneNamespaces(t *testing.T) {
	tests := []struct {
		name string
		pods []*corev1.Pod
		want []string
	}{
		{"no proxy", nil, []string{"istio-system"}},
		{"default address", []*corev1.Pod{proxyPod(`{"discoveryAddress":"istiod.istio-system.svc:15012"}`)}, []string{"istio-system"}},
		{"a revision elsewhere", []*corev1.Pod{proxyPod(`{"discoveryAddress":"istiod-canary.istio-canary.svc:15012"}`), nil},
			[]string{"istio-canary", "istio-system"}},
		{"no port", []*corev1.Pod{proxyPod(`{"discoveryAddress":"istiod.mesh.svc"}`)}, []string{"istio-system", "mesh"}},
		{"bad JSON, bad namespace", []*corev1.Pod{proxyPod(`{`), proxyPod(`{"discoveryAddress":"istiod.Not_A_Namespace.svc:15012"}`)}, []string{"istio-system"}},
		{"no PROXY_CONFIG", []*corev1.Pod{{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy"}}}}}, []string{"istio-system"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := controlPlaneNamespaces("istio-system", tt.pods...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istiod-1", Labels: map[string]string{"app": "istiod"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "gateway", Labels: map[string]string{"app": "istio-ingressgateway"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "istiod-2", Labels: map[string]string{"app": "istiod"}}},
	}
	if got := controlPlanePods(pods, []string{"istio-system"}); len(got) != 1 || got[0].Name != "istiod-1" {
		t.Errorf("controlPlanePods = %v", got)
	}
}
