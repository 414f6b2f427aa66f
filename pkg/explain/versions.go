package explain

import (
	"fmt"
	"slices"
	"strconv"
)

// verifiedMinors are the Istio minors whose control-plane code the model is
// checked against, request by request (test/istio: the differential suite
// and the name-table check run istio.io/istio at that minor). A control
// plane or proxy of another minor gets a warning naming these.
var verifiedMinors = []int{31}

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
}

// ruleOn tells whether a rule holds for a component at minor, honouring
// the control plane's flag when the rule is istiod's and the flag is set.
func (m *model) ruleOn(id ruleID, minor int) bool {
	r := versionRules[id]
	if r.decidedBy == byIstiod && m.cp != nil && r.flag != "" && (r.flagGone == 0 || minor < r.flagGone) {
		if v, ok := m.cp.flags[r.flag]; ok {
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
