package explain

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// controlPlane is one istiod pod as the model uses it.
type controlPlane struct {
	pod      *corev1.Pod
	revision string // istio.io/rev, "default" when unlabelled
	version  string // discovery image tag ("1.31.0")
	minor    int    // 0 when the tag is no 1.N version
	flags    map[string]string
}

// istiodFlags are the istiod environment variables the model depends on
// (versionRules' flags, and ISTIO_DUAL_STACK for the addresses of a
// dual-stack Service).
var istiodFlags = func() map[string]bool {
	out := map[string]bool{"ISTIO_DUAL_STACK": true}
	for _, r := range versionRules {
		if r.decidedBy == byIstiod && r.flag != "" {
			out[r.flag] = true
		}
	}
	return out
}()

// newControlPlanes reads the istiod pods of the snapshot: revision from the
// istio.io/rev label, version from the discovery container's image, flags
// from its environment (only literal values: valueFrom is not followed).
func newControlPlanes(pods []corev1.Pod) []*controlPlane {
	var out []*controlPlane
	for i := range pods {
		p := &pods[i]
		cp := &controlPlane{pod: p, revision: p.Labels["istio.io/rev"], flags: map[string]string{}}
		if cp.revision == "" {
			cp.revision = "default"
		}
		for _, c := range p.Spec.Containers {
			if c.Name != "discovery" {
				continue
			}
			cp.version, cp.minor = imageVersion(c.Image)
			for _, e := range c.Env {
				if istiodFlags[e.Name] && e.ValueFrom == nil {
					cp.flags[e.Name] = e.Value
				}
			}
		}
		out = append(out, cp)
	}
	return out
}

// key is NS/NAME of the istiod pod.
func (cp *controlPlane) key() string { return cp.pod.Namespace + "/" + cp.pod.Name }

func (cp *controlPlane) api() api.ControlPlane {
	out := api.ControlPlane{Pod: cp.key(), Revision: cp.revision, Version: cp.version}
	for k, v := range cp.flags {
		out.Flags = append(out.Flags, k+"="+v)
	}
	sort.Strings(out.Flags)
	return out
}

// revisionOf is the control-plane revision serving a sidecar, as the
// injector decided it: the revision it recorded in sidecar.istio.io/status,
// else the pod's istio.io/rev label, else its namespace's istio.io/rev
// (pkg/kube/inject/webhook.go injectRequired: the revision label, then
// istio-injection=enabled for the default revision). "" for a pod without
// a sidecar.
func (m *model) revisionOf(p *corev1.Pod) string {
	switch m.dataplaneOf(p) {
	case api.DataplaneSidecar:
	case api.DataplaneAmbient:
		// ztunnel's configuration for the pod comes from the istiod of
		// the pod's or namespace's istio.io/rev (the revision-tagged
		// ambient index), the default revision otherwise.
		if r := p.Labels["istio.io/rev"]; r != "" {
			return r
		}
		if ns := m.namespaces[p.Namespace]; ns != nil && ns.Labels["istio.io/rev"] != "" {
			return ns.Labels["istio.io/rev"]
		}
		return "default"
	default:
		return ""
	}
	var status struct {
		Revision string `json:"revision"`
	}
	if s := p.Annotations["sidecar.istio.io/status"]; s != "" && json.Unmarshal([]byte(s), &status) == nil && status.Revision != "" {
		return status.Revision
	}
	if r := p.Labels["istio.io/rev"]; r != "" {
		return r
	}
	if ns := m.namespaces[p.Namespace]; ns != nil && ns.Labels["istio.io/rev"] != "" {
		return ns.Labels["istio.io/rev"]
	}
	return "default"
}

// controlPlaneFor is the istiod pod of the pod's revision (the first in
// NS/NAME order when it runs several replicas: they share version and
// flags), nil when none was read.
func (m *model) controlPlaneFor(p *corev1.Pod) *controlPlane {
	rev := m.revisionOf(p)
	if rev == "" {
		return nil
	}
	for _, cp := range m.controlPlanes {
		if cp.revision == rev {
			return cp
		}
	}
	return nil
}

// proxyMinor is the minor of a pod's istio-proxy image, 0 when unknown.
func proxyMinor(p *corev1.Pod) (string, int) {
	if c := istioProxyContainer(p); c != nil {
		return imageVersion(c.Image)
	}
	return "", 0
}

