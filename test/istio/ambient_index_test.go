package istiodiff

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/test/istio/oracle"
)

// ambientIndex is what istiod sends ztunnel for one world: Istio 1.31's
// ambient index (pilot/pkg/serviceregistry/ambient, built by the fake
// discovery server with features.EnableAmbient, as
// pilot/pkg/xds/workload_test.go does) read back as the Workload, Service
// and Authorization resources of WDS.
type ambientIndex struct {
	t         *testing.T
	w         *oracle.World
	s         *xds.FakeDiscoveryServer
	workloads map[string]*workloadapi.Workload // by "ns/name" (the pod)
	byIP      map[netip.Addr]*workloadapi.Workload
	services  map[netip.Addr]*workloadapi.Service // by VIP
	byHost    map[string]*workloadapi.Service     // by "ns/hostname", as Workload.services keys them
	policies  map[string]*security.Authorization  // by "ns/name", as ztunnel keys them
	rootNS    string
	gateways  []gatewayObj
	pods      map[string]map[string]any
}

// gatewayObj is a Gateway of the world: its name and status addresses,
// which is what a waypoint GatewayAddress points at.
type gatewayObj struct {
	Namespace, Name string
	Addresses       []string
}

func newAmbientIndex(t *testing.T, w *oracle.World) *ambientIndex {
	configs, _, err := crd.ParseInputs(w.IstioYAML)
	if err != nil {
		t.Fatalf("%s: Istio config: %v", w.Name, err)
	}
	for i := range configs {
		configs[i].Domain = "cluster.local" // as oracle.newIstio: the CRD client stamps it
	}
	// The ambient index reads Gateways, AuthorizationPolicies and
	// PeerAuthentications through the kube client, the sidecar config
	// through the config store: as waypoint_test.go setupWaypointTest, the
	// Istio objects go to both.
	kube := slices.DeleteFunc([]string{w.KubeYAML, w.IstioYAML, w.GatewayYAML}, func(s string) bool { return strings.TrimSpace(s) == "" })
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		KubernetesObjectString: strings.Join(kube, "\n---\n"),
		Configs:                configs,
		MeshConfig:             w.Mesh,
	})
	oracle.Settle(t, s)
	if s.AmbientIndex == nil {
		t.Fatalf("%s: the fake discovery server built no ambient index (features.EnableAmbient off?)", w.Name)
	}
	ix := &ambientIndex{
		t:         t,
		w:         w,
		s:         s,
		workloads: map[string]*workloadapi.Workload{},
		byIP:      map[netip.Addr]*workloadapi.Workload{},
		services:  map[netip.Addr]*workloadapi.Service{},
		byHost:    map[string]*workloadapi.Service{},
		policies:  map[string]*security.Authorization{},
		rootNS:    w.Mesh.GetRootNamespace(),
		pods:      w.Pods,
	}
	for _, a := range s.AmbientIndex.All() {
		if wl := a.GetWorkload(); wl != nil {
			if wl.GetWorkloadType() == workloadapi.WorkloadType_POD {
				ix.workloads[wl.GetNamespace()+"/"+wl.GetName()] = wl
			}
			// ztunnel does not index host-network workloads by address
			// (src/state/workload.rs WorkloadStore::insert): their IP is
			// the node's, shared.
			for _, b := range wl.GetAddresses() {
				if ip, ok := netip.AddrFromSlice(b); ok && wl.GetNetworkMode() != workloadapi.NetworkMode_HOST_NETWORK {
					ix.byIP[ip] = wl
				}
			}
		}
		if svc := a.GetService(); svc != nil {
			ix.byHost[svc.GetNamespace()+"/"+svc.GetHostname()] = svc
			for _, na := range svc.GetAddresses() {
				if ip, ok := netip.AddrFromSlice(na.GetAddress()); ok {
					ix.services[ip] = svc
				}
			}
		}
	}
	for _, p := range s.AmbientIndex.Policies(nil) {
		ix.policies[p.ResourceName()] = p.Authorization
	}
	for _, doc := range strings.Split(w.GatewayYAML, "\n---\n") {
		var g struct {
			Kind     string `json:"kind"`
			Metadata struct{ Name, Namespace string }
			Status   struct {
				Addresses []struct{ Value string } `json:"addresses"`
			} `json:"status"`
		}
		if err := yaml.Unmarshal([]byte(doc), &g); err != nil || g.Kind != "Gateway" {
			continue
		}
		gw := gatewayObj{Namespace: g.Metadata.Namespace, Name: g.Metadata.Name}
		for _, a := range g.Status.Addresses {
			gw.Addresses = append(gw.Addresses, a.Value)
		}
		ix.gateways = append(ix.gateways, gw)
	}
	return ix
}

