package inspect

import (
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// ReadOverlay reads `--with` inputs (files, directories, "-" for stdin) with
// the -f decoder: the same kinds, versions and defaults, and the same
// *Error on a path that does not exist, cannot be read or is malformed.
// Objects annotated snapshot.DeleteAnnotation: "true" become deletions.
// Kinds podreach does not model are ignored, as with -f; Ignored lists them
// ("Deployment demo/web") so the command can warn.
func ReadOverlay(paths []string, stdin io.Reader) (o *snapshot.Overlay, ignored []string, err error) {
	r := NewFileReader(paths, stdin)
	w, err := r.load()
	if err != nil {
		return nil, nil, err
	}
	o = &snapshot.Overlay{}
	s := &o.Objects
	s.Namespaces = keepOrDelete(w.snap.Namespaces, "Namespace", &o.Deletes)
	s.Pods = keepOrDelete(w.snap.Pods, "Pod", &o.Deletes)
	s.Services = keepOrDelete(w.snap.Services, "Service", &o.Deletes)
	s.EndpointSlices = keepOrDelete(w.snap.EndpointSlices, "EndpointSlice", &o.Deletes)
	s.PeerAuthentications = keepOrDelete(w.snap.PeerAuthentications, "PeerAuthentication", &o.Deletes)
	s.AuthorizationPolicies = keepOrDelete(w.snap.AuthorizationPolicies, "AuthorizationPolicy", &o.Deletes)
	s.DestinationRules = keepOrDelete(w.snap.DestinationRules, "DestinationRule", &o.Deletes)
	s.VirtualServices = keepOrDelete(w.snap.VirtualServices, "VirtualService", &o.Deletes)
	s.Sidecars = keepOrDelete(w.snap.Sidecars, "Sidecar", &o.Deletes)
	s.ServiceEntries = keepOrDelete(w.snap.ServiceEntries, "ServiceEntry", &o.Deletes)
	for _, cm := range w.configMaps {
		if deleted(&cm) {
			o.Deletes = append(o.Deletes, snapshot.ObjectKey{Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name})
			continue
		}
		o.MeshConfigMaps = append(o.MeshConfigMaps, snapshot.MeshText{Namespace: cm.Namespace, Name: cm.Name, Text: cm.Data["mesh"]})
	}
	return o, w.ignored, nil
}

func deleted(o metav1.Object) bool {
	return strings.EqualFold(o.GetAnnotations()[snapshot.DeleteAnnotation], "true")
}

// keepOrDelete splits list into the objects to put and the deletions.
func keepOrDelete[T any](list []T, kind string, deletes *[]snapshot.ObjectKey) []T {
	var out []T
	for i := range list {
		m := metaOf(&list[i])
		if deleted(m) {
			*deletes = append(*deletes, snapshot.ObjectKey{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()})
			continue
		}
		out = append(out, list[i])
	}
	return out
}

func metaOf[T any](o *T) metav1.Object {
	if m, ok := any(o).(metav1.Object); ok {
		return m
	}
	return any(*o).(metav1.Object)
}
