package oracle

import (
	dnsclient "istio.io/istio/pkg/dns/client"

	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/networking/core"
	"istio.io/istio/pilot/pkg/networking/util"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// istio is Istio's own control plane for one world: the fake discovery
// server (real kube registry, config store, push context and xDS
// generators) plus, per pod, the config istiod would send its sidecar.
type istio struct {
	t       *testing.T
	w       *world
	s       *xds.FakeDiscoveryServer
	proxies map[string]*sidecar // by "ns/name"
	// localDNS is Config.LocalDNS (NameTable only).
	localDNS func(namespace, searchDomain string) (*dnsclient.LocalDNSServer, error)
}

// sidecar is the xDS of one pod's proxy, as pilot/pkg/simulation sees it.
type sidecar struct {
	t     *testing.T
	proxy *model.Proxy
	sim   *simulation.Simulation
	eds   map[string]*endpoint.ClusterLoadAssignment
}

func newIstio(t *testing.T, w *world) *istio {
	configs, rejected, err := parseConfigs(w.IstioYAML, w.asIstiod)
	if err != nil {
		t.Fatalf("%s: Istio config: %v", w.Name, err)
	}
	w.Rejected = append(w.Rejected, rejected...)
	for i := range configs {
		// istiod's CRD client stamps every config with the cluster's domain
		// suffix (pilot/pkg/config/kube/crdclient/client.go), which is how a
		// short VirtualService host "reviews" becomes
		// reviews.<ns>.svc.cluster.local (model.ResolveShortnameToFQDN).
		// The fake's ConfigString path leaves it empty.
		configs[i].Domain = "cluster.local"
	}
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		KubernetesObjectString: w.KubeYAML,
		Configs:                configs,
		MeshConfig:             w.Mesh,
	})
	settle(t, s)
	return &istio{t: t, w: w, s: s, proxies: map[string]*sidecar{}}
}

// settle waits until istiod has no config update in flight. The fake server
// returns once its first push is committed, but krt collections (merged
// VirtualServices, endpoint tlsMode from pod labels) can still queue
// pushes; a proxy built before they land misses VirtualServices or sees
// endpoints without their tlsMode, and the answer flickers between runs.
func settle(t *testing.T, s *xds.FakeDiscoveryServer) {
	deadline := time.Now().Add(10 * time.Second)
	for quiet := 0; quiet < 3; {
		in := s.Discovery.InboundUpdates.Load()
		s.EnsureSynced(t)
		time.Sleep(20 * time.Millisecond)
		if s.Discovery.InboundUpdates.Load() == in && s.Discovery.CommittedUpdates.Load() >= in {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("istiod kept pushing for 10s")
		}
	}
}

