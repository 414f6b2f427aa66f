package inspect

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

func selector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func keys(names ...string) []snapshot.PodKey {
	var out []snapshot.PodKey
	for _, n := range names {
		ns, name, _ := strings.Cut(n, "/")
		out = append(out, snapshot.PodKey{Namespace: ns, Name: name})
	}
	return out
}

// TestFleetLiveMatchesFile: for the fleet forms the live reader reads the
// Snapshot the file reader gives (every object of the world lies in a
// namespace these requests read) and resolves the same members.
func TestFleetLiveMatchesFile(t *testing.T) {
	src := mustRef(t, "src", "demo")
	tests := []struct {
		name    string
		req     Request
		members []snapshot.PodKey
	}{
		{"selector", Request{Source: src, Destinations: &PodSet{Selector: selector(t, "app=api"), Namespace: "demo"}},
			keys("demo/api-v1", "demo/api-v2")},
		{"namespace", Request{Source: src, Destinations: &PodSet{Selector: labels.Everything(), Namespace: "demo"}},
			keys("demo/api-v1", "demo/api-v2", "demo/src", "demo/web-0")},
		{"all namespaces", Request{Source: src, Destinations: &PodSet{Selector: labels.Everything(), AllNamespaces: true}},
			keys("demo/api-v1", "demo/api-v2", "demo/src", "demo/web-0")},
		{"several DSTs", Request{Source: src, Destinations: &PodSet{Refs: []podref.Ref{mustRef(t, "web-0", "demo"), mustRef(t, "demo/api-v1", "x")}}},
			keys("demo/api-v1", "demo/web-0")},
		{"peers by selector", Request{Peers: &PodSet{Selector: selector(t, "app=api"), Namespace: "demo"}},
			keys("demo/api-v1", "demo/api-v2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fileRes, liveRes := readBoth(t, tt.req)
			if !reflect.DeepEqual(fileRes.Members, tt.members) || !reflect.DeepEqual(liveRes.Members, tt.members) {
				t.Errorf("members: file %v, live %v, want %v", fileRes.Members, liveRes.Members, tt.members)
			}
		})
	}
}

// TestFleetAllNamespacesPaged: -A lists pods and EndpointSlices
// cluster-wide in pages of 500 (following continue), instead of SRC's
// namespace; each page is pruned as it arrives.
func TestFleetAllNamespacesPaged(t *testing.T) {
	kube, istio := worldFakes(t)
	var limits []int64
	kube.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() != "" {
			return false, nil, nil
		}
		opts := a.(k8stesting.ListActionImpl).GetListOptions()
		limits = append(limits, opts.Limit)
		all, err := kube.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), "")
		if err != nil {
			return true, nil, err
		}
		items := all.(*corev1.PodList).Items
		slices.SortFunc(items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		// Two pods a page, whatever the limit: the reader must follow continue.
		start := map[string]int{"": 0, "page2": 2}[opts.Continue]
		page := &corev1.PodList{Items: items[start:min(start+2, len(items))]}
		if start+2 < len(items) {
			page.Continue = "page2"
		}
		for i := range page.Items {
			page.Items[i].ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
		}
		return true, page, nil
	})
	res := mustReadLive(t, kube, istio, Request{Source: worldMatrix.Source, Destinations: &PodSet{Selector: labels.Everything(), AllNamespaces: true}})
	if !slices.Equal(limits, []int64{pageSize, pageSize}) {
		t.Errorf("page limits %v, want two pages of %d", limits, pageSize)
	}
	for _, want := range []string{"LIST /api/v1/pods?limit=500 200", "LIST /api/v1/pods?limit=500&continue 200", "LIST /apis/discovery.k8s.io/v1/endpointslices?limit=500 200"} {
		if !slices.Contains(res.Requests, want) {
			t.Errorf("no %q among\n  %s", want, strings.Join(res.Requests, "\n  "))
		}
	}
	for _, r := range res.Requests {
		if strings.Contains(r, "/namespaces/demo/pods") || strings.Contains(r, "/namespaces/demo/endpointslices") {
			t.Errorf("-A read a namespace's pods or slices again: %s", r)
		}
	}
	if len(res.Members) != 4 {
		t.Errorf("members %v", res.Members)
	}
	for _, p := range res.Snapshot.Pods {
		if p.ManagedFields != nil {
			t.Errorf("pod %s kept its managedFields", p.Name)
		}
	}
}

// TestFleetForbiddenNamespace: a selector's namespace whose pods cannot be
// listed degrades with a warning naming it (Unread) and has no members;
// -A forbidden cluster-wide falls back to each namespace.
func TestFleetForbiddenNamespace(t *testing.T) {
	t.Run("-n", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&kube.Fake, "list", "pods", forbidden("", "pods", "list", "other"), func(a k8stesting.Action) bool { return a.GetNamespace() == "other" })
		_, err := readLive(t, kube, istio, Request{Source: worldMatrix.Source, Destinations: &PodSet{Selector: labels.Everything(), Namespace: "other"}})
		var pe *podref.Error
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), `no pods in namespace "other"; pods could not be listed in namespace other (`) {
			t.Fatalf("error %v, want no pods in namespace other", err)
		}
	})
	t.Run("-A", func(t *testing.T) {
		kube, istio := worldFakes(t)
		fail(&kube.Fake, "list", "pods", forbidden("", "pods", "list", ""), clusterWide)
		res := mustReadLive(t, kube, istio, Request{Source: worldMatrix.Source, Destinations: &PodSet{Selector: labels.Everything(), AllNamespaces: true}})
		if len(res.Members) != 4 {
			t.Errorf("members %v", res.Members)
		}
		if !slices.ContainsFunc(res.Snapshot.Unread, func(u snapshot.Unread) bool { return u.Resource == "pods" && u.Namespace == "" }) {
			t.Errorf("no Unread for the cluster-wide pod list: %+v", res.Snapshot.Unread)
		}
		for _, want := range []string{"LIST /api/v1/namespaces/demo/pods 200", "LIST /api/v1/namespaces/other/pods 200"} {
			if !slices.Contains(res.Requests, want) {
				t.Errorf("no %q among\n  %s", want, strings.Join(res.Requests, "\n  "))
			}
		}
	})
}

// TestFleetAllNamespacesSlicesForbidden: -A with EndpointSlices forbidden
// cluster-wide reads them in each namespace instead.
func TestFleetAllNamespacesSlicesForbidden(t *testing.T) {
	kube, istio := worldFakes(t)
	fail(&kube.Fake, "list", "endpointslices", forbidden("discovery.k8s.io", "endpointslices", "list", ""), clusterWide)
	res := mustReadLive(t, kube, istio, Request{Source: worldMatrix.Source, Destinations: &PodSet{Selector: labels.Everything(), AllNamespaces: true}})
	for _, want := range []string{"LIST /apis/discovery.k8s.io/v1/namespaces/demo/endpointslices 200", "LIST /apis/discovery.k8s.io/v1/namespaces/other/endpointslices 200"} {
		if !slices.Contains(res.Requests, want) {
			t.Errorf("no %q among\n  %s", want, strings.Join(res.Requests, "\n  "))
		}
	}
	if len(res.Snapshot.EndpointSlices) == 0 {
		t.Error("no EndpointSlices read")
	}
}
