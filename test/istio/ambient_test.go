package istiodiff

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pkg/test"
	"istio.io/istio/pkg/workloadapi"

	"github.com/podreach/kubectl-podreach/test/istio/oracle"
)

// ambientWorlds are the worlds TestAmbient reads: every world with a pod or
// namespace in ambient mode among the examples, test/istio's worlds and the
// ztunnel test cases' worlds (test/ztunnel/worlds).
var ambientWorlds = []string{"../../examples/*.yaml", "worlds/*.yaml", "../ztunnel/worlds/*.yaml"}

// TestAmbient compares podreach's ambient answers with what Istio 1.31's
// istiod sends ztunnel (the ambient index: Workloads, Services,
// Authorizations), with ztunnel's outbound choice (src/proxy/outbound.rs
// build_request) and its L4 authorization (src/rbac.rs, src/state.rs
// assert_rbac) transcribed in Go over that index.
func TestAmbient(t *testing.T) {
	// pilot/pkg/xds/workload_test.go turns ambient on for the whole package;
	// here it is on for this test only (the sidecar differential runs without).
	test.SetForTest(t, &features.EnableAmbient, true)
	files, err := oracle.WorldFiles(ambientWorlds)
	if err != nil {
		t.Fatal(err)
	}
	var worlds, compared, agreed int
	for _, f := range files {
		w, err := oracle.LoadWorld(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if !isAmbientWorld(w) {
			continue
		}
		worlds++
		t.Run(w.Name, func(t *testing.T) {
			ix := newAmbientIndex(t, w)
			for _, q := range w.Queries {
				for _, raw := range oracle.RunPluginJSON(t, w, q) {
					var rep report
					if err := json.Unmarshal(raw, &rep); err != nil {
						t.Errorf("%s | %s: decoding: %v", w.Name, strings.Join(q, " "), err)
						continue
					}
					workloadDiffs := ix.compareWorkloads(rep)
					for i, r := range rep.Requests {
						c := ix.compareRequest(rep, r, q)
						if i == 0 {
							c.diffs = append(workloadDiffs, c.diffs...)
							c.ok = c.ok || len(workloadDiffs) > 0
						}
						if !c.ok {
							continue
						}
						compared++
						if len(c.diffs) == 0 {
							agreed++
							continue
						}
						what := fmt.Sprintf("%s | %s | %s:%d (%s)", w.Name, strings.Join(q, " "), r.Address, r.Port, r.Traffic)
						for _, d := range c.diffs {
							t.Errorf("%s | %s: ours %q, Istio %q", what, d.field, d.ours, d.istio)
						}
					}
				}
			}
		})
	}
	fmt.Printf("ambient: %d requests in %d worlds agree (%d compared); Istio %s, ztunnel 1.31.0-rc.0\n", agreed, worlds, compared, IstioVersion)
	if worlds < 10 || compared < 150 {
		t.Errorf("ambient: only %d worlds / %d requests compared; want ≥ 10 / ≥ 150", worlds, compared)
	}
}

// isAmbientWorld: some pod or namespace asks for ambient, or the CNI
// enrolled a pod.
func isAmbientWorld(w *oracle.World) bool {
	return strings.Contains(w.KubeYAML, "istio.io/dataplane-mode: ambient") ||
		strings.Contains(w.KubeYAML, "ambient.istio.io/redirection")
}

// report is the part of podreach's report the ambient comparison reads
// (pkg/api/v1alpha1, /work/ambient-contract.md), decoded on its own so this
// test does not depend on the Go types' evolution.
type report struct {
	Source      workload  `json:"source"`
	Destination *workload `json:"destination"`
	Requests    []request `json:"requests"`
}

type workload struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	IP        string `json:"ip"`
	Dataplane string `json:"dataplane"`
	Ambient   *struct {
		Waypoint        string `json:"waypoint"`
		WaypointUnknown bool   `json:"waypointUnknown"`
		TunnelProtocol  string `json:"tunnelProtocol"`
		Identity        string `json:"identity"`
	} `json:"ambient"`
}

