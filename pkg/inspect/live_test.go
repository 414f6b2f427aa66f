package inspect

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

var worldMatrix = Request{
	Source:      podref.Ref{Kind: podref.KindPod, Namespace: "demo", Name: "src"},
	Destination: &podref.Ref{Kind: podref.KindPod, Namespace: "demo", Name: "web-0"},
}

func worldFakes(t *testing.T) (*kubefake.Clientset, *istiofake.Clientset) {
	t.Helper()
	return fakesFor(loadWorld(t, worldFile))
}

func forbidden(group, resource, verb, scope string) error {
	return apierrors.NewForbidden(schema.GroupResource{Group: group, Resource: resource}, "",
		errors.New(`User "jane" cannot `+verb+` resource "`+resource+`" in API group "`+group+`" `+scope))
}

func notFound(resource string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, "")
}

// fail makes every verb on resource (whose action matches when) return err.
func fail(f *k8stesting.Fake, verb, resource string, err error, when func(k8stesting.Action) bool) {
	f.PrependReactor(verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		if when == nil || when(a) {
			return true, nil, err
		}
		return false, nil, nil
	})
}

func clusterWide(a k8stesting.Action) bool { return a.GetNamespace() == "" }

func version(v string) func(k8stesting.Action) bool {
	return func(a k8stesting.Action) bool { return a.GetResource().Version == v }
}

func mustReadLive(t *testing.T, kube KubeClient, istio IstioClient, req Request) *Result {
	t.Helper()
	res, err := readLive(t, kube, istio, req)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return res
}

func TestLiveRequests(t *testing.T) {
	// SRC and DST are picked from the (consistent) list of their namespace:
	// no GET per pod; the root namespace's pods and endpoints are not read.
	// The istiod pods are listed by label in the mesh namespace.
	common := []string{
		"GET /api/v1/namespaces/istio-system/configmaps/istio 200",
		"LIST /api/v1/namespaces/istio-system/pods?labelSelector=app=istiod 200",
		"LIST /api/v1/namespaces/demo/pods 200",
		"LIST /api/v1/namespaces 200",
		"LIST /api/v1/services 200",
		"LIST /apis/discovery.k8s.io/v1/namespaces/demo/endpointslices 200",
		"LIST /apis/networking.istio.io/v1/destinationrules 200",
		"LIST /apis/networking.istio.io/v1/serviceentries 200",
		"LIST /apis/networking.istio.io/v1/sidecars 200",
		"LIST /apis/networking.istio.io/v1/virtualservices 200",
		"LIST /apis/security.istio.io/v1/authorizationpolicies 200",
		"LIST /apis/security.istio.io/v1/peerauthentications 200",
	}
	otherNS := []string{
		"LIST /api/v1/namespaces/other/pods 200",
		"LIST /apis/discovery.k8s.io/v1/namespaces/other/endpointslices 200",
	}
	tests := []struct {
		name  string
		req   Request
		extra []string
	}{
		{"matrix", worldMatrix, nil},
		{"url with a hostname", Request{Source: worldMatrix.Source, TargetHost: "far.other.svc.cluster.local"}, otherNS},
		{"url with a ClusterIP", Request{Source: worldMatrix.Source, TargetHost: "10.96.200.200"},
			append([]string{"LIST /api/v1/pods?fieldSelector=status.podIP=10.96.200.200 200"}, otherNS...)},
		{"url with a short name", Request{Source: worldMatrix.Source, TargetHost: "api"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube, istio := worldFakes(t)
			res := mustReadLive(t, kube, istio, tt.req)
			want := append(append([]string{}, common...), tt.extra...)
			slices.Sort(want)
			if !reflect.DeepEqual(res.Requests, want) {
				t.Errorf("requests:\n  %s\nwant:\n  %s", strings.Join(res.Requests, "\n  "), strings.Join(want, "\n  "))
			}
			// The fakes saw exactly these requests: nothing unlogged, no writes.
			if n := len(kube.Actions()) + len(istio.Actions()); n != len(want) {
				t.Errorf("%d API actions, %d logged", n, len(want))
			}
			for _, a := range append(kube.Actions(), istio.Actions()...) {
				if a.GetVerb() != "get" && a.GetVerb() != "list" || a.GetResource().Resource == "secrets" {
					t.Errorf("unexpected action %s %s", a.GetVerb(), a.GetResource())
				}
			}
		})
	}
}