// sidecarFor builds (once) the proxy of pod "ns/name" the way istiod sees a
// connecting sidecar: its IPs, labels, namespace and the Istio version of its
// istio-proxy image (the version gates several listener behaviours).
func (is *istio) sidecarFor(key string) (*sidecar, error) {
	if sc, ok := is.proxies[key]; ok {
		return sc, nil
	}
	pod := is.w.Pods[key]
	if pod == nil {
		return nil, fmt.Errorf("pod %s not in world", key)
	}
	md, _ := pod["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	labels := map[string]string{}
	if l, ok := md["labels"].(map[string]any); ok {
		for k, v := range l {
			labels[k] = fmt.Sprint(v)
		}
	}
	var ips []string
	if st, ok := pod["status"].(map[string]any); ok {
		if pips, ok := st["podIPs"].([]any); ok {
			for _, p := range pips {
				if m, ok := p.(map[string]any); ok {
					if ip, _ := m["ip"].(string); ip != "" {
						ips = append(ips, ip)
					}
				}
			}
		}
		if len(ips) == 0 {
			if ip, _ := st["podIP"].(string); ip != "" {
				ips = []string{ip}
			}
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("pod %s has no IP", key)
	}
	p := is.s.SetupProxy(&model.Proxy{
		ID:              name + "." + ns,
		ConfigNamespace: ns,
		IPAddresses:     ips,
		Labels:          labels,
		Metadata: &model.NodeMetadata{
			Labels:       labels,
			Namespace:    ns,
			IstioVersion: proxyVersion(pod),
			// The agent reports its DNS settings (nametable_test.go proxyMetadata):
			// with capture, istiod gives it ServiceEntries' auto-allocated VIPs.
			DNSCapture:      model.StringBool(proxyMetadata(is.w, pod, "ISTIO_META_DNS_CAPTURE")),
			DNSAutoAllocate: model.StringBool(proxyMetadata(is.w, pod, "ISTIO_META_DNS_AUTO_ALLOCATE")),
		},
	})
	sim := simulation.NewSimulation(is.t, is.s, p)
	sim.Routes = routesOnce(is.s, p, sim)
	eds := map[string]*endpoint.ClusterLoadAssignment{}
	for _, cla := range is.s.Endpoints(p) {
		eds[cla.ClusterName] = cla
	}
	sc := &sidecar{t: is.t, proxy: p, sim: sim, eds: eds}
	is.proxies[key] = sc
	return sc, nil
}

// routesOnce rebuilds the RDS of a proxy asking for each route name once, as
// Envoy does. The simulator's RoutesFromListeners passes duplicates (one per
// per-pod headless listener on an auto port) and the second build of the
// same name comes out empty (ISTIO-BEHAVIOR.md §11.1).
func routesOnce(s *xds.FakeDiscoveryServer, p *model.Proxy, sim *simulation.Simulation) []*route.RouteConfiguration {
	seen := map[string]bool{}
	var names []string
	for _, n := range core.ExtractRoutesFromListeners(sim.Listeners) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	res, _ := s.ConfigGen.BuildHTTPRoutes(p, &model.PushRequest{Push: s.PushContext()}, names)
	out := make([]*route.RouteConfiguration, 0, len(res))
	for _, r := range res {
		rc := &route.RouteConfiguration{}
		if err := r.Resource.UnmarshalTo(rc); err != nil {
			panic(err)
		}
		out = append(out, rc)
	}
	return out
}

// proxyVersion is the tag of the pod's istio-proxy image ("1.31.0"), as the
// agent reports ISTIO_VERSION to istiod.
func proxyVersion(pod map[string]any) string {
	spec, _ := pod["spec"].(map[string]any)
	for _, field := range []string{"containers", "initContainers"} {
		cs, _ := spec[field].([]any)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			if m["name"] != "istio-proxy" {
				continue
			}
			img, _ := m["image"].(string)
			if i := strings.LastIndex(img, ":"); i >= 0 && !strings.Contains(img[i:], "/") {
				return strings.TrimSuffix(strings.SplitN(img[i+1:], "-", 2)[0], "-distroless")
			}
		}
	}
	return ""
}

// outcome is what one request did, in the terms both sides are compared in.
type outcome struct {
	Listener       string
	FilterChain    string
	RouteConfig    string
	VirtualHost    string
	Cluster        string
	Weighted       string // "c1:w1,c2:w2"
	DirectResponse int
	Error          string // outbound: "no virtual host matched", "no route matched", …
	// Upstream: whether the landing endpoint is one of the cluster's EDS
	// endpoints (EDS clusters only; "" otherwise).
	Upstream string
	TLS      string // mtls | tls | plaintext | none
	SNI      string // what that TLS sends as server name

	InboundFilterChain string
	InboundCluster     string
	InboundAccepted    bool
	InboundError       string
}

// outbound runs the request through the source sidecar's listeners, routes
// and clusters with pilot/pkg/simulation, then reads the TLS the chosen
// cluster originates toward the landing endpoint from the cluster's
// transport socket (matches) and the endpoint's EDS metadata.
//
// A weighted route has no single cluster; the simulator reports none. The
// cluster we analyse must then be one of its weighted clusters, and TLS and
// endpoints are read for that one.
func (sc *sidecar) outbound(c simulation.Call, analysed, upstreamIP string, upstreamPort int) outcome {
	res := sc.sim.Run(c)
	o := outcome{
		Listener:    res.ListenerMatched,
		FilterChain: res.FilterChainMatched,
		RouteConfig: res.RouteConfigMatched,
		VirtualHost: res.VirtualHostMatched,
		Cluster:     res.ClusterMatched,
	}
	if res.Error != nil {
		o.Error = res.Error.Error()
		o.TLS = "none"
		return o
	}
	if res.RouteConfigMatched != "" || res.VirtualHostMatched != "" {
		if r := sc.findRoute(res, c.Path); r != nil {
			switch a := r.GetAction().(type) {
			case *route.Route_DirectResponse:
				o.DirectResponse = int(a.DirectResponse.GetStatus())
			case *route.Route_Redirect:
				o.DirectResponse = redirectCode(a.Redirect)
			case *route.Route_Route:
				if wc := a.Route.GetWeightedClusters(); wc != nil {
					var parts []string
					for _, c := range wc.Clusters {
						parts = append(parts, fmt.Sprintf("%s:%d", c.Name, c.GetWeight().GetValue()))
					}
					o.Weighted = strings.Join(parts, ",")
					for _, c := range wc.Clusters {
						if c.Name == analysed {
							o.Cluster = analysed
						}
					}
				}
			}
		}
	}
	if res.RouteConfigMatched == "" && res.ClusterMatched == "" {
		// tcp_proxy with weighted_clusters: the simulator reports no cluster.
		if wc := sc.tcpWeighted(res.ListenerMatched, res.FilterChainMatched); wc != nil {
			var parts []string
			for _, c := range wc.Clusters {
				parts = append(parts, fmt.Sprintf("%s:%d", c.Name, c.Weight))
				if c.Name == analysed {
					o.Cluster = analysed
				}
			}
			o.Weighted = strings.Join(parts, ",")
		}
	}
	o.TLS, o.SNI = sc.upstreamTLS(o.Cluster, upstreamIP, upstreamPort)
	if ep := sc.eds[o.Cluster]; ep != nil {
		o.Upstream = "not in EDS"
		if findEndpoint(ep, upstreamIP, upstreamPort) != nil {
			o.Upstream = "in EDS"
		}
		if countEndpoints(ep) == 0 {
			// An empty load assignment (e.g. a subset no pod matches): Envoy
			// answers 503 "no healthy upstream" itself, nothing leaves.
			o.Upstream, o.TLS = "", "none"
		}
	}
	return o
}

// tcpWeighted returns the weighted clusters of the tcp_proxy in the named
// filter chain of the named listener, if it has any.
func (sc *sidecar) tcpWeighted(listenerName, chainName string) *tcpproxy.TcpProxy_WeightedCluster {
	for _, l := range sc.sim.Listeners {
		if l.Name != listenerName {
			continue
		}
		chains := append([]*listener.FilterChain{l.DefaultFilterChain}, l.FilterChains...)
		for _, fc := range chains {
			if fc == nil || fc.Name != chainName {
				continue
			}
			if tp := xdstest.ExtractTCPProxy(sc.t, fc); tp != nil && tp.GetWeightedClusters() != nil {
				return tp.GetWeightedClusters()
			}
		}
	}
	return nil
}

func redirectCode(r *route.RedirectAction) int {
	switch r.GetResponseCode() {
	case route.RedirectAction_FOUND:
		return 302
	case route.RedirectAction_SEE_OTHER:
		return 303
	case route.RedirectAction_TEMPORARY_REDIRECT:
		return 307
	case route.RedirectAction_PERMANENT_REDIRECT:
		return 308
	}
	return 301
}

// findRoute returns the route the simulator matched. It reports the route's
// name only, and VirtualService routes without a name share the name "", so
// the route is found again the way the simulator picks it (matchRoute: the
// first route of the virtual host whose path matches).
func (sc *sidecar) findRoute(res simulation.Result, path string) *route.Route {
	if path == "" {
		path = "/"
	}
	for _, rc := range sc.sim.Routes {
		if rc.Name != res.RouteConfigMatched {
			continue
		}
		for _, vh := range rc.VirtualHosts {
			if vh.Name != res.VirtualHostMatched {
				continue
			}
			for _, r := range vh.Routes {
				if r.Name == res.RouteMatched && pathMatches(r.GetMatch(), path) {
					return r
				}
			}
		}
	}
	return nil
}

func pathMatches(m *route.RouteMatch, path string) bool {
	switch {
	case m.GetPath() != "":
		return m.GetPath() == path
	case m.GetPathSeparatedPrefix() != "":
		p := m.GetPathSeparatedPrefix()
		return path == p || strings.HasPrefix(path, p+"/")
	case m.GetSafeRegex() != nil:
		re, err := regexp.Compile("^(?:" + m.GetSafeRegex().GetRegex() + ")$")
		return err == nil && re.MatchString(path)
	}
	return strings.HasPrefix(path, m.GetPrefix())
}

func countEndpoints(cla *endpoint.ClusterLoadAssignment) int {
	n := 0
	for _, l := range cla.Endpoints {
		n += len(l.LbEndpoints)
	}
	return n
}

func findEndpoint(cla *endpoint.ClusterLoadAssignment, ip string, port int) *endpoint.LbEndpoint {
	for _, l := range cla.Endpoints {
		for _, e := range l.LbEndpoints {
			a := e.GetEndpoint().GetAddress().GetSocketAddress()
			if a.GetAddress() == ip && int(a.GetPortValue()) == port {
				return e
			}
		}
	}
	return nil
}

// upstreamTLS is what the cluster sends toward the endpoint ip:port, the way
// Envoy picks a transport socket: the first transport_socket_matches entry
// whose match is a subset of the endpoint's "envoy.transport_socket_match"
// metadata (istiod's EDS sets tlsMode there), else the cluster's own
// transport socket (cluster_builder.go / cluster_tls.go, Istio 1.31).
//
// sni is what that transport socket sends as server name (istiod sets
// outbound_.PORT_.SUBSET_.HOST for Istio mTLS).
func (sc *sidecar) upstreamTLS(name, ip string, port int) (tls, sni string) {
	switch name {
	case "":
		return "none", ""
	case util.BlackHoleCluster:
		return "none", ""
	case util.PassthroughCluster:
		return "plaintext", ""
	}
	var c *cluster.Cluster
	for _, cl := range sc.sim.Clusters {
		if cl.Name == name {
			c = cl
		}
	}
	if c == nil {
		return "none", "" // no such cluster: Envoy answers 503 NC itself
	}
	var meta *structpb.Struct
	cla := sc.eds[name]
	if cla == nil {
		cla = c.GetLoadAssignment()
	}
	if cla != nil {
		if ep := findEndpoint(cla, ip, port); ep != nil {
			meta = ep.GetMetadata().GetFilterMetadata()[util.EnvoyTransportSocketMetadataKey]
		}
	}
	for _, m := range c.TransportSocketMatches {
		if subset(m.GetMatch(), meta) {
			return socketTLS(m.GetTransportSocket().GetTypedConfig().GetTypeUrl(), m.GetTransportSocket().GetTypedConfig().GetValue())
		}
	}
	if ts := c.GetTransportSocket(); ts != nil {
		return socketTLS(ts.GetTypedConfig().GetTypeUrl(), ts.GetTypedConfig().GetValue())
	}
	return "plaintext", ""
}

func subset(match, meta *structpb.Struct) bool {
	for k, v := range match.GetFields() {
		got, ok := meta.GetFields()[k]
		if !ok || got.GetStringValue() != v.GetStringValue() {
			return false
		}
	}
	return true
}

// socketTLS classifies an upstream transport socket: Istio mTLS presents the
// workload certificate from SDS "default" (ISTIO_MUTUAL / auto mTLS); any
// other TLS context is a DestinationRule's SIMPLE or MUTUAL.
func socketTLS(typeURL string, value []byte) (tls, sni string) {
	if !strings.HasSuffix(typeURL, "UpstreamTlsContext") {
		return "plaintext", "" // raw_buffer
	}
	tc := &tlsv3.UpstreamTlsContext{}
	if err := proto.Unmarshal(value, tc); err != nil {
		return "tls", ""
	}
	certs := tc.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()
	if len(certs) > 0 && certs[0].GetName() == "default" {
		return "mtls", tc.GetSni()
	}
	return "tls", tc.GetSni()
}

// inboundOutcome is what the destination sidecar did with a request.
type inboundOutcome struct {
	FilterChain, Cluster string
	Accepted             bool
	Error                string
	// Chain is the filter chain the simulation matched (captured through
	// Call.CustomListenerValidations), nil when none matched.
	Chain *listener.FilterChain
}

// inbound sends the request the way it arrives on the destination sidecar
// (iptables → 15006) and reports the chain and cluster Envoy picks, or why
// it rejects it.
func (sc *sidecar) inbound(ip string, port int, proto simulation.Protocol, tls string, host string) inboundOutcome {
	var o inboundOutcome
	c := simulation.Call{Address: ip, Port: port, Protocol: proto, CallMode: simulation.CallModeInbound, HostHeader: host,
		CustomListenerValidations: []simulation.CustomFilterChainValidation{func(fc *listener.FilterChain) error {
			o.Chain = fc
			return nil
		}}}
	switch tls {
	case "mtls":
		c.TLS = simulation.MTLS
	case "tls":
		c.TLS = simulation.TLS
	default:
		c.TLS = simulation.Plaintext
	}
	res := sc.sim.Run(c)
	if res.Error != nil {
		o.Error = res.Error.Error()
		if !errors.Is(res.Error, simulation.ErrNoFilterChain) {
			o.FilterChain = res.FilterChainMatched
		}
		return o
	}
	o.FilterChain, o.Cluster, o.Accepted = res.FilterChainMatched, res.ClusterMatched, res.ClusterMatched != ""
	return o
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// parseConfigs is crd.ParseInputs (decode, convert, validate each object)
// except that, asIstiod, an object the validation rejects is kept as
// converted and named in rejected: istiod's informers never validate
// (pilot/pkg/config/kube/crdclient) and its decoder drops fields it does
// not know (istio.io/api *_json.gen.go AllowUnknownFields), so an object
// written through a newer API is served without them.
func parseConfigs(inputs string, asIstiod bool) (configs []config.Config, rejected []string, err error) {
	dec := kubeyaml.NewYAMLOrJSONDecoder(strings.NewReader(inputs), 512*1024)
	for {
		obj := crd.IstioKind{}
		if err := dec.Decode(&obj); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("cannot parse proto message: %v", err)
		}
		if reflect.DeepEqual(obj, crd.IstioKind{}) {
			continue
		}
		gvk := obj.GroupVersionKind()
		s, ok := collections.PilotGatewayAPI().FindByGroupVersionAliasesKind(resource.FromKubernetesGVK(&gvk))
		if !ok {
			continue
		}
		cfg, err := crd.ConvertObject(s, &obj, "")
		if err != nil {
			return nil, nil, fmt.Errorf("cannot parse proto message for %v: %v", obj.Name, err)
		}
		if _, err := s.ValidateConfig(*cfg); err != nil {
			if !asIstiod {
				return nil, nil, fmt.Errorf("configuration is invalid: %v", err)
			}
			rejected = append(rejected, fmt.Sprintf("%s %s/%s: validation rejects it (%s): istiod serves it as stored, without the fields it does not know",
				gvk.Kind, obj.Namespace, obj.Name, strings.Join(strings.Fields(err.Error()), " ")))
		}
		configs = append(configs, *cfg)
	}
	return configs, rejected, nil
}
