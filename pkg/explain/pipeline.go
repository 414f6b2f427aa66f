package explain

import (
	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// The data path as stages, in the order a request passes them. Each stage
// lives in its own file and names the Istio function it mirrors; this file
// only sequences them (docs/MODEL.md lists the stages and their rules).
//
//	resolve.go    cluster DNS                          → the IPs the app dials
//	capture.go    the SRC pod's iptables (istio-iptables) → captured or not
//	listener.go   the SRC proxy's outbound listener and filter chain
//	route.go      route configuration, virtual host, VirtualService route
//	cluster.go    the Envoy cluster (or kube-proxy) and the endpoint it picks
//	clienttls.go  what leaves toward that endpoint: mTLS, TLS or plaintext
//	inbound.go    the DST proxy's virtualInbound filter chain
//	authz.go      the DST proxy's RBAC filters (AuthorizationPolicy)
//	verdict.go    where the request lands, against what was asked
//	fixes.go      the smallest changes that would make a failure work

// call is one request as the application makes it.
type call struct {
	address  string // what the app dials
	port     int32
	traffic  api.Traffic
	host     string // Host header (HTTP)
	method   string // HTTP method (GET unless --method says otherwise)
	path     string
	headers  map[string]string
	destPort int32 // matrix group
}

// tracer evaluates calls from one source pod; what it builds (listeners,
// route configurations) is shared by every call of the run.
type tracer struct {
	m         *model
	src       *corev1.Pod
	srcIP     string
	srcKey    string
	dataplane api.Dataplane
	sc        *sidecarScope
	dst       *corev1.Pod // the pod the user asked about (matrix), or the one the URL dials
	listeners map[int32]map[string]*outboundListener
	routes    map[string]*vhostIndex // RDS by "name|port"
	dns       *dnsLookup             // SRC's DNS proxy, once built (dnsLookup)
}

func (m *model) newTracer(src, dst *corev1.Pod) *tracer {
	t := &tracer{m: m, src: src, dst: dst, srcKey: src.Namespace + "/" + src.Name, dataplane: m.dataplaneOf(src),
		listeners: map[int32]map[string]*outboundListener{}, routes: map[string]*vhostIndex{}}
	if ips := podIPs(src); len(ips) > 0 {
		t.srcIP = ips[0]
	}
	t.sc = m.newSidecarScope(src)
	return t
}

// flow is one request on its way through the stages: the report row being
// filled and each stage's typed record for the stages after it.
type flow struct {
	c       call
	r       *api.Request
	stopped bool // a stage failed the request: only the verdict and fixes run

	ans    dnsAnswer     // resolve
	dialIP string        // resolve
	bypass string        // capture: why the SRC proxy does not see the flow ("" when captured)
	hit    listenerHit   // listener
	next   clusterChoice // route → cluster
	land   landing       // cluster → clientTLS, inbound, verdict
	viaHCM bool          // the request passes Envoy's HTTP connection manager
	tlsWhy *api.Reason   // clientTLS
	in     *api.Inbound  // inbound
	// ambient (ztunnel.go, waypoint.go)
	wp     *waypointHop // the waypoint the request goes through
	peerID string       // the identity the destination sees ("" plaintext)
	peerIP string       // the source address the destination sees, when not SRC's (a waypoint)
}

// stage is one step of the data path.
type stage func(*flow)

// trace runs one call through the stages and returns its report row, with
// the proven fixes of a failure.
func (t *tracer) trace(c call) api.Request { return t.run(c, true) }

// run traces one call; fixes is false when proving a fix (a re-trace
// proposes no fixes of its own).
func (t *tracer) run(c call, fixes bool) api.Request {
	r := &api.Request{Address: c.address, Port: c.port, Traffic: c.traffic, DestinationPort: c.destPort, ResolvedIPs: []string{}, Steps: []api.Step{}}
	if c.traffic == api.TrafficHTTP {
		r.Host, r.Method = c.host, c.method
		if c.path != "" && c.path != "/" {
			r.Path = c.path
		}
	}
	f := &flow{c: c, r: r}
	stages := []stage{t.resolveStage, t.captureStage, t.listenerStage, t.routeStage, t.clusterStage, t.clientTLSStage, t.inboundStage, t.authzStage}
	if t.dataplane == api.DataplaneAmbient {
		// ztunnel.go, waypoint.go: ztunnel's outbound replaces the sidecar's.
		stages = []stage{t.resolveStage, t.captureStage, t.ztunnelStage, t.waypointStage, t.inboundStage, t.authzStage}
	}
	for _, st := range stages {
		if f.stopped {
			break
		}
		st(f)
	}
	t.verdictStage(f)
	if fixes {
		t.fixStage(f)
	}
	return *r
}

// step appends a stage's record to the request; a reason goes to the
// request's reasons too, in the same order.
func (f *flow) step(s api.Step) {
	if s.Result == "" {
		s.Result = api.StepPass
	}
	if s.Reason != nil {
		f.r.Reasons = append(f.r.Reasons, *s.Reason)
	}
	f.r.Steps = append(f.r.Steps, s)
}

// fail stops the request at a stage: the verdict is fails and nothing lands.
func (f *flow) fail(st api.Stage, proxy, name string, reason api.Reason, symptom string) {
	rs := newReason(reason)
	f.step(api.Step{Stage: st, Proxy: proxy, Name: name, Result: api.StepFail, Reason: &rs})
	f.r.Verdict = api.VerdictFails
	if f.r.Balancing == "" {
		f.r.Balancing = api.BalancingNone
	}
	if symptom != "" {
		f.r.Symptom = symptom
	}
	f.stopped = true
}

// note is a passing step with a reason.
func (f *flow) note(st api.Stage, proxy, name string, reason api.Reason) {
	rs := newReason(reason)
	f.step(api.Step{Stage: st, Proxy: proxy, Name: name, Reason: &rs})
}

func podKey(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	return p.Namespace + "/" + p.Name
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
