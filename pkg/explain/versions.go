package explain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// verifiedMinors are the Istio minors whose control-plane code the model is
// checked against, request by request: test/istio runs istio.io/istio at
// 1.31 (the differential and the name-table check), test/istio-1.27 at
// 1.27.9 (the differential, every world moved to 1.27). A control plane or
// proxy of another minor gets a warning naming these.
var verifiedMinors = []int{27, 31}

// component is who decides a version-dependent rule: the version that
// matters is that component's.
type component string

const (
	byIstiod   component = "istiod"    // the xDS (and DNS name table) istiod generates: the control plane's version
	byProxy    component = "proxy"     // Envoy or the agent in the pod: the istio-proxy image's version
	byInjector component = "injector"  // the sidecar injector (istiod's webhook) at the pod's creation
	byCNI      component = "istio-cni" // the node agent (ambient)
)

// ruleID names one version-dependent rule of the model.
type ruleID int

const (
	// ruleExternalNameAlias: an ExternalName Service's name becomes a
	// virtual-host domain of the Service it points at (ENABLE_EXTERNAL_NAME_ALIAS).
	ruleExternalNameAlias ruleID = iota
	// ruleAbsoluteFQDNVhost: virtual hosts also carry the trailing-dot FQDN
	// (PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN).
	ruleAbsoluteFQDNVhost
	// ruleSEAutoAllocateController: istiod's controller allocates a VIP
	// (240.240.0.0/16) to each ServiceEntry without addresses and writes it
	// to status.addresses; proxies with DNS capture get it in their name
	// table and listeners (PILOT_ENABLE_IP_AUTOALLOCATE). Before, only a
	// proxy that asks (ISTIO_META_DNS_AUTO_ALLOCATE) gets a VIP, hashed by
	// istiod at push time.
	ruleSEAutoAllocateController
	// ruleSidecarEgressExclude: a "~" prefix on the namespace of a Sidecar
	// egress host ("~/*", "~ns/*", "~/foo.com") excludes those hosts from
	// what the other entries import. Before, "~" is a namespace name like
	// any other: "~/*" imports the hosts of a namespace "~", which cannot
	// exist, so it imports nothing (and validation rejects "~ns/…").
	ruleSidecarEgressExclude
	// ruleAllowAnyDynamicDNS: meshConfig (and Sidecar)
	// outboundTrafficPolicy mode ALLOW_ANY_DYNAMIC_DNS exists. Before, the
	// enum value is unknown to istiod's MeshConfig: the whole mesh config
	// fails to parse (meshwatcher NewCollection: "invalid mesh config,
	// using last known state"), and istiod runs on the mesh config it had
	// before, Istio's defaults when it starts with it.
	ruleAllowAnyDynamicDNS
	// ruleSourceTrustDomains: AuthorizationPolicy source.trustDomains /
	// notTrustDomains and the when key source.trustDomain exist. Before,
	// istiod's decoder drops the unknown Source fields (istio.io/api
	// *_json.gen.go: AllowUnknownFields), so a from whose only field they
	// were matches every source, and a when on source.trustDomain makes
	// model.New fail: the rule is skipped ("skipped invalid rule").
	ruleSourceTrustDomains
)

// versionRule is one row of the table below.
type versionRule struct {
	since     int       // the first minor (1.<since>) where the rule holds by default
	decidedBy component // whose version decides
	flag      string    // the environment variable that turns it off (or on), if any
	flagGone  int       // the first minor where the flag is no longer read (0: still read)
	what      string    // for people
}

