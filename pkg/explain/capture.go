package explain

import (
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// captureStage mirrors the SRC pod's iptables (tools/istio-iptables
// ISTIO_OUTPUT, Istio 1.31): a sidecar captures the flow unless an
// exclusion annotation or the istio-init arguments say otherwise; a pod
// without sidecar (or on hostNetwork) sends the app's own bytes; a pod the
// CNI redirected goes to its ztunnel (ztunnel.go).
func (t *tracer) captureStage(f *flow) {
	if t.dataplane == api.DataplaneSidecar {
		if ok, why := captureConfigOf(t.src).outboundCaptured(f.dialIP, f.c.port); ok {
			f.r.Captured = true
			f.step(api.Step{Stage: api.StageCapture, Proxy: t.srcKey, Name: "captured"})
			return
		} else {
			f.bypass = "the source sidecar does not capture this flow: " + why
		}
	} else {
		if t.dataplane == api.DataplaneAmbient {
			// The CNI redirects the pod's outbound traffic to its node's ztunnel.
			f.r.Captured = true
			f.step(api.Step{Stage: api.StageCapture, Proxy: t.srcKey, Name: "captured by ztunnel"})
			return
		}
		f.bypass = "the source pod has no sidecar"
		if t.m.ambientSelected(t.src) {
			f.bypass = "the source pod is selected for ambient but not redirected (no ambient.istio.io/redirection)"
			f.note(api.StageCapture, t.srcKey, "not captured", api.Reason{Code: api.ReasonAmbientNotEnrolled, Pod: t.srcKey})
			f.r.Steps[len(f.r.Steps)-1].Detail = f.bypass
			return
		}
		if t.src.Spec.HostNetwork {
			f.bypass = "the source pod uses hostNetwork (never injected)"
		}
	}
	f.step(api.Step{Stage: api.StageCapture, Proxy: t.srcKey, Name: "not captured", Detail: f.bypass})
}

// captureConfig is what istio-iptables was told (pod annotations written by
// the injector, or the istio-init arguments): see docs/MODEL.md#capture and
// tools/istio-iptables/pkg/capture/run.go (Istio 1.31).
type captureConfig struct {
	includeOutboundIPRanges string // "*" = all
	excludeOutboundIPRanges []string
	includeOutboundPorts    []string
	excludeOutboundPorts    []string
	includeInboundPorts     string // "*" = all
	excludeInboundPorts     []string
}

func captureConfigOf(p *corev1.Pod) captureConfig {
	c := captureConfig{includeOutboundIPRanges: "*", includeInboundPorts: "*"}
	// istio-init arguments first (what actually ran), annotations override
	// when present (they are what the injector rendered the arguments from).
	for i := range p.Spec.InitContainers {
		ic := &p.Spec.InitContainers[i]
		if ic.Name != "istio-init" && ic.Name != "istio-validation" {
			continue
		}
		args := ic.Args
		for j := 0; j+1 < len(args); j++ {
			v := args[j+1]
			switch args[j] {
			case "-i", "--istio-service-cidr":
				c.includeOutboundIPRanges = v
			case "-x", "--istio-service-exclude-cidr":
				c.excludeOutboundIPRanges = splitList(v)
			case "-q", "--istio-outbound-ports":
				c.includeOutboundPorts = splitList(v)
			case "-o", "--istio-local-outbound-ports-exclude":
				c.excludeOutboundPorts = splitList(v)
			case "-b", "--istio-inbound-ports":
				c.includeInboundPorts = v
			case "-d", "--istio-local-exclude-ports":
				c.excludeInboundPorts = splitList(v)
			}
		}
	}
	a := p.Annotations
	if v, ok := a["traffic.sidecar.istio.io/includeOutboundIPRanges"]; ok {
		c.includeOutboundIPRanges = v
	}
	if v, ok := a["traffic.sidecar.istio.io/excludeOutboundIPRanges"]; ok {
		c.excludeOutboundIPRanges = splitList(v)
	}
	if v, ok := a["traffic.sidecar.istio.io/includeOutboundPorts"]; ok {
		c.includeOutboundPorts = splitList(v)
	}
	if v, ok := a["traffic.sidecar.istio.io/excludeOutboundPorts"]; ok {
		c.excludeOutboundPorts = splitList(v)
	}
	if v, ok := a["traffic.sidecar.istio.io/includeInboundPorts"]; ok {
		c.includeInboundPorts = v
	}
	if v, ok := a["traffic.sidecar.istio.io/excludeInboundPorts"]; ok {
		c.excludeInboundPorts = append(splitList(v), c.excludeInboundPorts...)
	}
	return c
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func portInList(port int32, list []string) bool {
	ps := strconv.Itoa(int(port))
	for _, p := range list {
		if p == ps || p == "*" {
			return true
		}
	}
	return false
}

func ipInRanges(ip string, ranges []string) bool {
	parsed := net.ParseIP(ip)
	for _, r := range ranges {
		if r == "*" {
			return true
		}
		if !strings.Contains(r, "/") {
			if r == ip {
				return true
			}
			continue
		}
		if _, n, err := net.ParseCIDR(r); err == nil && parsed != nil && n.Contains(parsed) {
			return true
		}
	}
	return false
}

// outboundCaptured mirrors the order of istio-iptables' ISTIO_OUTPUT chain:
// excluded ports return first, included ports redirect regardless of IP,
// then excluded IP ranges return, then included IP ranges redirect.
func (c captureConfig) outboundCaptured(ip string, port int32) (bool, string) {
	if portInList(port, c.excludeOutboundPorts) {
		return false, "port " + strconv.Itoa(int(port)) + " is in traffic.sidecar.istio.io/excludeOutboundPorts"
	}
	if portInList(port, c.includeOutboundPorts) {
		return true, ""
	}
	if ipInRanges(ip, c.excludeOutboundIPRanges) {
		return false, ip + " is in traffic.sidecar.istio.io/excludeOutboundIPRanges"
	}
	if c.includeOutboundIPRanges == "*" || ipInRanges(ip, splitList(c.includeOutboundIPRanges)) {
		return true, ""
	}
	return false, ip + " is not in traffic.sidecar.istio.io/includeOutboundIPRanges"
}

// inboundCaptured: includeInboundPorts "*" (default) captures all but the
// excluded ports; a list captures only those ports.
func (c captureConfig) inboundCaptured(port int32) (bool, string) {
	if portInList(port, c.excludeInboundPorts) && c.includeInboundPorts == "*" {
		return false, "port " + strconv.Itoa(int(port)) + " is excluded from inbound capture (traffic.sidecar.istio.io/excludeInboundPorts)"
	}
	if c.includeInboundPorts == "*" {
		return true, ""
	}
	if portInList(port, splitList(c.includeInboundPorts)) {
		return true, ""
	}
	return false, "port " + strconv.Itoa(int(port)) + " is not in traffic.sidecar.istio.io/includeInboundPorts"
}
