package inspect

import (
	"context"
	"encoding/json"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// istioVersion lists one served version of an Istio kind, as v1 objects.
type istioVersion[T any] struct {
	version string
	list    func(ctx context.Context, ns string, opts metav1.ListOptions) ([]T, error)
}

// listIstio tries the versions newest first. A 404 means "this version is
// not served" (an older control plane) and moves on to the next; 404 for
// every version means the CRD is not installed.
func listIstio[T any](ctx context.Context, l *liveRead, group, resource, ns string, versions []istioVersion[T]) ([]T, error) {
	for _, v := range versions {
		items, err := v.list(ctx, ns, listOptions())
		l.log("LIST", apiPath(group, v.version, ns, resource, ""), "", err)
		if apierrors.IsNotFound(err) {
			continue
		}
		return items, err
	}
	return nil, errNotInstalled
}

// served is one version of a kind, read with the typed client's List and
// returned as v1 objects (converted with toV1 when the version is older).
func served[T any](version string, list listFunc) istioVersion[*T] {
	return istioVersion[*T]{version, func(ctx context.Context, ns string, opts metav1.ListOptions) ([]*T, error) {
		x, err := list(ctx, ns, opts)
		if err != nil {
			return nil, err
		}
		objs, err := meta.ExtractList(x)
		if err != nil {
			return nil, err
		}
		out := make([]*T, 0, len(objs))
		for _, o := range objs {
			if m, ok := o.(metav1.Object); ok {
				m.SetManagedFields(nil) // as in keep
			}
			if v1, ok := any(o).(*T); ok {
				out = append(out, v1)
				continue
			}
			conv, err := toV1[T]([]runtime.Object{o})
			if err != nil {
				return nil, err
			}
			out = append(out, conv...)
		}
		return out, nil
	}}
}

// toV1 converts objects of an older Istio API version to the v1 type. The
// versions share their spec and status messages, so the JSON form is the
// same; going through it is also exactly what the file reader does.
func toV1[T any, O any](items []O) ([]*T, error) {
	out := make([]*T, 0, len(items))
	for _, in := range items {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		o := new(T)
		if err := json.Unmarshal(data, o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

const (
	networkingGroup = "networking.istio.io"
	securityGroup   = "security.istio.io"
)

// listFunc is one typed client's List, its result as a runtime.Object.
type listFunc = func(ctx context.Context, ns string, opts metav1.ListOptions) (runtime.Object, error)

// asObject passes a typed List result on as a runtime.Object, nil on error
// (a nil *List in a runtime.Object would not compare equal to nil).
func asObject[L runtime.Object](x L, err error) (runtime.Object, error) {
	if err != nil {
		return nil, err
	}
	return x, nil
}

func (l *liveRead) listDestinationRules(ctx context.Context, ns string) error {
	c := l.r.istio
	items, err := listIstio(ctx, l, networkingGroup, "destinationrules", ns, []istioVersion[*networkingv1.DestinationRule]{
		served[networkingv1.DestinationRule]("v1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1().DestinationRules(ns).List(ctx, o))
		}),
		served[networkingv1.DestinationRule]("v1beta1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1beta1().DestinationRules(ns).List(ctx, o))
		}),
		served[networkingv1.DestinationRule]("v1alpha3", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1alpha3().DestinationRules(ns).List(ctx, o))
		}),
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap.DestinationRules = append(l.snap.DestinationRules, items...)
	return err
}

func (l *liveRead) listVirtualServices(ctx context.Context, ns string) error {
	c := l.r.istio
	items, err := listIstio(ctx, l, networkingGroup, "virtualservices", ns, []istioVersion[*networkingv1.VirtualService]{
		served[networkingv1.VirtualService]("v1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1().VirtualServices(ns).List(ctx, o))
		}),
		served[networkingv1.VirtualService]("v1beta1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1beta1().VirtualServices(ns).List(ctx, o))
		}),
		served[networkingv1.VirtualService]("v1alpha3", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1alpha3().VirtualServices(ns).List(ctx, o))
		}),
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap.VirtualServices = append(l.snap.VirtualServices, items...)
	return err
}

func (l *liveRead) listServiceEntries(ctx context.Context, ns string) error {
	c := l.r.istio
	items, err := listIstio(ctx, l, networkingGroup, "serviceentries", ns, []istioVersion[*networkingv1.ServiceEntry]{
		served[networkingv1.ServiceEntry]("v1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1().ServiceEntries(ns).List(ctx, o))
		}),
		served[networkingv1.ServiceEntry]("v1beta1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1beta1().ServiceEntries(ns).List(ctx, o))
		}),
		served[networkingv1.ServiceEntry]("v1alpha3", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1alpha3().ServiceEntries(ns).List(ctx, o))
		}),
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap.ServiceEntries = append(l.snap.ServiceEntries, items...)
	return err
}

func (l *liveRead) listSidecars(ctx context.Context, ns string) error {
	c := l.r.istio
	items, err := listIstio(ctx, l, networkingGroup, "sidecars", ns, []istioVersion[*networkingv1.Sidecar]{
		served[networkingv1.Sidecar]("v1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1().Sidecars(ns).List(ctx, o))
		}),
		served[networkingv1.Sidecar]("v1beta1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1beta1().Sidecars(ns).List(ctx, o))
		}),
		served[networkingv1.Sidecar]("v1alpha3", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.NetworkingV1alpha3().Sidecars(ns).List(ctx, o))
		}),
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap.Sidecars = append(l.snap.Sidecars, items...)
	return err
}

func (l *liveRead) listAuthorizationPolicies(ctx context.Context, ns string) error {
	c := l.r.istio
	items, err := listIstio(ctx, l, securityGroup, "authorizationpolicies", ns, []istioVersion[*securityv1.AuthorizationPolicy]{
		served[securityv1.AuthorizationPolicy]("v1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.SecurityV1().AuthorizationPolicies(ns).List(ctx, o))
		}),
		served[securityv1.AuthorizationPolicy]("v1beta1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.SecurityV1beta1().AuthorizationPolicies(ns).List(ctx, o))
		}),
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap.AuthorizationPolicies = append(l.snap.AuthorizationPolicies, items...)
	return err
}

func (l *liveRead) listPeerAuthentications(ctx context.Context, ns string) error {
	c := l.r.istio
	items, err := listIstio(ctx, l, securityGroup, "peerauthentications", ns, []istioVersion[*securityv1.PeerAuthentication]{
		served[securityv1.PeerAuthentication]("v1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.SecurityV1().PeerAuthentications(ns).List(ctx, o))
		}),
		served[securityv1.PeerAuthentication]("v1beta1", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return asObject(c.SecurityV1beta1().PeerAuthentications(ns).List(ctx, o))
		}),
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap.PeerAuthentications = append(l.snap.PeerAuthentications, items...)
	return err
}
