package inspect

import (
	"context"
	"encoding/json"
	"errors"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// What ambient mode adds to the read: the Gateways (waypoints are Gateways
// of class istio-waypoint; an optional kind, listed like the Istio kinds:
// cluster-wide, per namespace when that is forbidden, nothing when the CRD
// is absent) and the ztunnel pods of the mesh namespace (app=ztunnel, the
// istio/ztunnel chart's label), read when SRC or DST is selected for
// ambient, like the istiod pods (controlplane.go).

const gatewayGroup = "gateway.networking.k8s.io"

// GatewaysResource names the Gateways in Unread and warnings.
const GatewaysResource = "gateways." + gatewayGroup

var gatewaysResource = schema.GroupVersionResource{Group: gatewayGroup, Version: "v1", Resource: "gateways"}

// ztunnelSelector picks the ztunnel pods.
const ztunnelSelector = "app=ztunnel"

// ztunnelResource names the ztunnel pod read in Unread and warnings.
const ztunnelResource = "pods -l " + ztunnelSelector

// listGateways lists the Gateways (v1) with the dynamic client and decodes
// them from JSON, as the file reader does.
func (l *liveRead) listGateways(ctx context.Context, ns string) error {
	client := l.r.opts.Dynamic
	if client == nil {
		return nil // no client for optional kinds: none can be read
	}
	items, err := listOptional[snapshot.Gateway](ctx, l, client, gatewaysResource, ns)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range items {
		l.snap.Gateways = append(l.snap.Gateways, *g)
	}
	if errors.Is(err, errNotInstalled) {
		return nil // no CRD: there are no waypoints, nothing to warn about
	}
	return err
}

// listOptional lists one version of an optional kind with the dynamic
// client; a 404 (no CRD) is errNotInstalled, through listIstio.
func listOptional[T any](ctx context.Context, l *liveRead, client dynamic.Interface, gvr schema.GroupVersionResource, ns string) ([]*T, error) {
	return listIstio(ctx, l, gvr.Group, gvr.Resource, ns, []istioVersion[*T]{{
		version: gvr.Version,
		list: func(ctx context.Context, ns string, opts metav1.ListOptions) ([]*T, error) {
			return listDecoded[T](ctx, client, gvr, ns, opts)
		},
	}})
}

// listDecoded lists gvr and decodes each item from its JSON form.
func listDecoded[T any](ctx context.Context, client dynamic.Interface, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) ([]*T, error) {
	list, err := client.Resource(gvr).Namespace(ns).List(ctx, opts)
	if err != nil {
		return nil, err
	}
	objs := make([]map[string]any, len(list.Items))
	for i := range list.Items {
		objs[i] = list.Items[i].Object
	}
	return toV1[T](objs)
}

// decodeGateway decodes a Gateway document of -f.
func decodeGateway(raw []byte, list *[]snapshot.Gateway) error {
	var g snapshot.Gateway
	if err := json.Unmarshal(raw, &g); err != nil {
		return err
	}
	defaultNamespace(&g)
	*list = append(*list, g)
	return nil
}

// ambientSelected tells whether any of the pods read is selected for
// ambient or redirected by it: istio.io/dataplane-mode=ambient on the pod or
// its namespace, or the CNI's ambient.istio.io/redirection annotation.
func ambientSelected(nss []corev1.Namespace, pods []corev1.Pod, more ...*corev1.Pod) bool {
	for i := range pods {
		more = append(more, &pods[i])
	}
	for _, p := range more {
		if p == nil {
			continue
		}
		if p.Labels["istio.io/dataplane-mode"] == "ambient" || p.Annotations["ambient.istio.io/redirection"] == "enabled" {
			return true
		}
		if p.Labels["istio.io/dataplane-mode"] == "none" {
			continue
		}
		for i := range nss {
			if nss[i].Name == p.Namespace && nss[i].Labels["istio.io/dataplane-mode"] == "ambient" {
				return true
			}
		}
	}
	return false
}

// isZtunnel tells a ztunnel pod (app=ztunnel).
func isZtunnel(p *corev1.Pod) bool { return p.Labels["app"] == "ztunnel" }

// ztunnelPods keeps the ztunnel pods of the namespace.
func ztunnelPods(pods []corev1.Pod, ns string) []corev1.Pod {
	var out []corev1.Pod
	for i := range pods {
		if isZtunnel(&pods[i]) && pods[i].Namespace == ns {
			out = append(out, pods[i])
		}
	}
	return out
}

// readZtunnels reads the ztunnel pods of the mesh namespace when a pod read
// is selected for ambient: from the pods read already, else with a
// label-selected list (`get/list pods` is all it needs).
func (l *liveRead) readZtunnels(ctx context.Context) error {
	ns := l.r.opts.MeshNamespace
	extra := make([]*corev1.Pod, 0, len(l.extraPods)+2)
	for i := range l.extraPods {
		extra = append(extra, &l.extraPods[i])
	}
	if !ambientSelected(l.snap.Namespaces, l.snap.Pods, append(extra, l.src, l.dst)...) {
		return nil
	}
	if l.allPods || l.podsListed[ns] {
		l.snap.Ztunnels = ztunnelPods(l.snap.Pods, ns)
		return nil
	}
	list, err := l.r.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: ztunnelSelector})
	l.log("LIST", apiPath("", "v1", ns, "pods", ""), "labelSelector="+ztunnelSelector, err)
	if err != nil {
		return l.degrade(ztunnelResource, ns, err)
	}
	l.snap.Ztunnels = ztunnelPods(list.Items, ns) // fake clientsets ignore label selectors
	return nil
}
