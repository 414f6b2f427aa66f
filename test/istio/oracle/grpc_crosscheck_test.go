package oracle

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	xdstype "github.com/cncf/xds/go/xds/type/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routepb "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbachttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	routerpb "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/authz/audit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestGRPCCrossCheck judges the evaluator against grpc-go's RBAC engine
// (gRFC A41), the one Envoy RBAC implementation importable from Go, behind
// its public face: a grpc-go xDS server (google.golang.org/grpc/xds), fed by
// a minimal ADS server a listener whose HTTP RBAC filter is one of istiod's
// own (read off the testdata worlds' inbound chains), called by a client
// from a chosen source address and, for Istio mTLS chains, with a
// certificate whose URI SAN is the caller's SPIFFE identity.
//
// What grpc-go cannot judge is left out, never approximated: policies with
// matchers it ignores or cannot see (uri_template, filter_state,
// requested_server_name, source_ip, metadata, destination_ip, CIDRs
// outside 10.0.0.0/8), paths with fewer than two segments (not a gRPC
// method), AUDIT (LOG) engines. grpc-go always sends :method POST, so both
// sides judge POST. Pod addresses 10.a.b.c become 127.a.b.c on both sides
// (source address and the policies' CIDRs alike), so a loopback client can
// carry them. Shadow rules (dry-run, CUSTOM) are judged as enforced rules.
func TestGRPCCrossCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	// The oracle's own worlds and the differential suite's authorization
	// worlds.
	files, err := filepath.Glob("testdata/authz-*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/authz-*.yaml: %v", err)
	}
	more, _ := filepath.Glob("../worlds/authz-*.yaml")
	files = append(files, more...)
	var groups []*crossGroup
	for _, f := range files {
		w, err := loadWorld(f)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, crossGroups(t, w)...)
	}
	pki := newTestPKI(t)
	ads := newADS(t)
	var judged, allow, deny, skipped, named int
	for gi, g := range groups {
		gAllow, gDeny := 0, 0
		addr := &net.TCPAddr{IP: net.IPv4(127, 200, byte(gi/250), byte(gi%250+1)), Port: int(g.port)}
		srv, err := ads.serve(t, pki, addr, g)
		if err != nil {
			t.Errorf("%s: grpc-go xDS server: %v", g.name, err)
			continue
		}
		for _, c := range g.cases {
			got, rule, err := c.callGRPC(pki, addr)
			if err != nil {
				t.Errorf("%s %s: %v", g.name, c.describe(), err)
				continue
			}
			want := c.engine.Action == rbacpb.RBAC_ALLOW && len(c.ours.Matched) > 0 ||
				c.engine.Action == rbacpb.RBAC_DENY && len(c.ours.Matched) == 0
			judged++
			if got {
				allow++
				gAllow++
			} else {
				deny++
				gDeny++
			}
			if rule != "" {
				named++
			}
			if got != want {
				t.Errorf("%s %s: grpc-go allows=%v, evaluator allows=%v (matched %v)", g.name, c.describe(), got, want, c.ours.Matched)
				continue
			}
			// grpc-go names one matching policy (its map order); it must be
			// one the evaluator found matching.
			if rule != "" && !slices.Contains(c.ours.Matched, rule) {
				t.Errorf("%s %s: grpc-go matched %s, evaluator matched %v", g.name, c.describe(), rule, c.ours.Matched)
			}
		}
		skipped += g.skipped
		srv.Stop()
		t.Logf("%-60s %2d policies (%d left out): %d allowed, %d denied", g.name, len(g.engine.GetPolicies()), g.skipped, gAllow, gDeny)
	}
	t.Logf("grpc-go cross-check: %d requests judged by both (%d allowed, %d denied; %d with the matched policy compared) over %d RBAC engines; %d policies left out (matchers grpc-go cannot judge)",
		judged, allow, deny, named, len(groups), skipped)
	if judged < 100 {
		t.Errorf("only %d requests judged by grpc-go; want ≥ 100", judged)
	}
}

// crossGroup is one RBAC engine of one inbound chain, and the requests both
// sides judge with it.
type crossGroup struct {
	name    string
	port    uint32
	tls     bool // the chain is Istio mTLS: clients present certificates
	engine  *rbacpb.RBAC
	skipped int // policies grpc-go cannot judge, left out
	cases   []*crossCase
}

type crossCase struct {
	engine *rbacpb.RBAC
	req    *rbacRequest
	ours   engineResult
}