// waypointName names the waypoint a GatewayAddress points at as NS/NAME of
// its Gateway: the Gateway whose status carries that hostname or IP (what
// istiod copied into it, waypoints.go getGatewayAddress).
func (ix *ambientIndex) waypointName(ga *workloadapi.GatewayAddress) string {
	if ga == nil {
		return ""
	}
	ns, addr := "", ""
	switch d := ga.GetDestination().(type) {
	case *workloadapi.GatewayAddress_Hostname:
		ns, addr = d.Hostname.GetNamespace(), d.Hostname.GetHostname()
	case *workloadapi.GatewayAddress_Address:
		if ip, ok := netip.AddrFromSlice(d.Address.GetAddress()); ok {
			addr = ip.String()
		}
	}
	for _, g := range ix.gateways {
		if (ns == "" || g.Namespace == ns) && slices.Contains(g.Addresses, addr) {
			return g.Namespace + "/" + g.Name
		}
	}
	return fmt.Sprintf("unknown gateway address %s/%s", ns, addr)
}

// waypointPod is one pod of the waypoint NS/NAME (label
// gateway.networking.k8s.io/gateway-name, as waypoints.go
// fetchWaypointForInstance): the source of what the waypoint forwards.
func (ix *ambientIndex) waypointPod(name string) *workloadapi.Workload {
	ns, n, _ := strings.Cut(name, "/")
	var keys []string
	for k, p := range ix.pods {
		md, _ := p["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		if md["namespace"] == ns && labels["gateway.networking.k8s.io/gateway-name"] == n && strings.HasPrefix(k, ns+"/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if wl := ix.workloads[k]; wl != nil {
			return wl
		}
	}
	return nil
}

// identity is the workload's SPIFFE identity as its certificate carries it
// (the trust domain istiod leaves empty is the mesh's, cluster.local).
func identity(wl *workloadapi.Workload) *spiffeID {
	td := wl.GetTrustDomain()
	if td == "" {
		td = "cluster.local"
	}
	return &spiffeID{trustDomain: td, namespace: wl.GetNamespace(), serviceAccount: wl.GetServiceAccount()}
}

// inZtunnel says whether ztunnel carries the workload's traffic: istiod
// marks it HBONE from the CNI's ambient.istio.io/redirection annotation
// (workloads.go setTunnelProtocol); a sidecar that accepts HBONE itself
// (networking.istio.io/tunnel: http) is NativeTunnel and terminates it in
// Envoy.
func inZtunnel(wl *workloadapi.Workload) bool {
	return wl != nil && wl.GetTunnelProtocol() == workloadapi.TunnelProtocol_HBONE && !wl.GetNativeTunnel()
}

// policiesFor are the policies ztunnel checks for a destination workload
// (state.rs assert_rbac): its namespace's, the global ones (root namespace,
// by the PolicyStore's scope index) and those the Workload lists.
func (ix *ambientIndex) policiesFor(wl *workloadapi.Workload) []*security.Authorization {
	var out []*security.Authorization
	seen := map[string]bool{}
	add := func(k string, p *security.Authorization) {
		if p != nil && !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ix.policies)) {
		p := ix.policies[k]
		switch p.GetScope() {
		case security.Scope_NAMESPACE:
			if p.GetNamespace() == wl.GetNamespace() {
				add(k, p)
			}
		case security.Scope_GLOBAL:
			add(k, p)
		}
	}
	for _, k := range wl.GetAuthorizationPolicies() {
		add(k, ix.policies[k])
	}
	return out
}

// endpoints are the workloads behind a Service, as ztunnel's
// find_upstream_from_service reads them (Workload.services keyed
// "ns/hostname"), with the port each listens on for svcPort.
func (ix *ambientIndex) endpoints(svc *workloadapi.Service, svcPort uint32) map[*workloadapi.Workload]uint32 {
	key := svc.GetNamespace() + "/" + svc.GetHostname()
	out := map[*workloadapi.Workload]uint32{}
	svcTarget, declared := uint32(0), false
	for _, p := range svc.GetPorts() {
		if p.GetServicePort() == svcPort {
			svcTarget, declared = p.GetTargetPort(), true
		}
	}
	if !declared {
		return out // load_balance: the port is not on the Service at all
	}
	for _, wl := range ix.workloads {
		pl, ok := wl.GetServices()[key]
		if !ok || wl.GetStatus() != workloadapi.WorkloadStatus_HEALTHY {
			continue
		}
		target := svcTarget
		for _, p := range pl.GetPorts() {
			if p.GetServicePort() == svcPort && p.GetTargetPort() != 0 {
				target = p.GetTargetPort()
			}
		}
		if target == 0 {
			continue // ztunnel: no port mapping for the workload, not a candidate
		}
		out[wl] = target
	}
	return out
}
