package oracle

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/features"
	dnsserver "istio.io/istio/pkg/dns/server"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// NameTable checks the resolve stage's second source, the sidecar's DNS
// proxy, against Istio's own: for every world of the differential suite,
// as written and with DNS capture forced on for every sidecar, each request
// whose address is a name is resolved through istiod's name table
// (pkg/dns/server BuildNameTable for the source proxy) and the agent's
// lookup table (pkg/dns/client BuildAlternateHosts), walking the pod's
// search list as its resolver does. Where the table answers, podreach must
// say the DNS proxy answered, with the same IPs; where it does not, podreach
// must say cluster DNS answered (the agent forwards the query unchanged).
func NameTable(t *testing.T, cfg Config) {
	if cfg.LocalDNS == nil {
		t.Fatal("oracle.Config.LocalDNS is required: the agent's DNS server of the Istio the module pins")
	}
	files, err := worldFiles(cfg.Worlds)
	if err != nil {
		t.Fatal(err)
	}
	var checked, agreed, fromTable int
	worlds := map[string]bool{}
	for _, f := range files {
		for _, forced := range []bool{false, true} {
			path := f
			if forced {
				if path, err = withDNSCapture(t, f); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			w, err := loadWorld(path)
			if err != nil {
				t.Fatalf("%v", err)
			}
			name := w.Name
			if forced {
				name += " (DNS capture on)"
			}
			t.Run(name, func(t *testing.T) {
				var is *istio
				for _, q := range w.Queries {
					for _, rep := range runPlugin(t, w, q) {
						for _, r := range rep.Requests {
							if net.ParseIP(strings.Trim(r.Address, "[]")) != nil {
								continue
							}
							if is == nil {
								is = newIstio(t, w)
								is.localDNS = cfg.LocalDNS
							}
							checked++
							worlds[w.Name] = true
							what := fmt.Sprintf("%s | %s | %s", name, strings.Join(q, " "), r.Address)
							ips, found, err := istioResolve(is, rep, r.Address)
							if err != nil {
								t.Errorf("%s: %v", what, err)
								continue
							}
							switch {
							case found && r.DNSSource != api.DNSSourceIstioProxy:
								t.Errorf("%s\n    ours: %s %v\n    Istio's name table answers %v", what, r.DNSSource, r.ResolvedIPs, ips)
							case !found && r.DNSSource != api.DNSSourceCluster:
								t.Errorf("%s\n    ours: %s %v\n    Istio's name table does not know the name: cluster DNS answers", what, r.DNSSource, r.ResolvedIPs)
							case found && !sameIPs(ips, r.ResolvedIPs):
								t.Errorf("%s\n    ours resolvedIPs %v\n    Istio's name table %v", what, r.ResolvedIPs, ips)
							default:
								agreed++
								if found {
									fromTable++
								}
							}
						}
					}
				}
			})
		}
	}
	fmt.Printf("name table: %d requests with names in %d worlds agree (%d answered by the DNS proxy), of %d; Istio %s\n",
		agreed, len(worlds), fromTable, checked, cfg.Istio)
	if fromTable == 0 {
		t.Errorf("no request was answered by the DNS proxy: the check checked nothing")
	}
}

// istioResolve resolves name as the source pod's resolver would through its
// agent: each search-list candidate (ndots:5) is asked of the agent's
// lookup table; the first it knows answers (an entry without IPv4 answer
// moves on, as NODATA does); found is false when every query would be
// forwarded to cluster DNS. A source without DNS capture forwards
// everything.
func istioResolve(is *istio, rep *api.Reachability, name string) (ips []string, found bool, err error) {
	if rep.Source.Dataplane != api.DataplaneSidecar || !rep.Source.DNSCapture {
		return nil, false, nil
	}
	key := rep.Source.Namespace + "/" + rep.Source.Name
	sc, err := is.sidecarFor(key)
	if err != nil {
		return nil, false, err
	}
	if !bool(sc.proxy.Metadata.DNSCapture) {
		return nil, false, fmt.Errorf("podreach says %s captures DNS, the proxy Istio was given does not", key)
	}
	table := dnsserver.BuildNameTable(dnsserver.Config{
		Node: sc.proxy, Push: is.s.PushContext(), MulticlusterHeadlessEnabled: features.MulticlusterHeadlessEnabled,
	})
	ns := rep.Source.Namespace
	domain := rep.Mesh.ClusterDomain
	search := []string{ns + ".svc." + domain, "svc." + domain, domain}
	// The agent's search domains come from the pod's resolv.conf; the one
	// this process reads is the machine's, so the first search domain's
	// CNAMEs (buildDNSAnswers) are added here as the agent adds them.
	agent, err := is.localDNS(ns, ns+".svc."+domain)
	if err != nil {
		return nil, false, err
	}
	defer agent.Close()
	a4 := map[string][]string{}
	cname := map[string]string{}
	agent.BuildAlternateHosts(table, func(alt map[string]struct{}, v4, _ []netip.Addr, _ []string) {
		for h := range alt {
			h = strings.ToLower(h)
			for _, ip := range v4 {
				a4[h] = append(a4[h], ip.String())
			}
			if _, ok := a4[h]; !ok {
				a4[h] = nil
			}
			if exp := h + search[0] + "."; !strings.HasSuffix(h, search[0]+".") {
				if _, ok := alt[exp]; !ok {
					cname[exp] = h
				}
			}
		}
	})
	lookup := func(q string) ([]string, bool) {
		_, ok := a4[q]
		_, cn := cname[q]
		if !ok && !cn {
			labels := strings.Split(strings.TrimSuffix(q, "."), ".")
			for i := range labels {
				w := "*." + strings.Join(labels[i+1:], ".") + "."
				_, e := a4[w]
				_, c := cname[w]
				if e || c {
					q, ok = w, true
					break
				}
			}
			if !ok {
				return nil, false
			}
		}
		if target, ok := cname[q]; ok {
			q = target
		}
		return a4[q], true
	}
	base := strings.ToLower(strings.TrimSuffix(name, "."))
	var candidates []string
	switch {
	case strings.HasSuffix(name, "."):
		candidates = []string{base}
	case strings.Count(base, ".") < 5:
		for _, s := range search {
			candidates = append(candidates, base+"."+s)
		}
		candidates = append(candidates, base)
	default:
		candidates = append([]string{base}, base+"."+search[0], base+"."+search[1], base+"."+search[2])
	}
	for _, c := range candidates {
		if ips, ok := lookup(c + "."); ok && len(ips) > 0 {
			return ips, true, nil
		}
	}
	return nil, false, nil
}

func sameIPs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// withDNSCapture writes a copy of a world where every istio-proxy container
// has ISTIO_META_DNS_CAPTURE=true in its environment, as the injector
// renders proxyMetadata there (the agent reads only its environment).
func withDNSCapture(t *testing.T, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var header []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header = append(header, line)
	}
	out := []string{strings.Join(header, "\n")}
	for _, doc := range splitDocs(data) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return "", err
		}
		if obj == nil {
			continue
		}
		for _, o := range flattenList(obj) {
			if o["kind"] == "Pod" {
				setProxyEnv(o, "ISTIO_META_DNS_CAPTURE", "true")
			}
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			return "", err
		}
		out = append(out, string(b))
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	return dst, os.WriteFile(dst, []byte(strings.Join(out, "\n---\n")), 0o644)
}