// versionRules is the model's table of version-dependent rules between
// Istio 1.22 and 1.31, each checked in Istio's code at the minor named
// (pilot/pkg/features at that tag, the compatibility-version-1.N Helm
// profiles that revert each minor's behavioural changes). docs/MODEL.md
// prints it, with the changes read and not modelled.
var versionRules = map[ruleID]versionRule{
	// 1.21: ENABLE_EXTERNAL_NAME_ALIAS default true (RN 1.21; the flag is
	// gone in 1.24, always on).
	ruleExternalNameAlias: {since: 21, decidedBy: byIstiod, flag: "ENABLE_EXTERNAL_NAME_ALIAS", flagGone: 24,
		what: "an ExternalName Service's name is a virtual-host domain of the Service it points at"},
	// 1.27: pilot/pkg/features/pilot.go EnableAbsoluteFqdnVhostDomain,
	// default true (absent in 1.26).
	ruleAbsoluteFQDNVhost: {since: 27, decidedBy: byIstiod, flag: "PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN",
		what: "virtual hosts carry the trailing-dot FQDN (web.demo.svc.cluster.local.)"},
	// 1.25: compatibility-version-1.24.yaml sets PILOT_ENABLE_IP_AUTOALLOCATE
	// false: the controller is on by default from 1.25
	// (pilot/pkg/networking/serviceentry/ip_autoallocation.go).
	ruleSEAutoAllocateController: {since: 25, decidedBy: byIstiod, flag: "PILOT_ENABLE_IP_AUTOALLOCATE",
		what: "ServiceEntries without addresses get a VIP in status.addresses, used by proxies with DNS capture"},
	// 1.31: pilot/pkg/model/sidecar.go excludePrefix, commit 4c3c712eed2
	// "support excluding hosts in sidecar egress listener" (#60581, first
	// tag 1.31.0-alpha.0; absent at 1.30.0, whose validation still takes
	// "~" as the only non-DNS namespace besides "*" and ".").
	ruleSidecarEgressExclude: {since: 31, decidedBy: byIstiod,
		what: `a "~" namespace prefix on a Sidecar egress host excludes those hosts`},
	// 1.31: MeshConfig.OutboundTrafficPolicy.Mode ALLOW_ANY_DYNAMIC_DNS
	// (absent from istio.io/api v1.27.8 and from pilot at 1.30.0;
	// pilot/pkg/features/pilot.go AllowAnyDynamicDNSMaxHosts at 1.31).
	ruleAllowAnyDynamicDNS: {since: 31, decidedBy: byIstiod,
		what: "outboundTrafficPolicy mode ALLOW_ANY_DYNAMIC_DNS (a dynamic forward proxy for unknown HTTP hosts)"},
	// 1.31: pilot/pkg/security/authz/model/model.go attrSrcTrustDomain,
	// srcTrustDomainGenerator (absent at 1.30.0).
	ruleSourceTrustDomains: {since: 31, decidedBy: byIstiod,
		what: "AuthorizationPolicy source.trustDomains / notTrustDomains and the when key source.trustDomain"},
}

// ruleOn tells whether a rule holds for a component at minor, honouring
// the control plane's flag when the rule is istiod's and the flag is set.
func (m *model) ruleOn(id ruleID, minor int) bool { return ruleAt(id, m.cp, minor) }

// ruleAt tells whether a rule holds at minor under the istiod cp (nil: not
// read), honouring cp's flag while the flag exists.
func ruleAt(id ruleID, cp *controlPlane, minor int) bool {
	r := versionRules[id]
	if r.decidedBy == byIstiod && cp != nil && r.flag != "" && (r.flagGone == 0 || minor < r.flagGone) {
		if v, ok := cp.flags[r.flag]; ok {
			if b, err := strconv.ParseBool(v); err == nil {
				return b
			}
		}
	}
	return minor >= r.since
}

// istiodRule tells whether an istiod rule holds for the control plane the
// answer assumes.
func (m *model) istiodRule(id ruleID) bool { return m.ruleOn(id, m.istioMinor) }

// podIstiodRule tells whether an istiod rule holds for the configuration
// of pod p's own proxy — its inbound chain and authorization filters come
// from its istiod, not SRC's: that istiod's version and flags when it was
// read, else the control plane the answer assumes.
func (m *model) podIstiodRule(id ruleID, p *corev1.Pod) bool {
	if p != nil {
		if cp := m.controlPlaneFor(p); cp != nil && cp.minor > 0 {
			return ruleAt(id, cp, cp.minor)
		}
	}
	return m.istiodRule(id)
}

