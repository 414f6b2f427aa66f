package explain

import (
	"fmt"
	"strconv"
)

// Envoy object names Istio generates, as pilot/pkg/networking/util (util.go)
// and pilot/pkg/model (names.go) spell them (Istio 1.31). The report shows
// them verbatim so that `istioctl proxy-config` finds the same objects.
const (
	passthroughCluster        = "PassthroughCluster"        // util.PassthroughCluster: ORIGINAL_DST, plaintext
	blackHoleCluster          = "BlackHoleCluster"          // util.BlackHoleCluster: drops the connection
	allowAnyDynamicDNSCluster = "AllowAnyDynamicDNSCluster" // util.AllowAnyDynamicDNSCluster (1.31): dynamic forward proxy
	inboundPassthroughCluster = "InboundPassthroughCluster" // util.InboundPassthroughCluster

	virtualOutboundListener = "virtualOutbound" // model.VirtualOutboundListenerName
	virtualInboundListener  = "virtualInbound"  // model.VirtualInboundListenerName

	passthroughFilterChain        = "PassthroughFilterChain"            // util.PassthroughFilterChain
	virtualOutboundCatchAllTCP    = "virtualOutbound-catchall-tcp"      // model.VirtualOutboundCatchAllTCPFilterChainName
	virtualOutboundCatchAllHTTP   = "virtualOutbound-catchall-tcp-http" // ALLOW_ANY_DYNAMIC_DNS's plaintext HTTP chain
	virtualInboundCatchAllHTTP    = "virtualInbound-catchall-http"      // model.VirtualInboundCatchAllHTTPFilterChainName
	inboundPassthroughVirtualHost = "inbound|http|0"                    // the passthrough chain's inline route

	vhostAllowAny           = "allow_any"             // util.PassthroughRouteName / catch-all vhost (ALLOW_ANY)
	vhostBlockAll           = "block_all"             // util.BlackHoleRouteName / catch-all vhost (REGISTRY_ONLY)
	vhostAllowAnyDynamicDNS = "allow_any_dynamic_dns" // catch-all vhost (ALLOW_ANY_DYNAMIC_DNS)
	routeDefault            = "default"               // the route of a vhost without VirtualService
)

// direction of a cluster (model.TrafficDirection).
type direction string

const (
	outbound direction = "outbound"
	inbound  direction = "inbound"
)

// clusterKey is an Envoy service cluster name as model.BuildSubsetKey builds
// it: DIRECTION|PORT|SUBSET|HOST. It is built once from its parts and never
// parsed back (Istio's ParseSubsetKey has no counterpart here).
type clusterKey struct {
	direction direction
	port      int32
	subset    string
	host      string
}

func outboundCluster(port int32, subset, host string) clusterKey {
	return clusterKey{direction: outbound, port: port, subset: subset, host: host}
}

// inboundCluster is the inbound chain's cluster: inbound|PORT|| (model.BuildInboundSubsetKey).
func inboundCluster(port int32) clusterKey { return clusterKey{direction: inbound, port: port} }

func (k clusterKey) String() string {
	return fmt.Sprintf("%s|%d|%s|%s", k.direction, k.port, k.subset, k.host)
}

// listenerName is IP_PORT (or 0.0.0.0_PORT), as buildSidecarOutboundListener
// and buildInboundChainConfigs name listeners and chains.
func listenerName(bind string, port int32) string { return bind + "_" + strconv.Itoa(int(port)) }