func TestLiveForbiddenPeerAuthentications(t *testing.T) {
	pa := &securityv1.PeerAuthentication{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "demo"},
		Spec:       securityapi.PeerAuthentication{Mtls: &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT}},
	}
	clusterScope := forbidden("security.istio.io", "peerauthentications", "list", "at the cluster scope")
	t.Run("cluster-wide only: read again per namespace", func(t *testing.T) {
		kube, _ := worldFakes(t)
		istio := istiofake.NewSimpleClientset(pa)
		fail(&istio.Fake, "list", "peerauthentications", clusterScope, clusterWide)
		res := mustReadLive(t, kube, istio, worldMatrix)
		want := []snapshot.Unread{{Resource: "peerauthentications.security.istio.io",
			Reason: `forbidden: User "jane" cannot list resource "peerauthentications" in API group "security.istio.io" at the cluster scope`, Cause: snapshot.UnreadForbidden}}
		if !reflect.DeepEqual(res.Snapshot.Unread, want) {
			t.Errorf("unread = %v, want %v", res.Snapshot.Unread, want)
		}
		if got := res.Snapshot.PeerAuthentications; len(got) != 1 || got[0].Name != "default" || got[0].Spec.Mtls.Mode.String() != "STRICT" {
			t.Errorf("PeerAuthentications of demo not read per namespace: %v", got)
		}
	})
	t.Run("everywhere", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&istio.Fake, "list", "peerauthentications", clusterScope, nil)
		res := mustReadLive(t, kube, istio, worldMatrix)
		var got []string
		for _, u := range res.Snapshot.Unread {
			got = append(got, u.Resource+" "+u.Namespace)
		}
		want := []string{"peerauthentications.security.istio.io ", "peerauthentications.security.istio.io demo",
			"peerauthentications.security.istio.io istio-system"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("unread = %v, want %v", got, want)
		}
		if len(res.Snapshot.VirtualServices) != 2 || len(res.Snapshot.Pods) != 4 {
			t.Errorf("the rest was not read: %d VirtualServices, %d pods", len(res.Snapshot.VirtualServices), len(res.Snapshot.Pods))
		}
	})
}

func TestLiveIstioVersionFallback(t *testing.T) {
	spec := networkingapi.VirtualService{Hosts: []string{"web"}, Http: []*networkingapi.HTTPRoute{{Name: "r"}}}
	vsBeta := &networkingv1beta1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"}}
	spec.DeepCopyInto(&vsBeta.Spec)
	vsAlpha := &networkingv1alpha3.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "demo"}}
	spec.DeepCopyInto(&vsAlpha.Spec)

	t.Run("v1 not served: v1beta1", func(t *testing.T) {
		kube, _ := worldFakes(t)
		istio := istiofake.NewSimpleClientset(vsBeta)
		fail(&istio.Fake, "list", "virtualservices", notFound("virtualservices"), version("v1"))
		res := mustReadLive(t, kube, istio, worldMatrix)
		vs := res.Snapshot.VirtualServices
		if len(vs) != 1 || vs[0].Name != "web" || vs[0].Spec.Http[0].Name != "r" || vs[0].APIVersion != "" {
			t.Fatalf("VirtualServices = %v", vs)
		}
		assertRequested(t, res, "LIST /apis/networking.istio.io/v1/virtualservices 404",
			"LIST /apis/networking.istio.io/v1beta1/virtualservices 200")
		if res.Snapshot.Unread != nil {
			t.Errorf("unread = %v", res.Snapshot.Unread)
		}
	})
	t.Run("v1 and v1beta1 not served: v1alpha3", func(t *testing.T) {
		kube, _ := worldFakes(t)
		istio := istiofake.NewSimpleClientset(vsAlpha)
		fail(&istio.Fake, "list", "virtualservices", notFound("virtualservices"), func(a k8stesting.Action) bool {
			return a.GetResource().Version != "v1alpha3"
		})
		res := mustReadLive(t, kube, istio, worldMatrix)
		if vs := res.Snapshot.VirtualServices; len(vs) != 1 || vs[0].Name != "old" || vs[0].Spec.Hosts[0] != "web" {
			t.Fatalf("VirtualServices = %v", vs)
		}
	})
	t.Run("no version served: not installed", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&istio.Fake, "list", "*", notFound("any"), nil)
		res := mustReadLive(t, kube, istio, worldMatrix)
		want := []snapshot.Unread{}
		for _, r := range []string{"authorizationpolicies.security.istio.io", "destinationrules.networking.istio.io", "peerauthentications.security.istio.io",
			"serviceentries.networking.istio.io", "sidecars.networking.istio.io", "virtualservices.networking.istio.io"} {
			want = append(want, snapshot.Unread{Resource: r, Reason: "not installed", Cause: snapshot.UnreadNotInstalled})
		}
		if !reflect.DeepEqual(res.Snapshot.Unread, want) {
			t.Errorf("unread = %v, want %v", res.Snapshot.Unread, want)
		}
		if len(res.Snapshot.Pods) != 4 || !res.Snapshot.Mesh.Found {
			t.Errorf("core objects not read")
		}
	})
}