// assumeControlPlane settles the control plane the answer assumes: SRC's
// istiod when it was read (its version decides the istiod rules), else the
// version detected from the proxies.
func (m *model) assumeControlPlane(src *corev1.Pod) {
	m.cp = m.controlPlaneFor(src)
	if m.cp == nil && m.revisionOf(src) == "" {
		// SRC is outside the mesh: the configuration on the path (DST's
		// side) is the mesh's, the default revision's istiod (else the
		// first read).
		for _, cp := range m.controlPlanes {
			if cp.revision == "default" {
				m.cp = cp
				break
			}
		}
		if m.cp == nil && len(m.controlPlanes) > 0 {
			m.cp = m.controlPlanes[0]
		}
	}
	m.istioVersion, m.istioMinor = m.proxyVersion, m.proxyMinor
	if m.cp != nil && m.cp.minor > 0 {
		m.istioVersion, m.istioMinor = m.cp.version, m.cp.minor
	}
}

// versionWarnings: the control plane not read, a version the model is not
// verified against, and proxies further from their istiod than Istio
// supports.
func (m *model) versionWarnings(pods ...*corev1.Pod) []string {
	var out []string
	verifiedOn := strings.Join(verifiedList(), ", ")
	if len(m.controlPlanes) == 0 {
		out = append(out, fmt.Sprintf("no istiod pod read (pods -l app=istiod in the mesh namespace): assuming the control plane runs Istio 1.%d, %s", m.istioMinor, m.versionSource()))
	} else if m.cp != nil && m.cp.minor > 0 && !verified(m.cp.minor) {
		out = append(out, fmt.Sprintf("the control plane %s runs Istio %s: podreach's model is verified against Istio %s only", m.cp.key(), m.cp.version, verifiedOn))
	}
	if m.meshRejected != "" {
		out = append(out, m.meshRejected)
	}
	seen := map[string]bool{}
	for _, p := range pods {
		if p == nil || seen[p.Namespace+"/"+p.Name] {
			continue
		}
		seen[p.Namespace+"/"+p.Name] = true
		if m.dataplaneOf(p) == api.DataplaneAmbient {
			for _, w := range m.ambientVersionWarnings(p) {
				if !slices.Contains(out, w) {
					out = append(out, w)
				}
			}
			continue
		}
		v, minor := proxyMinor(p)
		if minor == 0 {
			continue
		}
		if !verified(minor) {
			out = append(out, fmt.Sprintf("pod %s/%s runs istio-proxy %s: podreach's model is verified against Istio %s only", p.Namespace, p.Name, v, verifiedOn))
		}
		cp := m.controlPlaneFor(p)
		if rev := m.revisionOf(p); cp == nil && len(m.controlPlanes) > 0 {
			out = append(out, fmt.Sprintf("pod %s/%s is served by revision %q, but no istiod pod of that revision was read", p.Namespace, p.Name, rev))
		} else if cp != nil && cp.minor > 0 && !skewSupported(cp.minor, minor) {
			out = append(out, fmt.Sprintf("pod %s/%s runs istio-proxy %s but its control plane %s runs %s: Istio supports a control plane at most one minor ahead of its proxies, never behind", p.Namespace, p.Name, v, cp.key(), cp.version))
		}
	}
	return out
}

// proxySettings is the proxy configuration that changes the data path.
type proxySettings struct {
	dnsCapture      bool
	dnsAutoAllocate bool
}

// proxySettingsOf reads ISTIO_META_DNS_CAPTURE and
// ISTIO_META_DNS_AUTO_ALLOCATE as the pod's agent sees them. The agent reads
// only its environment (pilot/cmd/pilot-agent/options/options.go
// DNSCaptureByAgent); the injector renders there the mesh's
// defaultConfig.proxyMetadata overlaid by the pod's proxy.istio.io/config
// annotation (injection-template.yaml). An injected pod (it has
// PROXY_CONFIG) is read from its environment; a pod written without it
// (hand-made worlds) from the annotation, then the mesh config.
func (m *model) proxySettingsOf(p *corev1.Pod) proxySettings {
	c := istioProxyContainer(p)
	if c == nil {
		return proxySettings{}
	}
	md := map[string]string{}
	injected := false
	for _, e := range c.Env {
		if e.Name == "PROXY_CONFIG" {
			injected = true
		}
		if e.ValueFrom == nil {
			md[e.Name] = e.Value
		}
	}
	if !injected {
		md = map[string]string{}
		for k, v := range m.mesh.ProxyMetadata {
			md[k] = v
		}
		var pc struct {
			ProxyMetadata map[string]string `json:"proxyMetadata"`
		}
		if a := p.Annotations["proxy.istio.io/config"]; a != "" && yaml.Unmarshal([]byte(a), &pc) == nil {
			for k, v := range pc.ProxyMetadata {
				md[k] = v
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				md[e.Name] = e.Value
			}
		}
	}
	on := func(k string) bool { b, _ := strconv.ParseBool(md[k]); return b }
	return proxySettings{dnsCapture: on("ISTIO_META_DNS_CAPTURE"), dnsAutoAllocate: on("ISTIO_META_DNS_AUTO_ALLOCATE")}
}

