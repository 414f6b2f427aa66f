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
// pods are never injected (pkg/kube/inject/inject.go injectRequired). Ambient
// enrolment follows cni/pkg/util/podutil.go PodRedirectionEnabled: the pod or
// namespace label istio.io/dataplane-mode=ambient, unless the pod opts out.
func (m *model) dataplaneOf(p *corev1.Pod) api.Dataplane {
	if p.Spec.HostNetwork {
		return api.DataplaneNone
	}
	if istioProxyContainer(p) != nil {
		return api.DataplaneSidecar
	}
	if _, ok := p.Annotations["sidecar.istio.io/status"]; ok {
		return api.DataplaneSidecar
	}
	if p.Labels["istio.io/dataplane-mode"] == "none" {
		return api.DataplaneNone
	}
	if p.Labels["istio.io/dataplane-mode"] == "ambient" || p.Annotations["ambient.istio.io/redirection"] == "enabled" {
		return api.DataplaneAmbient
	}
	if ns := m.namespaces[p.Namespace]; ns != nil && ns.Labels["istio.io/dataplane-mode"] == "ambient" {
		return api.DataplaneAmbient
	}
	return api.DataplaneNone
}