// verified tells whether the model is checked against minor.
func verified(minor int) bool { return slices.Contains(verifiedMinors, minor) }

// verifiedList is "1.31" or "1.27, 1.31".
func verifiedList() []string {
	out := make([]string, len(verifiedMinors))
	for i, v := range verifiedMinors {
		out[i] = fmt.Sprintf("1.%d", v)
	}
	return out
}

// skewSupported mirrors Istio's supported-releases policy ("Control
// Plane/Data Plane Skew"): the control plane may be one minor ahead of the
// data plane; the data plane may not be ahead of the control plane.
func skewSupported(istiodMinor, proxyMinor int) bool {
	d := istiodMinor - proxyMinor
	return d >= 0 && d <= 1
}

// meshMinor is the minor of the istiod that reads the mesh ConfigMap: the
// revision whose ConfigMap it is ("istio" the default revision's,
// "istio-REV" revision REV's), else the first sidecar's proxy image (as
// detectVersionAndDomain); 0 when neither says.
func (m *model) meshMinor() int {
	_, name, _ := strings.Cut(m.mesh.ConfigMap, "/")
	rev := "default"
	if r, ok := strings.CutPrefix(name, "istio-"); ok {
		rev = r
	}
	for _, cp := range m.controlPlanes {
		if cp.revision == rev && cp.minor > 0 {
			return cp.minor
		}
	}
	for _, p := range m.pods {
		if _, minor := proxyMinor(p); minor > 0 {
			return minor
		}
	}
	return 0
}

// meshVersionCheck mirrors an istiod older than the mesh config it is
// given: an outboundTrafficPolicy mode its MeshConfig has no value for
// fails the whole parse (pkg/config/mesh ApplyMeshConfig; protomarshal's
// decoder accepts unknown fields, never unknown enum values), and
// meshwatcher NewCollection keeps the last valid mesh config, Istio's
// defaults when istiod starts with it. The model assumes the defaults.
func (m *model) meshVersionCheck() {
	minor := m.meshMinor()
	if !m.mesh.Found || minor == 0 || m.mesh.OutboundTrafficPolicy != "ALLOW_ANY_DYNAMIC_DNS" || m.ruleOn(ruleAllowAnyDynamicDNS, minor) {
		return
	}
	if since := versionRules[ruleAllowAnyDynamicDNS].since; len(m.controlPlanes) == 0 && minor+1 >= since {
		// The minor is only the proxies' (istiod not read): Istio's skew
		// policy puts istiod at that minor or one ahead, which may know
		// the mode. Do not throw the mesh config away on a guess; say
		// what is at stake. (Two minors or more behind, both lack it.)
		m.meshRejected = fmt.Sprintf("the mesh config %s sets outboundTrafficPolicy mode ALLOW_ANY_DYNAMIC_DNS, which exists from Istio 1.%d; no istiod pod was read and the proxies run 1.%d: "+
			"if istiod is older than 1.%d it cannot parse that mesh config and keeps the one it had before (Istio's defaults when it starts with it). Answered with the mesh config as written",
			m.mesh.ConfigMap, versionRules[ruleAllowAnyDynamicDNS].since, minor, versionRules[ruleAllowAnyDynamicDNS].since)
		return
	}
	m.meshRejected = fmt.Sprintf("the mesh config %s sets outboundTrafficPolicy mode ALLOW_ANY_DYNAMIC_DNS, which Istio 1.%d does not know (it exists from 1.%d): "+
		"its istiod cannot parse that mesh config and keeps the one it had before (Istio's defaults when it starts with it); answered with Istio's defaults (ALLOW_ANY, root namespace istio-system, trust domain cluster.local, no extension providers)",
		m.mesh.ConfigMap, minor, versionRules[ruleAllowAnyDynamicDNS].since)
	read := m.mesh
	m.mesh = snapshot.DefaultMeshConfig()
	m.mesh.Found, m.mesh.ConfigMap = read.Found, read.ConfigMap
}
