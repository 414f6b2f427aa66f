package explain

import (
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"
)

// istioProxyContainer mirrors pkg/kube/inject/app_probe.go FindSidecar:
// the istio-proxy container, in containers first, then initContainers
// (native sidecars).
func istioProxyContainer(p *corev1.Pod) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == "istio-proxy" {
			return &p.Spec.Containers[i]
		}
	}
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == "istio-proxy" {
			return &p.Spec.InitContainers[i]
		}
	}
	return nil
}

// dataplaneOf tells sidecar / ambient / none. A sidecar is the istio-proxy
// container or the injector's sidecar.istio.io/status annotation; hostNetwork
// pods are never injected (pkg/kube/inject/inject.go injectRequired) nor
// enrolled. A pod is ambient when the CNI redirected it: the annotation
// ambient.istio.io/redirection=enabled is the observed state
// (cni/pkg/util/podutil.go PodFullyEnrolled); the istio.io/dataplane-mode
// label only selects it (ambient_index.go ambientSelected), and a selected
// pod without the annotation is not redirected (yet).
func (m *model) dataplaneOf(p *corev1.Pod) api.Dataplane {
	switch {
	case p.Spec.HostNetwork:
		return api.DataplaneNone
	case hasSidecar(p):
		return api.DataplaneSidecar
	case redirected(p):
		return api.DataplaneAmbient
	}
	return api.DataplaneNone
}