type authorization struct {
	Decision string `json:"decision"`
	Policy   string `json:"policy"`
}

type request struct {
	Address  string `json:"address"`
	Port     uint32 `json:"port"`
	Traffic  string `json:"traffic"`
	Host     string `json:"host"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	DialedIP string `json:"dialedIP"`
	Verdict  string `json:"verdict"`
	TLS      string `json:"tls"`
	Upstream *struct {
		Pod  string `json:"pod"`
		IP   string `json:"ip"`
		Port uint32 `json:"port"`
	} `json:"upstream"`
	Inbound *struct {
		Pod           string         `json:"pod"`
		Port          uint32         `json:"port"`
		Authorization *authorization `json:"authorization"`
	} `json:"inbound"`
	Ambient *struct {
		Path                  string         `json:"path"`
		Waypoint              string         `json:"waypoint"`
		ServiceWaypoint       string         `json:"serviceWaypoint"`
		BypassedWaypoint      string         `json:"bypassedWaypoint"`
		WaypointRoute         string         `json:"waypointRoute"`
		WaypointCluster       string         `json:"waypointCluster"`
		WaypointAuthorization *authorization `json:"waypointAuthorization"`
	} `json:"ambient"`
}

type fieldDiff struct{ field, ours, istio string }

type comparison struct {
	diffs []fieldDiff
	ok    bool // something was compared
}

func (c *comparison) add(field string, ours, istio any) {
	c.ok = true
	o, i := fmt.Sprint(ours), fmt.Sprint(istio)
	if o != i {
		c.diffs = append(c.diffs, fieldDiff{field, o, i})
	}
}

// compareWorkloads checks the source's and the destination's ambient
// object against istiod's Workload for the pod: its waypoint
// (Workload.waypoint), tunnel protocol and identity.
func (ix *ambientIndex) compareWorkloads(rep report) []fieldDiff {
	var c comparison
	for _, side := range []struct {
		name string
		w    *workload
	}{{"source", &rep.Source}, {"destination", rep.Destination}} {
		if side.w == nil || side.w.Name == "" {
			continue
		}
		wl := ix.workloads[side.w.Namespace+"/"+side.w.Name]
		if wl == nil {
			continue // not a pod (a Service destination, a URL)
		}
		if side.w.Ambient == nil && wl.GetNativeTunnel() {
			continue // a sidecar that takes HBONE itself: not ambient, no object (contract)
		}
		if side.w.Ambient == nil {
			// No ambient object: podreach says neither selected nor
			// redirected; istiod must not send it as HBONE either.
			c.add(side.name+".ambient.tunnelProtocol", "NONE (no ambient object)", tunnelName(wl)+map[bool]string{true: "", false: " (no ambient object)"}[tunnelName(wl) == "HBONE"])
			continue
		}
		a := side.w.Ambient
		c.add(side.name+".ambient.tunnelProtocol", a.TunnelProtocol, tunnelName(wl))
		if !a.WaypointUnknown {
			c.add(side.name+".ambient.waypoint", a.Waypoint, ix.waypointName(wl.GetWaypoint()))
		}
		if a.Identity != "" {
			c.add(side.name+".ambient.identity", a.Identity, identity(wl).String())
		}
	}
	return c.diffs
}

func tunnelName(wl *workloadapi.Workload) string {
	if wl.GetTunnelProtocol() == workloadapi.TunnelProtocol_HBONE {
		return "HBONE"
	}
	return "NONE"
}

// expected is the Istio side of one request.
type expected struct {
	path, waypoint  string
	serviceWaypoint string
	comparePath     bool
	noUpstream      bool // the Service has no endpoint for the port
	waypointPod     *workloadapi.Workload
	svc             *workloadapi.Service
	// the connection the destination's ztunnel authorizes, when it is one
	dst   *workloadapi.Workload
	conn  ztunnelConn
	authz bool
}

// compareRequest derives the request's ambient path from istiod's index
// the way ztunnel's outbound does, then ztunnel's inbound authorization on
// the destination, and compares both with podreach's answer.
func (ix *ambientIndex) compareRequest(rep report, r request, query []string) comparison {
	var c comparison
	dialed, err := netip.ParseAddr(r.DialedIP)
	if err != nil {
		return c // nothing dialed (a DNS failure): no ztunnel decision
	}
	src := ix.workloads[rep.Source.Namespace+"/"+rep.Source.Name]
	if src == nil {
		return c
	}
	e, why := ix.expect(rep, r, src, dialed)
	if why != "" {
		c.add("istio side", "", why)
		return c
	}
	oursPath, oursWaypoint, oursSvcWaypoint := "", "", ""
	if r.Ambient != nil {
		oursPath, oursWaypoint, oursSvcWaypoint = r.Ambient.Path, r.Ambient.Waypoint, r.Ambient.ServiceWaypoint
	}
	if e.noUpstream {
		c.add("requests[].verdict", r.Verdict, "fails")
	}
	if e.comparePath {
		c.add("requests[].ambient.path", oursPath, e.path)
		c.add("requests[].ambient.waypoint", oursWaypoint, e.waypoint)
		// HBONE is mTLS with the sender's certificate; the other paths
		// carry the application's bytes as they are.
		switch e.path {
		case "hbone", "waypoint":
			c.add("requests[].tls", r.TLS, "mtls")
		case "tcp", "passthrough", "inbound-only":
			c.add("requests[].tls", r.TLS, "plaintext")
		}
	}
	if e.serviceWaypoint != "" || r.Ambient != nil {
		c.add("requests[].ambient.serviceWaypoint", oursSvcWaypoint, e.serviceWaypoint)
	}
	if e.path == "waypoint" && e.waypointPod != nil {
		hop := ix.waypointHop(rep, r, query, e, src, srcIP(rep, src))
		var oursRoute, oursCluster string
		var oursAuthz *authorization
		if r.Ambient != nil {
			oursRoute, oursCluster, oursAuthz = r.Ambient.WaypointRoute, r.Ambient.WaypointCluster, r.Ambient.WaypointAuthorization
		}
		if hop.Error != "" {
			c.add("waypoint (Istio)", "", hop.Error)
		} else {
			c.add("requests[].ambient.waypointRoute", oursRoute, hop.Route)
			c.add("requests[].ambient.waypointCluster", oursCluster, hop.Cluster)
			if oursAuthz == nil {
				oursAuthz = &authorization{Decision: "(none)"}
			}
			c.add("requests[].ambient.waypointAuthorization.decision", oursAuthz.Decision, hop.Decision)
			if !policyNamed(oursAuthz.Policy, hop.Policies) {
				c.add("requests[].ambient.waypointAuthorization.policy", oursAuthz.Policy, strings.Join(hop.Policies, " | "))
			}
			if hop.Decision == "deny" {
				// The waypoint answers 403 itself: nothing reaches the
				// destination's ztunnel.
				e.authz = false
				if r.Inbound != nil && r.Inbound.Authorization != nil {
					c.add("inbound.authorization.decision", r.Inbound.Authorization.Decision, "(not reached: the waypoint denies)")
				}
			}
		}
	}
	if e.authz {
		res := assertRBAC(ix.policiesFor(e.dst), e.conn)
		var ours authorization
		if r.Inbound != nil && r.Inbound.Authorization != nil {
			ours = *r.Inbound.Authorization
		}
		want := map[bool]string{true: "allow", false: "deny"}[res.allow]
		c.ok = true
		if ours.Decision != want {
			c.diffs = append(c.diffs, fieldDiff{"inbound.authorization.decision", ours.Decision, want + " for " + e.conn.String()})
		}
		if !policyNamed(ours.Policy, res.candidates) {
			c.add("inbound.authorization.policy", ours.Policy, strings.Join(res.candidates, " | "))
		}
	}
	return c
}

// policyNamed: ztunnel names one of the matching policies (hash order);
// "" when none decided. The static STRICT policy may be named without its
// root namespace (/work/ambient-contract.md).
func policyNamed(ours string, candidates []string) bool {
	if len(candidates) == 0 {
		return ours == ""
	}
	for _, k := range candidates {
		if ours == k || (strings.HasSuffix(k, "/istio_converted_static_strict") && ours == "istio_converted_static_strict") {
			return true
		}
	}
	return false
}

func (c ztunnelConn) String() string {
	id := "plaintext"
	if c.identity != nil {
		id = c.identity.String()
	}
	return fmt.Sprintf("%s(%s)->%s", c.src, id, c.dst)
}

// expect is the Istio side of one request, or why it cannot be derived.
func (ix *ambientIndex) expect(rep report, r request, src *workloadapi.Workload, dialed netip.Addr) (expected, string) {
	var e expected
	svc := ix.services[dialed]
	if svc != nil {
		e.serviceWaypoint = ix.waypointName(svc.GetWaypoint())
	}
	srcIP := srcIP(rep, src)
	// The workload (and port) the connection lands on.
	var dst *workloadapi.Workload
	var dstPort uint32
	if svc != nil {
		eps := ix.endpoints(svc, r.Port)
		if len(eps) == 0 {
			if svc.GetLoadBalancing().GetMode() == workloadapi.LoadBalancing_PASSTHROUGH {
				return e, "" // OriginalDestination: not derived here
			}
			if inZtunnel(src) && e.serviceWaypoint == "" {
				// outbound.rs build_request: Error::NoHealthyUpstream, no
				// connection: no path, the request fails.
				e.comparePath, e.noUpstream = true, true
			}
			return e, ""
		}
		dst, dstPort = pickEndpoint(eps, r)
		if dst == nil {
			return e, fmt.Sprintf("podreach's upstream %v is not one of the Service's %d endpoints in istiod's index", r.Upstream, len(eps))
		}
	} else if wl := ix.byIP[dialed]; wl != nil {
		dst, dstPort = wl, r.Port
	}

	switch {
	case inZtunnel(src):
		// outbound.rs build_request.
		e.comparePath = true
		switch {
		case svc != nil && svc.GetWaypoint() != nil:
			e.path, e.waypoint = "waypoint", e.serviceWaypoint
		case dst == nil:
			e.path = "passthrough"
		case svc == nil && dst.GetWaypoint() != nil && !ix.isWaypointOf(src, dst):
			e.path, e.waypoint = "waypoint", ix.waypointName(dst.GetWaypoint())
		case dst.GetTunnelProtocol() == workloadapi.TunnelProtocol_HBONE:
			e.path = "hbone"
		default:
			e.path = "tcp"
		}
		if e.path == "waypoint" {
			// The waypoint forwards to the destination with its own
			// identity; ztunnel there authorizes the waypoint.
			wp := ix.waypointPod(e.waypoint)
			e.waypointPod, e.svc = wp, svc
			if wp != nil && inZtunnel(dst) {
				e.dst, e.authz = dst, true
				e.conn = ztunnelConn{src: netip.AddrPortFrom(firstIP(wp), 0), dst: netip.AddrPortFrom(firstIP(dst), uint16(dstPort)), identity: identity(wp)}
			}
		} else if e.path == "hbone" && inZtunnel(dst) {
			e.dst, e.authz = dst, true
			e.conn = ztunnelConn{src: netip.AddrPortFrom(srcIP, 0), dst: netip.AddrPortFrom(firstIP(dst), uint16(dstPort)), identity: identity(src)}
		}
	case rep.Source.Dataplane == "sidecar":
		// The sidecar's own Envoy decides: istiod's listeners, routes,
		// clusters and EDS for it (ambient on) through pilot/pkg/simulation.
		// It never sends to a waypoint (endpoint_builder.go: "We
		// intentionally do not take into account waypoints here"); it sends
		// HBONE when the endpoint it lands on carries the tunnel metadata,
		// plaintext otherwise (a pod IP through PassthroughCluster).
		if dst == nil || !inZtunnel(dst) {
			break
		}
		proto := simulation.TCP
		if r.Traffic == "http" {
			proto = simulation.HTTP
		}
		hop, err := oracle.SidecarSends(ix.t, ix.s, ix.w, rep.Source.Namespace+"/"+rep.Source.Name,
			simulation.Call{Address: r.DialedIP, Port: int(r.Port), Protocol: proto, HostHeader: r.Host, Path: r.Path},
			firstIP(dst).String(), int(dstPort))
		if err != nil {
			return e, err.Error()
		}
		if hop.Error != "" || hop.Cluster == "" || hop.Cluster == "BlackHoleCluster" {
			break // the sidecar sends nothing: no ztunnel on the path
		}
		e.comparePath, e.dst, e.authz = true, dst, true
		e.conn = ztunnelConn{src: netip.AddrPortFrom(srcIP, 0), dst: netip.AddrPortFrom(firstIP(dst), uint16(dstPort))}
		e.path = "inbound-only"
		if hop.HBONE {
			e.path, e.conn.identity = "hbone", identity(src)
		}
	default:
		// Not in the mesh: plaintext; the destination's ztunnel takes it
		// in (inbound_passthrough.rs) without identity.
		if dst != nil && inZtunnel(dst) {
			e.comparePath, e.path = true, "inbound-only"
			e.dst, e.authz = dst, true
			e.conn = ztunnelConn{src: netip.AddrPortFrom(srcIP, 0), dst: netip.AddrPortFrom(firstIP(dst), uint16(dstPort))}
		}
	}
	return e, ""
}

// isWaypointOf: the source is the destination's waypoint (outbound.rs
// check_from_waypoint: do not traverse the waypoint twice).
func (ix *ambientIndex) isWaypointOf(src, dst *workloadapi.Workload) bool {
	wp := ix.waypointPod(ix.waypointName(dst.GetWaypoint()))
	return wp != nil && wp.GetUid() == src.GetUid()
}

// pickEndpoint is the endpoint ztunnel would pick: it picks at random per
// connection (load_balance), so podreach's choice stands when it is one of
// them; with one endpoint there is no choice.
func pickEndpoint(eps map[*workloadapi.Workload]uint32, r request) (*workloadapi.Workload, uint32) {
	for wl, port := range eps {
		if len(eps) == 1 {
			return wl, port
		}
		if r.Upstream != nil && slices.ContainsFunc(wl.GetAddresses(), func(b []byte) bool {
			ip, ok := netip.AddrFromSlice(b)
			return ok && ip.String() == r.Upstream.IP
		}) {
			return wl, port
		}
	}
	return nil, 0
}

func firstIP(wl *workloadapi.Workload) netip.Addr {
	for _, b := range wl.GetAddresses() {
		if ip, ok := netip.AddrFromSlice(b); ok {
			return ip
		}
	}
	return netip.Addr{}
}

// srcIP is the address the source sends from: its pod IP (a hostNetwork
// pod's is its node's).
func srcIP(rep report, src *workloadapi.Workload) netip.Addr {
	if ip, err := netip.ParseAddr(rep.Source.IP); err == nil {
		return ip
	}
	return firstIP(src)
}

// waypointHop runs the request through the waypoint's Envoy config
// (oracle.WaypointSends) as it arrives over HBONE from the source's
// ztunnel: the original destination, the source's identity.
func (ix *ambientIndex) waypointHop(rep report, r request, query []string, e expected, src *workloadapi.Workload, from netip.Addr) oracle.WaypointHop {
	ns, name, _ := strings.Cut(e.waypoint, "/")
	method, headers := oracle.QueryRequest(query)
	if r.Method != "" {
		method = strings.ToUpper(r.Method)
	}
	host := r.Host
	if host == "" {
		host = r.Address
	}
	return oracle.WaypointSends(ix.t, ix.s, oracle.WaypointRequest{
		DestIP: r.DialedIP, DestPort: int(r.Port), HTTP: r.Traffic == "http",
		Host: host, Path: r.Path, Method: method, Headers: headers,
		SourceIP: from.String(), Principal: identity(src).String(),
		PodIP: firstIP(e.waypointPod).String(), Namespace: ns, Name: name, IstioVersion: "1.31.0",
	})
}
