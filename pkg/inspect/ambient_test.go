package inspect

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

const gatewayYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
  labels: {istio.io/waypoint-for: all}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
    allowedRoutes:
      namespaces:
        from: Selector
        selector: {matchLabels: {team: a}}
status:
  addresses:
  - type: Hostname
    value: waypoint.demo.svc.cluster.local
`

func gatewayClient(t *testing.T) *dynamicfake.FakeDynamicClient {
	t.Helper()
	u := &unstructured.Unstructured{}
	j, err := yaml.YAMLToJSON([]byte(gatewayYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		podMonitorsResource: "PodMonitorList", serviceMonitorsResource: "ServiceMonitorList", gatewaysResource: "GatewayList",
	})
	// Not through the constructor: the tracker would guess the resource
	// "gatewaies" from the kind (meta.UnsafeGuessKindToResource).
	if err := dyn.Tracker().Create(gatewaysResource, u, u.GetNamespace()); err != nil {
		t.Fatal(err)
	}
	return dyn
}

// The Gateways read live (dynamic client, cluster-wide) are those the file
// reader decodes from the same objects; forbidden cluster-wide they are read
// per namespace and the refusal is recorded; absent (no CRD) they leave no
// trace at all.
func TestLiveGatewaysMatchFile(t *testing.T) {
	kube, istio := worldFakes(t)
	res, err := NewLiveReader(kube, istio, LiveOptions{Dynamic: gatewayClient(t)}).Read(context.Background(), worldMatrix)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	fileRes, err := NewFileReader([]string{"-"}, strings.NewReader(string(data)+"\n---\n"+gatewayYAML)).Read(context.Background(), worldMatrix)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Snapshot.Gateways, fileRes.Snapshot.Gateways) {
		l, _ := yaml.Marshal(res.Snapshot.Gateways)
		f, _ := yaml.Marshal(fileRes.Snapshot.Gateways)
		t.Errorf("live Gateways\n%s\nfile Gateways\n%s", l, f)
	}
	if g := res.Snapshot.Gateways; len(g) != 1 || g[0].Status.Addresses[0].Value != "waypoint.demo.svc.cluster.local" ||
		g[0].Spec.Listeners[0].AllowedRoutes.Namespaces.Selector.MatchLabels["team"] != "a" {
		t.Errorf("Gateway decoded as %+v", g)
	}
	assertRequested(t, res, "LIST /apis/gateway.networking.k8s.io/v1/gateways 200")

	t.Run("forbidden", func(t *testing.T) {
		dyn := gatewayClient(t)
		fail(&dyn.Fake, "list", "gateways", forbidden(gatewayGroup, "gateways", "list", "at the cluster scope"), clusterWide)
		kube, istio := worldFakes(t)
		res, err := NewLiveReader(kube, istio, LiveOptions{Dynamic: dyn}).Read(context.Background(), worldMatrix)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Snapshot.Gateways) != 1 {
			t.Errorf("the per-namespace read found %d Gateways, want 1", len(res.Snapshot.Gateways))
		}
		found := false
		for _, u := range res.Snapshot.Unread {
			found = found || u.Resource == GatewaysResource && u.Namespace == "" && u.Cause == snapshot.UnreadForbidden
		}
		if !found {
			t.Errorf("no Unread for the forbidden cluster-wide list: %+v", res.Snapshot.Unread)
		}
		assertRequested(t, res, "LIST /apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways 200")
	})
	t.Run("not installed", func(t *testing.T) {
		dyn := gatewayClient(t)
		fail(&dyn.Fake, "list", "gateways", notFound("gateways"), nil)
		kube, istio := worldFakes(t)
		res, err := NewLiveReader(kube, istio, LiveOptions{Dynamic: dyn}).Read(context.Background(), worldMatrix)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Snapshot.Unread {
			if u.Resource == GatewaysResource {
				t.Errorf("an absent CRD left %+v", u)
			}
		}
	})
}
