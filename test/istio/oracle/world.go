package oracle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pkg/config/mesh"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/examples"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// world is one scenario file: the objects of a cluster (a `kubectl get -o
// yaml` dump) and the podreach queries to run against it. The same file is
// what `kubectl podreach -f` reads.
type world struct {
	Path    string
	Name    string
	Queries [][]string // CLI args (SRC DST [flags]) from the "# podreach:" lines

	KubeYAML  string // Namespaces, Pods, Services, EndpointSlices for the fake kube registry
	IstioYAML string // networking/security.istio.io objects for the config store
	// GatewayYAML holds the gateway.networking.k8s.io objects (waypoints and
	// their routes); only the ambient comparison (test/istio) reads them.
	GatewayYAML string
	Mesh        *meshconfig.MeshConfig
	Pods        map[string]map[string]any // "ns/name" and podIP → the Pod object
	// AuthzPolicies counts the world's AuthorizationPolicies.
	AuthzPolicies int
	// Minor, when set, is the Istio minor ("1.27") the world's proxies were
	// moved to (Config.Version): podreach must answer for it.
	Minor string
	// asIstiod (Config.ReadAsIstiod): config the pinned Istio rejects is
	// read the way a running istiod reads it, and Rejected says what.
	asIstiod bool
	Rejected []string
}

// kubeKinds are the Kubernetes kinds istiod's kube registry reads for a
// sidecar's config; everything else in a dump (Deployments, ConfigMaps, the
// ground truth's Oracle document) is left out, as istiod ignores it too.
var kubeKinds = map[string]bool{"Namespace": true, "Pod": true, "Service": true, "EndpointSlice": true, "Node": true}

// worldFiles lists every world matching the patterns (the shipped
// examples and the extra worlds of test/istio/worlds/), sorted.
func worldFiles(patterns []string) ([]string, error) {
	var files []string
	for _, pattern := range patterns {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

func loadWorld(path string) (*world, error) { return loadWorldAs(path, false) }

// loadWorldAs loads a world; asIstiod reads a mesh config the pinned Istio
// cannot parse as istiod does (pkg/config/mesh/meshwatcher NewCollection:
// "invalid mesh config, using last known state", Istio's defaults when
// istiod starts with it) instead of failing, and newIstio reads Istio
// objects its validation rejects as istiod's informers do (parseConfigs).
func loadWorldAs(path string, asIstiod bool) (*world, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w := &world{Path: path, Name: filepath.Base(path), Pods: map[string]map[string]any{}, asIstiod: asIstiod}
	if w.Queries, err = queryLines(data); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if w.Queries, err = expandScrape(path, w.Queries); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(w.Queries) == 0 {
		return nil, fmt.Errorf("%s: no '# podreach: SRC DST' line", path)
	}
	var kube, cfg, gw []string
	meshYAML := ""
	for _, doc := range splitDocs(data) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		for _, o := range flattenList(obj) {
			apiVersion, _ := o["apiVersion"].(string)
			kind, _ := o["kind"].(string)
			md, _ := o["metadata"].(map[string]any)
			name, _ := md["name"].(string)
			ns, _ := md["namespace"].(string)
			group := strings.Split(apiVersion, "/")[0]
			switch {
			case group == "gateway.networking.k8s.io":
				out, err := yaml.Marshal(o)
				if err != nil {
					return nil, err
				}
				gw = append(gw, string(out))
			case group == "networking.istio.io" || group == "security.istio.io":
				if group == "security.istio.io" && kind == "AuthorizationPolicy" {
					w.AuthzPolicies++
				}
				out, err := yaml.Marshal(o)
				if err != nil {
					return nil, err
				}
				cfg = append(cfg, string(out))
			case kind == "ConfigMap" && name == "istio" && ns == "istio-system":
				if d, ok := o["data"].(map[string]any); ok {
					meshYAML, _ = d["mesh"].(string)
				}
			case kubeKinds[kind]:
				if kind == "Pod" {
					w.Pods[ns+"/"+name] = o
					if st, ok := o["status"].(map[string]any); ok {
						if ip, ok := st["podIP"].(string); ok && ip != "" {
							w.Pods[ip] = o
						}
					}
				}
				out, err := yaml.Marshal(o)
				if err != nil {
					return nil, err
				}
				kube = append(kube, string(out))
			}
		}
	}
	w.KubeYAML = strings.Join(kube, "\n---\n")
	w.IstioYAML = strings.Join(cfg, "\n---\n")
	w.GatewayYAML = strings.Join(gw, "\n---\n")
	if w.Mesh, err = mesh.ApplyMeshConfigDefaults(meshYAML); err != nil {
		if !asIstiod {
			return nil, fmt.Errorf("%s: mesh config: %v", path, err)
		}
		w.Mesh = mesh.DefaultMeshConfig()
		w.Rejected = append(w.Rejected, fmt.Sprintf("mesh config: %v: istiod keeps its last valid mesh config, Istio's defaults when it starts with it: compared on the defaults", err))
	}
	return w, nil
}

// expandScrape replaces each `SRC --scrape [-A]` query by the URL queries of
// the targets the plugin's --scrape traces (each item of its list is the
// single `SRC URL` query), so that every scrape is compared with Istio as a
// single query. The plugin is asked rather than pkg/explain imported: the
// harness is also built against another Istio's API (test/istio-1.27),
// which the plugin's packages are not.
func expandScrape(path string, queries [][]string) ([][]string, error) {
	var out [][]string
	for _, q := range queries {
		if !slices.Contains(q, "--scrape") {
			out = append(out, q)
			continue
		}
		data, err := pluginJSON(path, q)
		if err != nil {
			return nil, err
		}
		var list api.ReachabilityList
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("kubectl-podreach %s -f %s: decoding the list: %v", strings.Join(q, " "), path, err)
		}
		for _, it := range list.Items {
			if it.Target == nil {
				return nil, fmt.Errorf("kubectl-podreach %s -f %s: an item without target", strings.Join(q, " "), path)
			}
			out = append(out, []string{q[0], it.Target.URL})
		}
	}
	return out, nil
}