func assertRequested(t *testing.T, res *Result, requests ...string) {
	t.Helper()
	for _, r := range requests {
		found := false
		for _, got := range res.Requests {
			found = found || got == r
		}
		if !found {
			t.Errorf("request %q not made; made:\n  %s", r, strings.Join(res.Requests, "\n  "))
		}
	}
}

func TestLiveEndpointSlicesForbidden(t *testing.T) {
	kube, istio := worldFakes(t)
	fail(&kube.Fake, "list", "endpointslices", forbidden("discovery.k8s.io", "endpointslices", "list", "in the namespace"), nil)
	res := mustReadLive(t, kube, istio, worldMatrix)
	if len(res.Snapshot.EndpointSlices) != 0 || len(res.Snapshot.Unread) != 1 ||
		res.Snapshot.Unread[0].Namespace != "demo" ||
		!strings.HasPrefix(res.Snapshot.Unread[0].Reason, "forbidden: User \"jane\" cannot list") {
		t.Errorf("unread = %v", res.Snapshot.Unread)
	}
}

// A user with a namespace-scoped Role: nothing cluster-wide, so each kind is
// read in the namespaces that matter, and namespaces are guessed from the
// target host.
func TestLiveNamespaceScopedUser(t *testing.T) {
	kube, istio := worldFakes(t)
	for _, r := range []string{"namespaces", "services", "pods"} {
		fail(&kube.Fake, "list", r, forbidden("", r, "list", "at the cluster scope"), clusterWide)
	}
	fail(&istio.Fake, "list", "*", forbidden("networking.istio.io", "any", "list", "at the cluster scope"), clusterWide)
	res := mustReadLive(t, kube, istio, Request{Source: worldMatrix.Source, TargetHost: "far.other.svc.cluster.local"})
	s := res.Snapshot
	if got := names(s.Namespaces, valueMeta[corev1.Namespace]); !reflect.DeepEqual(got, []string{"demo", "istio-system", "other"}) {
		t.Errorf("namespaces = %v", got)
	}
	if got := names(s.Services, valueMeta[corev1.Service]); !reflect.DeepEqual(got, []string{"demo/api", "demo/web", "other/far"}) {
		t.Errorf("services = %v", got)
	}
	if len(s.VirtualServices) != 2 || len(s.Sidecars) != 1 {
		t.Errorf("istio objects of demo not read per namespace")
	}
	assertRequested(t, res, "GET /api/v1/namespaces/other 200", "LIST /api/v1/namespaces/other/services 200")
	for _, u := range s.Unread {
		if u.Namespace != "" {
			t.Errorf("per-namespace reads should succeed: %v", u)
		}
	}
}

func TestLivePodErrors(t *testing.T) {
	t.Run("not found passes through as a podref error", func(t *testing.T) {
		kube, istio := worldFakes(t)
		_, err := readLive(t, kube, istio, Request{Source: mustRef(t, "nope", "demo"), Destination: worldMatrix.Destination})
		var pe *podref.Error
		if !errors.As(err, &pe) || pe.Kind != podref.NotFound || pe.Msg != `pods "nope" not found in namespace "demo"` {
			t.Errorf("error = %#v", err)
		}
	})
	t.Run("a pod without IP", func(t *testing.T) {
		kube, istio := worldFakes(t)
		pending := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "demo"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
		if err := kube.Tracker().Add(pending); err != nil {
			t.Fatal(err)
		}
		_, err := readLive(t, kube, istio, Request{Source: worldMatrix.Source, Destination: refPtr(mustRef(t, "new", "demo"))})
		var pe *podref.Error
		if !errors.As(err, &pe) || pe.Kind != podref.NoIP {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("list forbidden: SRC and DST are read by name", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&kube.Fake, "list", "pods", forbidden("", "pods", "list", "in the namespace"), nil)
		res := mustReadLive(t, kube, istio, worldMatrix)
		assertRequested(t, res, "LIST /api/v1/namespaces/demo/pods 403",
			"GET /api/v1/namespaces/demo/pods/src 200", "GET /api/v1/namespaces/demo/pods/web-0 200")
		if got := names(res.Snapshot.Pods, valueMeta[corev1.Pod]); !reflect.DeepEqual(got, []string{"demo/src", "demo/web-0"}) {
			t.Errorf("pods = %v", got)
		}
		// The istiod pods cannot be listed either: the answer says so.
		if u := res.Snapshot.Unread; len(u) != 2 || u[0].Resource != "pods" || u[0].Namespace != "demo" ||
			u[1].Resource != controlPlaneResource || u[1].Namespace != "istio-system" {
			t.Errorf("unread = %v", u)
		}
	})
	t.Run("list forbidden, a workload: fatal", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&kube.Fake, "list", "pods", forbidden("", "pods", "list", "in the namespace"), nil)
		_, err := readLive(t, kube, istio, Request{Source: worldMatrix.Source, Destination: refPtr(mustRef(t, "deploy/web", "demo"))})
		var re *Error
		if !errors.As(err, &re) || re.Kind != Forbidden || !apierrors.IsForbidden(re.Err) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("SRC forbidden is fatal", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&kube.Fake, "list", "pods", forbidden("", "pods", "list", "in the namespace"), nil)
		fail(&kube.Fake, "get", "pods", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "src",
			errors.New(`User "jane" cannot get resource "pods" in API group "" in the namespace "demo"`)), nil)
		_, err := readLive(t, kube, istio, worldMatrix)
		var re *Error
		if !errors.As(err, &re) || re.Kind != Forbidden || !apierrors.IsForbidden(re.Err) {
			t.Errorf("error = %v, want the GET's Forbidden", err)
		}
	})
}

