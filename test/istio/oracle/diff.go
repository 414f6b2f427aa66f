package oracle

import (
	dnsclient "istio.io/istio/pkg/dns/client"

	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	"istio.io/istio/pilot/pkg/simulation"
	istiolog "istio.io/istio/pkg/log"
)

// Config is one run of the differential test: which Istio the oracle is
// built against, which worlds it reads, and how they are adapted to that
// Istio before both sides see them.
type Config struct {
	// Istio names the istio.io/istio module the calling module pins, for
	// the closing lines.
	Istio string
	// Version, when set, is the Istio release every proxy and istiod of
	// every world runs (Rewrite moves their images to it), and the closing
	// line says so: "N requests in M worlds agree (Istio 1.27.9)".
	Version string
	// LocalDNS starts the agent's DNS server of the Istio the module pins
	// (pkg/dns/client NewLocalDNSServer, whose signature changes between
	// minors) on a loopback port, for NameTable.
	LocalDNS func(namespace, searchDomain string) (*dnsclient.LocalDNSServer, error)
	// Worlds are the glob patterns of the world files, relative to the
	// test's directory.
	Worlds []string
	// Rewrite, when set, turns a world file into the one both podreach
	// and Istio read (written to a temporary directory).
	Rewrite func(data []byte) []byte
	// Exceptions are requests where Istio's simulator is known not to
	// model what Envoy does, keyed by "world|SRC DST|address:port|field".
	Exceptions map[string]string
	// ReadAsIstiod: a world holding config the pinned Istio rejects (a
	// mesh config it cannot parse, an object its validation refuses: the
	// worlds are written for a newer Istio) is compared on what istiod
	// does with it — the default mesh config, the object as stored, minus
	// the fields it does not know — and named in the closing lines.
	// Unset, such a world is an error.
	ReadAsIstiod bool
	// MinWorlds and MinRequests are the figures the suite must reach;
	// fewer means worlds went missing, not that the model got better.
	MinWorlds, MinRequests int
}

// SimulatorGaps are requests where Istio's simulator
// (pilot/pkg/simulation) is known not to model what Envoy does; each entry
// names the world, the request and the evidence. Keyed by
// "world|SRC DST|address:port|field".
var SimulatorGaps = map[string]string{
	// VirtualService match uri prefix "/case" with ignoreUriCase: Istio sets
	// the Envoy route's case_sensitive=false (route/route.go translateRouteMatch:
	// CaseSensitive = !IgnoreUriCase) and Envoy then matches "/CaSe/x"; the
	// simulator's matchRoute (simulation/traffic.go) compares paths with a
	// case-sensitive strings.HasPrefix and ignores case_sensitive, so it falls
	// through to the default route.
	"b5-vs-uri-source-matches.yaml|app/client http://web:80/CaSe/x|web:80|cluster":  simIgnoresCaseSensitive,
	"b5-vs-uri-source-matches.yaml|app/client http://web:80/CaSe/x|web:80|upstream": simIgnoresCaseSensitive,
	"b5-vs-uri-source-matches.yaml|app/client http://web:80/CaSe/x|web:80|tls":      simIgnoresCaseSensitive,
}

const simIgnoresCaseSensitive = "simulator ignores RouteMatch.case_sensitive (ignoreUriCase)"

// plugin is the built kubectl-podreach binary (Main).
var plugin string

// Main builds kubectl-podreach from the root module at root (the binary
// users get, with its own go.mod), silences istiod's logs and runs the
// tests: a test binary's TestMain returns os.Exit(oracle.Main(m, "../..")).
func Main(m *testing.M, root string) int {
	// istiod logs every informer sync and push; only our diffs matter here.
	for _, s := range istiolog.Scopes() {
		s.SetOutputLevel(istiolog.NoneLevel)
	}
	dir, err := os.MkdirTemp("", "podreach-istiodiff")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	plugin = filepath.Join(dir, "kubectl-podreach")
	build := exec.Command("go", "build", "-o", plugin, "./cmd/kubectl-podreach")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kubectl-podreach:", err)
		return 2
	}
	return m.Run()
}

