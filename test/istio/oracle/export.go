package oracle

import (
	"net"
	"strconv"
	"testing"

	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
)

// World is one world file as both sides read it (loadWorld), for the
// comparisons that live beside the calling module's tests (test/istio's
// ambient comparison, which only Istio 1.31's module builds).
type World = world

// LoadWorld reads a world file: its queries, and its objects split by who
// reads them.
func LoadWorld(path string) (*World, error) { return loadWorld(path) }

// WorldFiles lists every world matching the glob patterns, sorted.
func WorldFiles(patterns []string) ([]string, error) { return worldFiles(patterns) }

// Settle waits until istiod has no config update in flight (settle).
func Settle(t *testing.T, s *xds.FakeDiscoveryServer) { settle(t, s) }

// SidecarHop is what a pod's sidecar does with one request, as istiod
// configures it (pilot/pkg/simulation over the server's xDS): the cluster
// it picks and whether it reaches the landing endpoint ip:port over HBONE
// (istiod's EDS gives the endpoint as the internal address of the
// connect_originate listener: endpoints/endpoint_builder.go
// buildEnvoyLbEndpoint).
type SidecarHop struct {
	Cluster string
	Error   string // the simulator's error, when the request goes nowhere
	HBONE   bool
}

// SidecarSends runs a request from the sidecar of pod "ns/name" on the
// fake discovery server s of world w (built by the caller, e.g. with
// ambient on).
func SidecarSends(t *testing.T, s *xds.FakeDiscoveryServer, w *World, pod string, c simulation.Call, upstreamIP string, upstreamPort int) (SidecarHop, error) {
	is := &istio{t: t, w: w, s: s, proxies: map[string]*sidecar{}}
	sc, err := is.sidecarFor(pod)
	if err != nil {
		return SidecarHop{}, err
	}
	res := sc.sim.Run(c)
	if res.Error != nil {
		return SidecarHop{Error: res.Error.Error()}, nil
	}
	hop := SidecarHop{Cluster: res.ClusterMatched}
	cla := sc.eds[hop.Cluster]
	if cla == nil {
		return hop, nil
	}
	target := net.JoinHostPort(upstreamIP, strconv.Itoa(upstreamPort))
	for _, l := range cla.Endpoints {
		for _, e := range l.LbEndpoints {
			// An HBONE endpoint is an Envoy internal address: the sidecar's
			// connect_originate listener, which opens the HBONE CONNECT to
			// the endpoint id ip:port.
			ia := e.GetEndpoint().GetAddress().GetEnvoyInternalAddress()
			if ia.GetEndpointId() == target && ia.GetServerListenerName() == "connect_originate" {
				hop.HBONE = true
			}
		}
	}
	return hop, nil
}

// QueryRequest reads the method (--method, default GET) and the headers
// (-H) of a query line (queryRequest).
func QueryRequest(args []string) (method string, headers map[string]string) {
	return queryRequest(args)
}