func (c *crossCase) describe() string {
	s := "10." + strings.TrimPrefix(c.req.SourceIP.String(), "127.") // the pod's address
	if c.req.Principal != "" {
		s += " " + c.req.Principal
	}
	if c.req.HTTP {
		s += fmt.Sprintf(" POST %s%s", c.req.Headers[":authority"], c.req.Headers[":path"])
		for k, v := range c.req.Headers {
			if !strings.HasPrefix(k, ":") {
				s += fmt.Sprintf(" %s=%s", k, v)
			}
		}
	}
	return s
}

// crossGroups reads every sidecar's inbound chains in the world and pairs
// each RBAC engine with the requests the world's pods could send: every pod
// as a plaintext caller (mTLS chains: every sidecar pod with its identity),
// with each Host, path and header set of the world's URL queries.
func crossGroups(t *testing.T, w *world) []*crossGroup {
	is := newIstio(t, w)
	type caller struct {
		ip        net.IP
		principal string
	}
	var plain, mtls []caller
	td := w.Mesh.GetTrustDomain()
	var podKeys []string
	for k := range w.Pods {
		if strings.Contains(k, "/") {
			podKeys = append(podKeys, k)
		}
	}
	sort.Strings(podKeys)
	var sidecars []string
	for _, k := range podKeys {
		pod := w.Pods[k]
		st, _ := pod["status"].(map[string]any)
		ip := net.ParseIP(fmt.Sprint(st["podIP"]))
		plain = append(plain, caller{ip: ip})
		if proxyVersion(pod) != "" {
			ns, _, _ := strings.Cut(k, "/")
			mtls = append(mtls, caller{ip: ip, principal: fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", td, ns, serviceAccount(pod))})
			sidecars = append(sidecars, k)
		}
	}
	type httpReq struct {
		host, path string
		headers    map[string]string
	}
	var reqs []httpReq
	seen := map[string]bool{}
	for _, q := range w.Queries {
		if len(q) < 2 || !strings.HasPrefix(q[1], "http://") {
			continue
		}
		u, err := url.Parse(q[1])
		if err != nil || u.RawQuery != "" {
			continue
		}
		_, headers := queryRequest(q)
		// A gRPC method is /service/method: shorter paths get a segment.
		path := u.Path
		if path == "" || path == "/" {
			path = "/root"
		}
		if strings.Count(path, "/") < 2 || strings.HasSuffix(path, "/") {
			path = strings.TrimSuffix(path, "/") + "/sub"
		}
		key := fmt.Sprint(u.Host, path, headers)
		if !seen[key] {
			seen[key] = true
			reqs = append(reqs, httpReq{u.Host, path, headers})
		}
	}

	var groups []*crossGroup
	done := map[string]bool{} // the same engine on another pod's same port judges the same requests
	for _, key := range sidecars {
		sc, err := is.sidecarFor(key)
		if err != nil {
			t.Fatal(err)
		}
		podIP := net.ParseIP(sc.proxy.IPAddresses[0])
		for _, l := range sc.sim.Listeners {
			if l.GetName() != "virtualInbound" {
				continue
			}
			for _, fc := range l.GetFilterChains() {
				port := fc.GetFilterChainMatch().GetDestinationPort().GetValue()
				if port == 0 {
					continue
				}
				chain, err := authzOf(fc)
				if err != nil {
					t.Fatal(err)
				}
				tlsChain := fc.GetTransportSocket() != nil
				for _, f := range chain.Filters {
					for _, e := range []*rbacpb.RBAC{f.Rules, f.Shadow} {
						if e == nil || e.GetAction() == rbacpb.RBAC_LOG {
							continue
						}
						judgeable, skipped := grpcJudgeable(e)
						b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(judgeable)
						id := fmt.Sprint(port, tlsChain, chain.HTTP, string(b))
						if done[id] {
							continue
						}
						done[id] = true
						g := &crossGroup{name: fmt.Sprintf("%s %s:%d %s(%s)", w.Name, key, port, proto3Kind(chain.HTTP, tlsChain), e.GetAction()),
							port: port, tls: tlsChain, engine: judgeable, skipped: skipped}
						callers := plain
						if tlsChain {
							callers = mtls
						}
						for _, c := range callers {
							src := loopback(c.ip) // as the judgeable engine's CIDRs
							base := rbacRequest{HTTP: chain.HTTP, SourceIP: src, RemoteIP: src, DestIP: podIP, DestPort: port,
								Principal: c.principal, TLS: tlsChain}
							variants := reqs
							if !chain.HTTP {
								variants = []httpReq{{host: "tcp", path: "/tcp/x"}}
							}
							for _, hr := range variants {
								r := base
								r.Headers = map[string]string{":authority": hr.host, ":method": "POST", ":path": hr.path}
								for k, v := range hr.headers {
									r.Headers[k] = v
								}
								ours, err := r.engine(judgeable)
								if err != nil {
									t.Fatal(err)
								}
								if len(ours.Maybe) > 0 {
									continue
								}
								g.cases = append(g.cases, &crossCase{engine: judgeable, req: &r, ours: ours})
							}
						}
						groups = append(groups, g)
					}
				}
			}
		}
	}
	return groups
}

func proto3Kind(http, tls bool) string {
	s := "tcp"
	if http {
		s = "http"
	}
	if tls {
		s += "+mtls"
	}
	return s
}

// grpcJudgeable keeps the policies grpc-go can judge like Envoy, with pod
// CIDRs moved from 10.0.0.0/8 to 127.0.0.0/8.
func grpcJudgeable(e *rbacpb.RBAC) (*rbacpb.RBAC, int) {
	out := &rbacpb.RBAC{Action: e.GetAction(), Policies: map[string]*rbacpb.Policy{}}
	skipped := 0
	for name, p := range e.GetPolicies() {
		p = proto.Clone(p).(*rbacpb.Policy)
		ok := true
		for _, pm := range p.GetPermissions() {
			ok = ok && permissionJudgeable(pm)
		}
		for _, pr := range p.GetPrincipals() {
			ok = ok && principalJudgeable(pr)
		}
		if !ok {
			skipped++
			continue
		}
		out.Policies[name] = p
	}
	return out, skipped
}

func permissionJudgeable(p *rbacpb.Permission) bool {
	switch r := p.GetRule().(type) {
	case *rbacpb.Permission_Any, *rbacpb.Permission_Header, *rbacpb.Permission_UrlPath, *rbacpb.Permission_DestinationPort:
		return true
	case *rbacpb.Permission_AndRules:
		return all(r.AndRules.GetRules(), permissionJudgeable)
	case *rbacpb.Permission_OrRules:
		return all(r.OrRules.GetRules(), permissionJudgeable)
	case *rbacpb.Permission_NotRule:
		return permissionJudgeable(r.NotRule)
	}
	return false
}

func principalJudgeable(p *rbacpb.Principal) bool {
	switch id := p.GetIdentifier().(type) {
	case *rbacpb.Principal_Any, *rbacpb.Principal_Authenticated_, *rbacpb.Principal_Header, *rbacpb.Principal_UrlPath:
		return true
	case *rbacpb.Principal_DirectRemoteIp:
		return toLoopback(id.DirectRemoteIp)
	case *rbacpb.Principal_RemoteIp:
		return toLoopback(id.RemoteIp)
	case *rbacpb.Principal_AndIds:
		return all(id.AndIds.GetIds(), principalJudgeable)
	case *rbacpb.Principal_OrIds:
		return all(id.OrIds.GetIds(), principalJudgeable)
	case *rbacpb.Principal_NotId:
		return principalJudgeable(id.NotId)
	}
	return false
}

func all[M any](ms []M, f func(M) bool) bool {
	for _, m := range ms {
		if !f(m) {
			return false
		}
	}
	return true
}

// toLoopback moves a CIDR of 10.0.0.0/8 (prefix ≥ 8) to 127.0.0.0/8.
func toLoopback(c *core.CidrRange) bool {
	ip := net.ParseIP(c.GetAddressPrefix()).To4()
	if ip == nil || ip[0] != 10 || c.GetPrefixLen().GetValue() < 8 {
		return false
	}
	ip[0] = 127
	c.AddressPrefix = ip.String()
	return true
}

func loopback(ip net.IP) net.IP {
	v4 := append(net.IP(nil), ip.To4()...)
	v4[0] = 127
	return v4
}

// callGRPC sends the case's request to the grpc-go server at addr and
// reports whether RBAC let it through, and the policy grpc-go matched.
func (c *crossCase) callGRPC(pki *testPKI, addr *net.TCPAddr) (allowed bool, rule string, err error) {
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if c.req.TLS {
		cert, err := pki.client(c.req.Principal)
		if err != nil {
			return false, "", err
		}
		// The server's identity is not under test: the client presents
		// its workload certificate and sends the request's :authority.
		creds = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true})
	}
	src := &net.TCPAddr{IP: c.req.SourceIP}
	dialer := func(ctx context.Context, a string) (net.Conn, error) {
		return (&net.Dialer{LocalAddr: src}).DialContext(ctx, "tcp", a)
	}
	authority := "tcp"
	if c.req.HTTP {
		authority = c.req.Headers[":authority"]
	}
	conn, err := grpc.NewClient("passthrough:///"+addr.String(), grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(dialer), grpc.WithAuthority(authority))
	if err != nil {
		return false, "", err
	}
	defer conn.Close()
	var md []string
	for k, v := range c.req.Headers {
		if !strings.HasPrefix(k, ":") {
			md = append(md, k, v)
		}
	}
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), md...), 10*time.Second)
	defer cancel()
	auditLog.drain()
	path := "/tcp/x"
	if c.req.HTTP {
		path = c.req.Headers[":path"]
	}
	err = conn.Invoke(ctx, path, &emptypb.Empty{}, &emptypb.Empty{}, grpc.WaitForReady(true))
	ev := auditLog.last()
	switch status.Code(err) {
	case codes.OK:
		return true, ev.MatchedRule, nil
	case codes.PermissionDenied:
		return false, ev.MatchedRule, nil
	}
	return false, "", err
}