// Differential runs every world through the plugin (the built binary, -f,
// -o json) and through Istio's control plane + simulator, and compares
// each request field by field.
func Differential(t *testing.T, cfg Config) {
	files, err := worldFiles(cfg.Worlds)
	if err != nil {
		t.Fatal(err)
	}
	var worlds, agreed, compared, authzCompared, authzAgreed, authzWorlds int
	var rejected []string // worlds read as istiod reads config it rejects (ReadAsIstiod)
	for _, f := range files {
		if cfg.Rewrite != nil {
			if f, err = rewriteWorld(t, f, cfg.Rewrite); err != nil {
				t.Errorf("%v", err)
				continue
			}
		}
		w, err := loadWorldAs(f, cfg.ReadAsIstiod)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if v := strings.SplitN(cfg.Version, ".", 3); len(v) >= 2 && w.hasProxy() {
			w.Minor = v[0] + "." + v[1]
		}
		worlds++
		if w.AuthzPolicies > 0 {
			authzWorlds++
		}
		t.Run(w.Name, func(t *testing.T) {
			is := newIstio(t, w)
			eachRequest(t, is, w, func(_ int, q []string, r api.Request, c comparison) {
				if !c.ok {
					return // nothing Istio decides (DNS failure, no proxy on either side)
				}
				compared++
				if c.authzFilters {
					authzCompared++
				}
				what := fmt.Sprintf("%s | %s | %s:%d", w.Name, strings.Join(q, " "), r.Address, r.Port)
				if r.Host != "" {
					what += " Host=" + r.Host
				}
				if r.Traffic != "" {
					what += " (" + string(r.Traffic) + ")"
				}
				bad := 0
				for _, d := range c.diffs {
					key := fmt.Sprintf("%s|%s|%s:%d|%s", w.Name, strings.Join(q, " "), r.Address, r.Port, d.field)
					if why := cfg.Exceptions[key]; why != "" {
						t.Logf("exception %s: ours %q, Istio %q (%s)", key, d.ours, d.istio, why)
						continue
					}
					bad++
					t.Errorf("%s\n    %-20s ours %-40q Istio %q", what, d.field, d.ours, d.istio)
				}
				if bad == 0 {
					agreed++
					if c.authzFilters {
						authzAgreed++
					}
				}
			})
		})
		if len(w.Rejected) > 0 {
			rejected = append(rejected, w.Name+": "+strings.Join(w.Rejected, "; "))
		}
	}
	// K counts the agreeing requests whose destination chain carries
	// istiod's RBAC / ext_authz filters (a policy in force).
	if cfg.Version != "" {
		fmt.Printf("%d requests in %d worlds agree (Istio %s)\n", agreed, worlds, cfg.Version)
		fmt.Printf("%d on authorization; ", authzAgreed)
	} else {
		fmt.Printf("%d requests in %d worlds agree (%d on authorization)\n", agreed, worlds, authzAgreed)
	}
	fmt.Printf("%d requests compared (%d on authorization), %d worlds with AuthorizationPolicies; Istio %s\n",
		compared, authzCompared, authzWorlds, cfg.Istio)
	if len(rejected) > 0 {
		fmt.Printf("%d of the worlds hold config this Istio rejects, compared as its istiod reads it:\n", len(rejected))
		for _, r := range rejected {
			fmt.Printf("  %s\n", r)
		}
	}
	if worlds < cfg.MinWorlds || compared < cfg.MinRequests {
		t.Errorf("only %d worlds / %d requests compared; want ≥ %d / ≥ %d", worlds, compared, cfg.MinWorlds, cfg.MinRequests)
	}
	if authzCompared < authzMinRequests || authzWorlds < authzMinWorlds {
		t.Errorf("only %d requests compared on authorization in %d worlds with AuthorizationPolicies; want ≥ %d / ≥ %d (ISTIODIFF_AUTHZ_MIN)",
			authzCompared, authzWorlds, authzMinRequests, authzMinWorlds)
	}
}

// rewriteWorld writes cfg.Rewrite's version of a world file to the test's
// temporary directory, under the same name, and returns its path.
func rewriteWorld(t *testing.T, path string, rewrite func([]byte) []byte) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	return out, os.WriteFile(out, rewrite(data), 0o644)
}

