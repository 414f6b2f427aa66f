package inspect

import (
	"context"
	"testing"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/podreach/kubectl-podreach/pkg/podref"
)

const worldFile = "testdata/g-istio-config.world.yaml"

// loadWorld reads a world with the file reader's loader.
func loadWorld(t *testing.T, paths ...string) *world {
	t.Helper()
	w, err := NewFileReader(paths, nil).load()
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	return w
}

// fakesFor puts the objects of a world into fake clientsets, as if the
// world had been applied to a cluster.
func fakesFor(w *world) (*kubefake.Clientset, *istiofake.Clientset) {
	var kube, istio []runtime.Object
	s := &w.snap
	for i := range s.Namespaces {
		kube = append(kube, s.Namespaces[i].DeepCopy())
	}
	for i := range s.Pods {
		kube = append(kube, s.Pods[i].DeepCopy())
	}
	for i := range s.Services {
		kube = append(kube, s.Services[i].DeepCopy())
	}
	for i := range s.EndpointSlices {
		kube = append(kube, s.EndpointSlices[i].DeepCopy())
	}
	for i := range w.configMaps {
		kube = append(kube, w.configMaps[i].DeepCopy())
	}
	for _, o := range s.PeerAuthentications {
		istio = append(istio, o.DeepCopy())
	}
	for _, o := range s.DestinationRules {
		istio = append(istio, o.DeepCopy())
	}
	for _, o := range s.VirtualServices {
		istio = append(istio, o.DeepCopy())
	}
	for _, o := range s.Sidecars {
		istio = append(istio, o.DeepCopy())
	}
	for _, o := range s.ServiceEntries {
		istio = append(istio, o.DeepCopy())
	}
	return kubefake.NewClientset(kube...), istiofake.NewSimpleClientset(istio...)
}

func mustRef(t *testing.T, arg, ns string) podref.Ref {
	t.Helper()
	r, err := podref.Parse(arg, ns)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func refPtr(r podref.Ref) *podref.Ref { return &r }

func readLive(t *testing.T, kube KubeClient, istio IstioClient, req Request) (*Result, error) {
	t.Helper()
	return NewLiveReader(kube, istio, LiveOptions{}).Read(context.Background(), req)
}
