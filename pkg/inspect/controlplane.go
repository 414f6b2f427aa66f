package inspect

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// istiodSelector picks the istiod pods: the istio-discovery chart labels
// them app=istiod whatever their revision (istio.io/rev says which).
const istiodSelector = "app=istiod"

// controlPlaneResource names the istiod pod read in Unread and warnings.
const controlPlaneResource = "pods -l " + istiodSelector

// controlPlaneNamespaces lists where istiod pods are read: the mesh
// namespace and the namespace of the istiod Service each given proxy
// connects to. The injector writes that address into the istio-proxy
// container's PROXY_CONFIG environment (discoveryAddress
// "istiod-canary.istio-system.svc:15012"); a control plane installed
// elsewhere is found through it. Sorted, valid names only.
func controlPlaneNamespaces(meshNS string, pods ...*corev1.Pod) []string {
	set := map[string]bool{meshNS: true}
	for _, p := range pods {
		if ns := discoveryNamespace(p); ns != "" {
			set[ns] = true
		}
	}
	var out []string
	for ns := range set {
		if ns != "" && len(validation.IsDNS1123Label(ns)) == 0 {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// discoveryNamespace is the namespace of the proxy's discoveryAddress
// (SERVICE.NAMESPACE.svc:PORT), "" when the pod does not say.
func discoveryNamespace(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	for _, cs := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name != "istio-proxy" {
				continue
			}
			for _, e := range c.Env {
				if e.Name != "PROXY_CONFIG" {
					continue
				}
				var pc struct {
					DiscoveryAddress string `json:"discoveryAddress"`
				}
				if json.Unmarshal([]byte(e.Value), &pc) != nil {
					return ""
				}
				host, _, err := net.SplitHostPort(pc.DiscoveryAddress)
				if err != nil {
					host = pc.DiscoveryAddress
				}
				labels := strings.Split(host, ".")
				if len(labels) >= 2 {
					return labels[1]
				}
			}
		}
	}
	return ""
}

// isIstiod tells an istiod pod (app=istiod).
func isIstiod(p *corev1.Pod) bool { return p.Labels["app"] == "istiod" }

// controlPlanePods keeps the istiod pods of the given namespaces.
func controlPlanePods(pods []corev1.Pod, nss []string) []corev1.Pod {
	var out []corev1.Pod
	for i := range pods {
		if isIstiod(&pods[i]) && slices.Contains(nss, pods[i].Namespace) {
			out = append(out, pods[i])
		}
	}
	return out
}

// listControlPlane lists the istiod pods of one namespace (a label-selected
// list: `get/list pods` is all it needs).
func (l *liveRead) listControlPlane(ctx context.Context, ns string) error {
	list, err := l.r.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: istiodSelector})
	l.log("LIST", apiPath("", "v1", ns, "pods", ""), "labelSelector="+istiodSelector, err)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range list.Items {
		if isIstiod(&p) { // fake clientsets ignore label selectors
			l.snap.ControlPlane = append(l.snap.ControlPlane, p)
		}
	}
	return nil
}