// eachRequest runs every query of a world through the plugin and replays
// each request of its reports through Istio.
func eachRequest(t *testing.T, is *istio, w *world, f func(query int, q []string, r api.Request, c comparison)) {
	t.Helper()
	for qi, q := range w.Queries {
		// A fleet query (--peers, -l, -A) answers a list: every pair is
		// checked as a single pair is.
		for _, rep := range runPlugin(t, w, q) {
			if w.Minor != "" && rep.Mesh.IstioVersion != w.Minor {
				// A version marker the rewrite missed: the comparison would
				// not be of the release it claims.
				t.Errorf("%s | %s: podreach assumed Istio %q, the world was moved to %s", w.Name, strings.Join(q, " "), rep.Mesh.IstioVersion, w.Minor)
			}
			for _, r := range rep.Requests {
				f(qi, q, r, compareRequest(t, is, rep, r, q))
			}
		}
	}
}

// runPlugin runs one query and returns its report, or each pair's for a
// fleet query (a ReachabilityList).
func runPlugin(t *testing.T, w *world, args []string) []*api.Reachability {
	t.Helper()
	var reps []*api.Reachability
	for _, raw := range RunPluginJSON(t, w, args) {
		rep := &api.Reachability{}
		if err := json.Unmarshal(raw, rep); err != nil {
			t.Errorf("kubectl-podreach %s -f %s: decoding report: %v", strings.Join(args, " "), w.Path, err)
			return nil
		}
		reps = append(reps, rep)
	}
	return reps
}

// RunPluginJSON runs one query (the built binary, -f, -o json) and returns
// its report as JSON, or each pair's for a fleet query (a
// ReachabilityList), for callers that read fields this package does not
// (test/istio's ambient comparison).
func RunPluginJSON(t *testing.T, w *World, args []string) []json.RawMessage {
	t.Helper()
	out, err := pluginJSON(w.Path, args)
	if err != nil {
		t.Errorf("%v", err)
		return nil
	}
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Errorf("kubectl-podreach %s -f %s: decoding report: %v", strings.Join(args, " "), w.Path, err)
		return nil
	}
	if list.Kind == api.KindReachabilityList {
		return list.Items
	}
	return []json.RawMessage{out}
}