// trustDomainWarnings: under an istiod that does not know
// source.trustDomains (ruleSourceTrustDomains), each AuthorizationPolicy
// of the pods that uses them.
func (m *model) trustDomainWarnings(pods ...*corev1.Pod) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range pods {
		if p == nil || m.dataplaneOf(p) != api.DataplaneSidecar || m.podIstiodRule(ruleSourceTrustDomains, p) {
			continue
		}
		minor := m.istioMinor
		if cp := m.controlPlaneFor(p); cp != nil && cp.minor > 0 {
			minor = cp.minor
		}
		s := m.authzPolicies(p)
		for _, l := range [][]*securityv1.AuthorizationPolicy{s.custom, s.deny, s.allow, s.audit} {
			for _, pol := range l {
				dropped, skipped := trustDomainFields(pol)
				if len(dropped)+len(skipped) == 0 || seen[polKey(pol)] {
					continue
				}
				seen[polKey(pol)] = true
				since := versionRules[ruleSourceTrustDomains].since
				if len(dropped) > 0 {
					out = append(out, fmt.Sprintf("AuthorizationPolicy %s uses source.trustDomains/notTrustDomains (rules %s), which Istio 1.%d does not know (they exist from 1.%d): its istiod drops them, so those sources match without that condition (a source with nothing else matches every request)",
						polKey(pol), intList(dropped), minor, since))
				}
				if len(skipped) > 0 {
					out = append(out, fmt.Sprintf("AuthorizationPolicy %s has a when on source.trustDomain (rules %s), which Istio 1.%d does not know (it exists from 1.%d): its istiod skips those rules",
						polKey(pol), intList(skipped), minor, since))
				}
			}
		}
	}
	return out
}

// intList is "1, 4, 5".
func intList(l []int) string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = strconv.Itoa(v)
	}
	return strings.Join(out, ", ")
}

// ambientVerifiedMinors are the minors whose ambient answers are checked
// against Istio's code: istiod's ambient index (test/istio TestAmbient) and
// ztunnel's test cases (test/ztunnel) run at 1.31 only; test/istio-1.27
// compares sidecar paths.
var ambientVerifiedMinors = []int{31}

// ambientVersionWarnings: an ambient pod whose ztunnel, or the control plane
// the answer assumes, runs a minor whose ambient answers are not verified.
func (m *model) ambientVersionWarnings(p *corev1.Pod) []string {
	var out []string
	if z := m.ztunnelOn(p); z != nil {
		if c := firstContainer(z, "istio-proxy"); c != nil {
			if v, minor := imageVersion(c.Image); minor > 0 && !slices.Contains(ambientVerifiedMinors, minor) {
				out = append(out, fmt.Sprintf("ztunnel %s/%s (node of %s/%s) runs %s: podreach's ambient answers are verified against Istio 1.31 only", z.Namespace, z.Name, p.Namespace, p.Name, v))
			}
		}
	}
	if len(out) == 0 && !slices.Contains(ambientVerifiedMinors, m.istioMinor) {
		out = append(out, fmt.Sprintf("ambient mode under a control plane of Istio 1.%d: podreach's ambient answers are verified against Istio 1.31 only", m.istioMinor))
	}
	return out
}

// versionSource says where the assumed version comes from when no istiod
// was read: a sidecar's or a ztunnel's image, or nothing (1.31, the model's).
func (m *model) versionSource() string {
	if m.proxyVersion == "" {
		return "the model's own (no sidecar or ztunnel image says)"
	}
	for _, p := range m.pods {
		if _, minor := proxyMinor(p); minor > 0 {
			return "as the proxies' images say"
		}
	}
	return "as the ztunnels' images say"
}