// auditLog collects grpc-go's RBAC audit events (the policy it matched).
var auditLog = &auditRecorder{}

type auditRecorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditRecorder) Log(e *audit.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, *e)
}

func (a *auditRecorder) drain() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = nil
}

func (a *auditRecorder) last() audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) == 0 {
		return audit.Event{}
	}
	return a.events[len(a.events)-1]
}

type auditBuilder struct{}
type auditConfig struct{ audit.LoggerConfig }

func (auditBuilder) ParseLoggerConfig(json.RawMessage) (audit.LoggerConfig, error) {
	return auditConfig{}, nil
}
func (auditBuilder) Build(audit.LoggerConfig) audit.Logger { return auditLog }
func (auditBuilder) Name() string                          { return "podreach_oracle" }

func init() { audit.RegisterLoggerBuilder(auditBuilder{}) }

// ads is a minimal state-of-the-world ADS server: it answers every
// listener request with the listeners registered under the names asked for.
type ads struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	addr      string
	mu        sync.Mutex
	listeners map[string]*listener.Listener
	nacks     map[string]string
}

const listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"

func newADS(t *testing.T) *ads {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &ads{addr: lis.Addr().String(), listeners: map[string]*listener.Listener{}, nacks: map[string]string{}}
	s := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(s, a)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return a
}