// pluginJSON runs the built plugin on one query against the world file at
// path (-f, -o json) and returns its standard output. Exit status 1 (some
// request fails) is a verdict, not an error.
func pluginJSON(path string, args []string) ([]byte, error) {
	full := append(append([]string{}, args...), "-f", path, "-o", "json")
	cmd := exec.Command(plugin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("kubectl-podreach %s: %v\n%s", strings.Join(full, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

type fieldDiff struct{ field, ours, istio string }

// comparison is one request replayed through Istio.
type comparison struct {
	diffs []fieldDiff
	ok    bool // Istio has a say in the request
	// authz is Envoy's authorization decision with istiod's filters, when
	// the destination sidecar's chain accepted the request;
	// authzFilters is true when that chain carries RBAC or ext_authz
	// filters (a policy is in force).
	authz        *istioAuthz
	authzFilters bool
	authzChain   string // the chain's authorization filters, for people
}

// compareRequest replays one of our requests through Istio and lists the
// fields that differ.
func compareRequest(t *testing.T, is *istio, rep *api.Reachability, r api.Request, query []string) (c comparison) {
	t.Helper()
	if r.DialedIP == "" {
		return c
	}
	if is.w.ambientOnPath(rep, r) {
		// istiod here runs without ambient (features.EnableAmbient off, as
		// in Istio 1.27's and 1.31's defaults): test/istio's TestAmbient
		// compares these requests with the ambient index on.
		return c
	}
	c.ok = true
	proto := simulation.TCP
	host := ""
	if r.Traffic == "http" {
		proto = simulation.HTTP
		host = r.Host
	}
	add := func(field string, ours, istio any) {
		o, i := fmt.Sprint(ours), fmt.Sprint(istio)
		if o != i {
			c.diffs = append(c.diffs, fieldDiff{field, o, i})
		}
	}

	tls := string(r.TLS) // what reaches the destination when no source proxy is in the way
	sni := ""
	if rep.Source.Dataplane == api.DataplaneSidecar && r.Captured {
		src, err := is.sidecarFor(rep.Source.Namespace + "/" + rep.Source.Name)
		if err != nil {
			t.Errorf("%v", err)
			return comparison{}
		}
		upIP, upPort := r.DialedIP, int(r.Port)
		if r.Upstream != nil {
			upIP, upPort = r.Upstream.IP, int(r.Upstream.Port)
		}
		want := ours(r)
		got := src.outbound(simulation.Call{Address: r.DialedIP, Port: int(r.Port), Protocol: proto, HostHeader: host, Path: r.Path}, want.Cluster, upIP, upPort)
		add("listener", want.Listener, got.Listener)
		add("filterChain", want.FilterChain, got.FilterChain)
		add("routeConfig", want.RouteConfig, got.RouteConfig)
		add("virtualHost", want.VirtualHost, got.VirtualHost)
		add("cluster", want.Cluster, got.Cluster)
		add("weightedClusters", want.Weighted, got.Weighted)
		add("directResponse", want.DirectResponse, got.DirectResponse)
		add("error", want.Error, got.Error)
		if got.Upstream != "" || want.Upstream != "" {
			add("upstream", want.Upstream, got.Upstream)
		}
		add("tls", want.TLS, got.TLS)
		tls, sni = got.TLS, got.SNI
	}

	in := r.Inbound
	if in != nil && in.Captured && tls != string(api.TLSNone) && in.Pod != "" {
		dst, err := is.sidecarFor(in.Pod)
		if err != nil {
			t.Errorf("%v", err)
			return c
		}
		ip := dst.proxy.IPAddresses[0]
		o := dst.inbound(ip, int(in.Port), proto, tls, host)
		oursErr := proxyError(in.Error)
		add("inbound.filterChain", in.FilterChain, o.FilterChain)
		add("inbound.cluster", in.Cluster, o.Cluster)
		add("inbound.accepted", oursErr == "", o.Accepted)
		add("inbound.error", oursErr, o.Error)
		if o.Accepted && o.Chain != nil {
			chain, err := authzOf(o.Chain)
			if err != nil {
				t.Errorf("%s: %v", in.Pod, err)
				return c
			}
			chain.Providers = is.w.Mesh.GetExtensionProviders()
			got, err := chain.decide(authzInput(is.w, rep, r, query, tls, sni, chain, ip))
			if err != nil {
				t.Errorf("%s %s:%d: %v", in.Pod, r.Address, r.Port, err)
				return c
			}
			compareAuthz(add, in.Authorization, got)
			c.authz, c.authzFilters, c.authzChain = &got, len(chain.Filters) > 0, chain.String()
		}
	}
	return c
}

// ours projects our report onto the fields Istio's simulator reports.
func ours(r api.Request) outcome {
	ob := r.Outbound
	if ob == nil {
		ob = &api.Outbound{}
	}
	o := outcome{
		Listener:       ob.Listener,
		FilterChain:    ob.FilterChain,
		RouteConfig:    ob.RouteConfig,
		VirtualHost:    ob.VirtualHost,
		Cluster:        ob.Cluster,
		DirectResponse: ob.DirectResponse,
		TLS:            string(r.TLS),
	}
	var parts []string
	for _, w := range ob.WeightedClusters {
		parts = append(parts, fmt.Sprintf("%s:%d", w.Cluster, w.Weight))
	}
	o.Weighted = strings.Join(parts, ",")
	for _, rs := range r.Reasons {
		switch rs.Code {
		case "NO_VIRTUAL_HOST":
			o.Error = simulation.ErrNoVirtualHost.Error()
		case "NO_ROUTE_MATCH":
			o.Error = simulation.ErrNoRoute.Error()
		}
	}
	if o.Error != "" {
		o.TLS = string(api.TLSNone)
	}
	if ob.ClusterType == "EDS" && r.Upstream != nil {
		o.Upstream = "in EDS"
	}
	return o
}

// proxyError keeps the errors that are the destination proxy's own (the
// simulator's vocabulary); the rest of our inbound errors describe what the
// application then receives, which is beyond Envoy.
func proxyError(e string) string {
	switch e {
	case simulation.ErrNoFilterChain.Error(), simulation.ErrProtocolError.Error(),
		simulation.ErrMTLSError.Error(), simulation.ErrTLSError.Error():
		return e
	}
	return ""
}