// The errors that end a live read, classified (the command words them).
func TestLiveFatalErrors(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/api/v1/namespaces/demo/pods/src", Err: &net.OpError{
		Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	tests := []struct {
		name     string
		resource string
		err      error
		want     ErrorKind
	}{
		{"connection refused", "*", refused, Unreachable},
		{"unauthorized", "*", apierrors.NewUnauthorized("Unauthorized"), Unauthorized},
		{"request timeout", "*", &url.Error{Op: "Get", URL: "https://x/api", Err: context.DeadlineExceeded}, Timeout},
		{"x509", "*", &url.Error{Op: "Get", URL: "https://x/api", Err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")}, Unreachable},
		{"server error on the pods SRC is picked from", "pods", apierrors.NewInternalError(errors.New("etcd down")), ServerError},
		// An optional read failing at the connection level fails the run too.
		{"refused on services only", "services", refused, Unreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube, istio := worldFakes(t)
			fail(&kube.Fake, "*", tt.resource, tt.err, nil)
			_, err := NewLiveReader(kube, istio, LiveOptions{}).Read(context.Background(), worldMatrix)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error = %v (%T), want *Error", err, err)
			}
			if re.Kind != tt.want || !errors.Is(re, tt.err) {
				t.Errorf("error = %v (kind %v), want kind %v of %v", re, re.Kind, tt.want, tt.err)
			}
		})
	}
}

func TestLiveServerErrorDegrades(t *testing.T) {
	kube, istio := worldFakes(t)
	fail(&istio.Fake, "list", "sidecars", apierrors.NewInternalError(errors.New("conversion webhook failed")), nil)
	res := mustReadLive(t, kube, istio, worldMatrix)
	if u := res.Snapshot.Unread; len(u) != 1 || u[0].Resource != "sidecars.networking.istio.io" ||
		u[0].Reason != "Internal error occurred: conversion webhook failed" {
		t.Errorf("unread = %v", u)
	}
}