// setProxyEnv sets one environment variable of the pod's istio-proxy container.
func setProxyEnv(pod map[string]any, name, value string) {
	c := proxyContainer(pod)
	if c == nil {
		return
	}
	env, _ := c["env"].([]any)
	env = slices.DeleteFunc(env, func(e any) bool { em, _ := e.(map[string]any); return em["name"] == name })
	c["env"] = append(env, map[string]any{"name": name, "value": value})
}

// proxyContainer is the pod's istio-proxy container (containers, then
// initContainers: native sidecars), nil when it has none.
func proxyContainer(pod map[string]any) map[string]any {
	spec, _ := pod["spec"].(map[string]any)
	for _, field := range []string{"containers", "initContainers"} {
		cs, _ := spec[field].([]any)
		for _, c := range cs {
			if m, _ := c.(map[string]any); m["name"] == "istio-proxy" {
				return m
			}
		}
	}
	return nil
}

// proxyMetadata is what the pod's agent reads for a proxyMetadata key: the
// istio-proxy container's environment, where the injector renders the
// mesh's defaultConfig.proxyMetadata overlaid by the pod's
// proxy.istio.io/config annotation; for a pod written without the
// injector's PROXY_CONFIG, that annotation and the mesh config themselves.
func proxyMetadata(w *world, pod map[string]any, key string) bool {
	injected, value, set := false, "", false
	env, _ := proxyContainer(pod)["env"].([]any)
	for _, e := range env {
		em, _ := e.(map[string]any)
		switch em["name"] {
		case "PROXY_CONFIG":
			injected = true
		case key:
			value, _ = em["value"].(string)
			set = true
		}
	}
	if !set && !injected {
		if md := w.Mesh.GetDefaultConfig().GetProxyMetadata(); md != nil {
			value, set = md[key]
		}
		meta, _ := pod["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		if a, _ := ann["proxy.istio.io/config"].(string); a != "" {
			var pc struct {
				ProxyMetadata map[string]string `json:"proxyMetadata"`
			}
			if yaml.Unmarshal([]byte(a), &pc) == nil {
				if v, ok := pc.ProxyMetadata[key]; ok {
					value = v
				}
			}
		}
	}
	b, _ := strconv.ParseBool(value)
	return b
}