// queryLines reads every leading "# podreach: SRC DST [flags]" comment.
func queryLines(data []byte) ([][]string, error) {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "#") {
			if line == "" || line == "---" {
				continue
			}
			break
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(line, "#")), "podreach:")
		if !ok {
			continue
		}
		args, err := examples.SplitWords(strings.TrimSpace(rest))
		if err != nil {
			return nil, err
		}
		out = append(out, args)
	}
	return out, sc.Err()
}

// serviceAccount is the pod's service account, as its certificate names it.
func serviceAccount(pod map[string]any) string {
	spec, _ := pod["spec"].(map[string]any)
	for _, f := range []string{"serviceAccountName", "serviceAccount"} {
		if sa, _ := spec[f].(string); sa != "" {
			return sa
		}
	}
	return "default"
}

func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func flattenList(o map[string]any) []map[string]any {
	if o == nil {
		return nil
	}
	if k, _ := o["kind"].(string); strings.HasSuffix(k, "List") {
		var out []map[string]any
		items, _ := o["items"].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				out = append(out, flattenList(m)...)
			}
		}
		return out
	}
	return []map[string]any{o}
}

// hasProxy says whether some pod of the world runs an istio-proxy.
func (w *world) hasProxy() bool {
	for _, p := range w.Pods {
		if proxyVersion(p) != "" {
			return true
		}
	}
	return false
}

// ambientOnPath says whether ztunnel is on either end of the request: the
// source or the pod it lands on carries the CNI's
// ambient.istio.io/redirection: enabled (what istiod reads,
// pilot/pkg/serviceregistry/ambient workloads.go setTunnelProtocol).
func (w *world) ambientOnPath(rep *api.Reachability, r api.Request) bool {
	pods := []string{rep.Source.Namespace + "/" + rep.Source.Name}
	if rep.Destination != nil {
		pods = append(pods, rep.Destination.Namespace+"/"+rep.Destination.Name)
	}
	if r.Upstream != nil {
		pods = append(pods, r.Upstream.Pod)
	}
	if r.Inbound != nil {
		pods = append(pods, r.Inbound.Pod)
	}
	for _, k := range pods {
		md, _ := w.Pods[k]["metadata"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		if ann["ambient.istio.io/redirection"] == "enabled" {
			return true
		}
	}
	return false
}