func TestLiveWorkloadRef(t *testing.T) {
	kube, istio := worldFakes(t)
	for _, name := range []string{"web-5d8f-b", "web-5d8f-a"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", Labels: map[string]string{"pod-template-hash": "5d8f"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.3.1",
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
		if err := kube.Tracker().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	res := mustReadLive(t, kube, istio, Request{Source: worldMatrix.Source, Destination: refPtr(mustRef(t, "deploy/web", "demo"))})
	want := snapshot.PodKey{Namespace: "demo", Name: "web-5d8f-a", ChosenFrom: "deploy/web: web-5d8f-a (1 of 2 ready pods)"}
	if *res.Destination != want {
		t.Errorf("destination = %+v, want %+v", *res.Destination, want)
	}
	n := 0
	for _, r := range res.Requests {
		if strings.HasPrefix(r, "LIST /api/v1/namespaces/demo/pods") {
			n++
		}
	}
	if n != 1 || len(res.Snapshot.Pods) != 6 {
		t.Errorf("demo pods listed %d times (want 1), %d pods", n, len(res.Snapshot.Pods))
	}
}

func TestLiveTargetPodIP(t *testing.T) {
	kube, istio := worldFakes(t)
	far := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "far-0", Namespace: "other"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.9.9"}}
	if err := kube.Tracker().Add(far); err != nil {
		t.Fatal(err)
	}
	res := mustReadLive(t, kube, istio, Request{Source: worldMatrix.Source, TargetHost: "10.1.9.9"})
	if res.Destination == nil || *res.Destination != (snapshot.PodKey{Namespace: "other", Name: "far-0"}) {
		t.Errorf("destination = %v", res.Destination)
	}
	assertRequested(t, res, "LIST /api/v1/namespaces/other/pods 200")
	// The fake ignores the field selector: pods of other IPs must not leak in
	// beyond the namespaces that matter.
	if got := names(res.Snapshot.Pods, valueMeta[corev1.Pod]); !reflect.DeepEqual(got,
		[]string{"demo/api-v1", "demo/api-v2", "demo/src", "demo/web-0", "other/far-0"}) {
		t.Errorf("pods = %v", got)
	}
}

func TestLiveMeshConfig(t *testing.T) {
	t.Run("revision of the source proxy", func(t *testing.T) {
		kube, istio := worldFakes(t)
		src, _ := kube.CoreV1().Pods("demo").Get(context.Background(), "src", metav1.GetOptions{})
		src.Labels["istio.io/rev"] = "canary"
		src.Annotations = nil
		canary := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-canary", Namespace: "istio-system"},
			Data: map[string]string{"mesh": "outboundTrafficPolicy: {mode: REGISTRY_ONLY}\nrootNamespace: istio-config"}}
		if err := kube.Tracker().Add(canary); err != nil {
			t.Fatal(err)
		}
		if err := kube.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), src, "demo"); err != nil {
			t.Fatal(err)
		}
		fail(&istio.Fake, "list", "peerauthentications", forbidden("security.istio.io", "peerauthentications", "list", "at the cluster scope"), clusterWide)
		res := mustReadLive(t, kube, istio, worldMatrix)
		m := res.Snapshot.Mesh
		if m.ConfigMap != "istio-system/istio-canary" || m.OutboundTrafficPolicy != "REGISTRY_ONLY" || m.RootNamespace != "istio-config" {
			t.Errorf("mesh = %+v", m)
		}
		// The root namespace the mesh config names is read in a third round,
		// for the kinds forbidden cluster-wide (its pods and endpoints do not
		// matter).
		assertRequested(t, res, "LIST /apis/security.istio.io/v1/namespaces/istio-config/peerauthentications 200")
		for _, r := range res.Requests {
			if strings.Contains(r, "/namespaces/istio-config/pods") || strings.Contains(r, "/namespaces/istio-config/endpointslices") {
				t.Errorf("unneeded request %s", r)
			}
		}
	})
	t.Run("absent", func(t *testing.T) {
		kube, istio := worldFakes(t)
		if err := kube.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("configmaps"), "istio-system", "istio"); err != nil {
			t.Fatal(err)
		}
		res := mustReadLive(t, kube, istio, worldMatrix)
		want := []snapshot.Unread{{Resource: "configmaps", Namespace: "istio-system", Reason: `configmaps "istio" not found: using Istio's default mesh config`}}
		if !reflect.DeepEqual(res.Snapshot.Mesh, snapshot.DefaultMeshConfig()) {
			t.Errorf("mesh = %+v", res.Snapshot.Mesh)
		}
		if !reflect.DeepEqual(res.Snapshot.Unread, want) {
			t.Errorf("unread = %v", res.Snapshot.Unread)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&kube.Fake, "get", "configmaps", forbidden("", "configmaps", "get", `in the namespace "istio-system"`), nil)
		res := mustReadLive(t, kube, istio, worldMatrix)
		if u := res.Snapshot.Unread; len(u) != 1 || u[0].Resource != "configmaps" || !strings.HasPrefix(u[0].Reason, "forbidden: ") {
			t.Errorf("unread = %v", u)
		}
		if !reflect.DeepEqual(res.Snapshot.Mesh, snapshot.DefaultMeshConfig()) {
			t.Errorf("mesh = %+v", res.Snapshot.Mesh)
		}
	})
}

func TestLiveOrigin(t *testing.T) {
	kube, istio := worldFakes(t)
	res, err := NewLiveReader(kube, istio, LiveOptions{Context: "kind-demo"}).Read(context.Background(), worldMatrix)
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot.Origin != "context kind-demo" {
		t.Errorf("origin = %q", res.Snapshot.Origin)
	}
}