func (a *ads) StreamAggregatedResources(stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	nonce := 0
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if req.GetTypeUrl() != listenerType {
			continue
		}
		if d := req.GetErrorDetail(); d != nil {
			a.mu.Lock()
			for _, n := range req.GetResourceNames() {
				a.nacks[n] = d.GetMessage()
			}
			a.mu.Unlock()
			continue
		}
		if req.GetResponseNonce() != "" && req.GetResponseNonce() == fmt.Sprint(nonce) {
			continue // ACK
		}
		nonce++
		resp := &discovery.DiscoveryResponse{TypeUrl: listenerType, VersionInfo: fmt.Sprint(nonce), Nonce: fmt.Sprint(nonce)}
		a.mu.Lock()
		for _, n := range req.GetResourceNames() {
			if l := a.listeners[n]; l != nil {
				anyL, _ := anypb.New(l)
				resp.Resources = append(resp.Resources, anyL)
			}
		}
		a.mu.Unlock()
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

const listenerTemplate = "podreach/server?address=%s"

// serve starts a grpc-go xDS server on addr whose listener carries the
// group's RBAC engine, and waits until it serves.
func (a *ads) serve(t *testing.T, pki *testPKI, addr *net.TCPAddr, g *crossGroup) (*xds.GRPCServer, error) {
	name := fmt.Sprintf(listenerTemplate, addr.String())
	rules := proto.Clone(g.engine).(*rbacpb.RBAC)
	rules.AuditLoggingOptions = &rbacpb.RBAC_AuditLoggingOptions{
		AuditCondition: rbacpb.RBAC_AuditLoggingOptions_ON_DENY_AND_ALLOW,
		LoggerConfigs: []*rbacpb.RBAC_AuditLoggingOptions_AuditLoggerConfig{{AuditLogger: &core.TypedExtensionConfig{
			Name: "podreach_oracle", TypedConfig: mustAny(&xdstype.TypedStruct{TypeUrl: "podreach.test/podreach_oracle"}),
		}}},
	}
	manager := &hcm.HttpConnectionManager{
		RouteSpecifier: &hcm.HttpConnectionManager_RouteConfig{RouteConfig: &routepb.RouteConfiguration{
			Name: "oracle",
			VirtualHosts: []*routepb.VirtualHost{{Name: "oracle", Domains: []string{"*"}, Routes: []*routepb.Route{{
				Match:  &routepb.RouteMatch{PathSpecifier: &routepb.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routepb.Route_NonForwardingAction{NonForwardingAction: &routepb.NonForwardingAction{}},
			}}}},
		}},
		HttpFilters: []*hcm.HttpFilter{
			{Name: "envoy.filters.http.rbac", ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&rbachttp.RBAC{Rules: rules})}},
			{Name: "envoy.filters.http.router", ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerpb.Router{})}},
		},
	}
	fc := &listener.FilterChain{Name: "oracle", Filters: []*listener.Filter{{
		Name: "envoy.filters.network.http_connection_manager", ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(manager)},
	}}}
	if g.tls {
		provider := &tlsv3.CertificateProviderPluginInstance{InstanceName: "oracle"}
		fc.TransportSocket = &core.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &core.TransportSocket_TypedConfig{
			TypedConfig: mustAny(&tlsv3.DownstreamTlsContext{
				RequireClientCertificate: wrapperspb.Bool(true),
				CommonTlsContext: &tlsv3.CommonTlsContext{
					TlsCertificateProviderInstance: provider,
					ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
						CaCertificateProviderInstance: provider,
					}},
				},
			}),
		}}
	}
	a.mu.Lock()
	a.listeners[name] = &listener.Listener{
		Name: name,
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: addr.IP.String(), PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(addr.Port)},
		}}},
		FilterChains: []*listener.FilterChain{fc},
	}
	a.mu.Unlock()

	creds, err := xdscreds.NewServerCredentials(xdscreds.ServerOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		return nil, err
	}
	serving := make(chan error, 1)
	srv, err := xds.NewGRPCServer(grpc.Creds(creds), xds.BootstrapContentsForTesting(pki.bootstrap(a.addr)),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			m := &emptypb.Empty{}
			if err := stream.RecvMsg(m); err != nil {
				return err
			}
			return stream.SendMsg(m)
		}),
		xds.ServingModeCallback(func(_ net.Addr, args xds.ServingModeChangeArgs) {
			var err error
			if args.Mode != connectivity.ServingModeServing {
				err = fmt.Errorf("not serving: %v", args.Err)
			}
			select {
			case serving <- err:
			default:
			}
		}))
	if err != nil {
		return nil, err
	}
	lis, err := net.ListenTCP("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() { _ = srv.Serve(lis) }()
	select {
	case err = <-serving:
	case <-time.After(10 * time.Second):
		err = errors.New("no serving mode in 10s")
	}
	if err != nil {
		srv.Stop()
		a.mu.Lock()
		nack := a.nacks[name]
		a.mu.Unlock()
		return nil, fmt.Errorf("%v (NACK: %q)", err, nack)
	}
	return srv, nil
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// testPKI is a CA, a server certificate for the grpc-go server (through its
// file_watcher certificate provider) and client certificates whose URI SAN
// is a SPIFFE identity, as Istio's workload certificates carry.
type testPKI struct {
	dir     string
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	clients map[string]tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	p := &testPKI{dir: t.TempDir(), clients: map[string]tls.Certificate{}}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "podreach oracle CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caKey = key
	certPEM, keyPEM, err := p.issue(&x509.Certificate{DNSNames: []string{"server.oracle"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"ca.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), "cert.pem": certPEM, "key.pem": keyPEM,
	} {
		if err := os.WriteFile(filepath.Join(p.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

var serial int64 = 1

func (p *testPKI) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// client is a workload certificate for a SPIFFE identity.
func (p *testPKI) client(principal string) (tls.Certificate, error) {
	if c, ok := p.clients[principal]; ok {
		return c, nil
	}
	u, err := url.Parse(principal)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM, keyPEM, err := p.issue(&x509.Certificate{URIs: []*url.URL{u}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil {
		p.clients[principal] = c
	}
	return c, err
}

// bootstrap is the grpc-go xDS bootstrap: the ADS server on loopback and
// the file_watcher certificate provider "oracle".
func (p *testPKI) bootstrap(adsAddr string) []byte {
	b, _ := json.Marshal(map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri": adsAddr, "channel_creds": []any{map[string]any{"type": "insecure"}}, "server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{"id": "podreach-oracle"},
		"certificate_providers": map[string]any{"oracle": map[string]any{
			"plugin_name": "file_watcher",
			"config": map[string]any{
				"certificate_file":    filepath.Join(p.dir, "cert.pem"),
				"private_key_file":    filepath.Join(p.dir, "key.pem"),
				"ca_certificate_file": filepath.Join(p.dir, "ca.pem"),
				"refresh_interval":    "600s",
			},
		}},
		"server_listener_resource_name_template": listenerTemplate,
	})
	return b
}
