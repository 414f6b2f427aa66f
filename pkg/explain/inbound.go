package explain

import (
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// inboundTarget is one of the pod's ServiceTargets for a port: the Service
// port whose endpoint (target) port is that pod port.
type inboundTarget struct {
	svc *service
	sp  *servicePort
}

// serviceTargets mirrors the proxy's ServiceTargets keyed by target port
// (pilot/pkg/networking/core/listener_inbound.go getFilterChainsByServicePort):
// Services selecting the pod (targetPort resolved against containerPorts) and
// Services whose EndpointSlices list the pod's IP. When several claim the same
// target port the oldest Service wins (reportInboundConflict).
func (m *model) serviceTargets(pod *corev1.Pod, port int32) *inboundTarget {
	var cands []inboundTarget
	ips := map[string]bool{}
	for _, ip := range podIPs(pod) {
		ips[ip] = true
	}
	for _, svc := range m.services {
		if !svc.isKube() || svc.resolution == "Alias" || svc.namespace != pod.Namespace && len(svc.kube.Spec.Selector) > 0 {
			continue
		}
		for _, sp := range svc.ports {
			hit := false
			if len(svc.kube.Spec.Selector) > 0 && labelsMatch(svc.kube.Spec.Selector, pod.Labels) {
				if tp, ok := resolveTargetPort(pod, sp); ok && tp == port {
					hit = true
				}
			} else if len(svc.kube.Spec.Selector) == 0 {
				for _, ep := range m.endpoints(svc, sp, false) {
					if ips[ep.ip] && ep.port == port {
						hit = true
					}
				}
			}
			if hit {
				cands = append(cands, inboundTarget{svc: svc, sp: sp})
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i].svc, cands[j].svc
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		return a.hostname < b.hostname
	})
	return &cands[0]
}

// resolveTargetPort mirrors the endpoints controller (FindPort): a number,
// a named containerPort, or the service port when unset.
func resolveTargetPort(pod *corev1.Pod, sp *servicePort) (int32, bool) {
	switch {
	case sp.targetPort.Type == intstr.String && sp.targetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.targetPort.StrVal {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case sp.targetPort.IntVal != 0:
		return sp.targetPort.IntVal, true
	}
	return sp.port, true
}

// inbound mirrors the destination sidecar's virtualInbound listener
// (listener_inbound.go buildInboundListeners, filterchain_options.go
// getFilterChainMatchOptions, Istio 1.31): per target port chains named
// "0.0.0.0_PORT" → "inbound|PORT||" (HTTP vhost "inbound|http|SERVICEPORT"),
// other ports pass through ("virtualInbound" / "virtualInbound-catchall-http"
// → InboundPassthroughCluster). STRICT keeps only TLS chains, so plaintext
// finds no filter chain; PERMISSIVE adds raw_buffer chains; DISABLE has only
// raw_buffer chains. Non-HTTP bytes on an HTTP chain are a protocol error.
func (m *model) inbound(pod *corev1.Pod, port int32, tls, traffic string) Inbound {
	in := Inbound{Pod: pod.Namespace + "/" + pod.Name, Port: port}
	dp := m.dataplaneOf(pod)
	if dp != DataplaneSidecar {
		in.Captured = false
		switch {
		case tls == TLSMutual:
			in.Error = "the application has no sidecar and receives Istio mTLS bytes it cannot read"
		default:
			in.Accepted = true
		}
		return in
	}
	if ok, why := captureConfigOf(pod).inboundCaptured(port); !ok {
		in.Captured = false
		in.Mode = "not enforced (" + why + ")"
		if tls == TLSMutual {
			in.Error = "the port bypasses the sidecar (" + why + "); the application receives Istio mTLS bytes"
		} else {
			in.Accepted = true
		}
		return in
	}
	in.Captured = true
	pa := m.composePeerAuthentication(pod.Namespace, pod.Labels)
	in.Mode, in.ModeSource = pa.forPort(port)
	target := m.serviceTargets(pod, port)
	proto := ProtoAuto // passthrough chains sniff
	if target != nil {
		proto = target.sp.protocol
		in.Protocol = proto
		in.FilterChain = "0.0.0.0_" + strconv.Itoa(int(port))
		in.Cluster = fmt.Sprintf("inbound|%d||", port)
	} else {
		in.Protocol = "undeclared (passthrough)"
		in.Cluster = "InboundPassthroughCluster"
		if traffic == "http" {
			in.FilterChain = "virtualInbound-catchall-http"
		} else {
			in.FilterChain = "virtualInbound"
		}
	}
	httpChain := isHTTP(proto)
	if target != nil && httpChain {
		in.VirtualHost = fmt.Sprintf("inbound|http|%d", target.sp.port)
	} else if target == nil && traffic == "http" {
		in.VirtualHost = "inbound|http|0"
	} else if target != nil && proto == ProtoAuto && traffic == "http" {
		in.VirtualHost = fmt.Sprintf("inbound|http|%d", target.sp.port)
	}
	reject := func(msg string) Inbound {
		in.Accepted = false
		in.Error = msg
		in.FilterChain, in.VirtualHost, in.Cluster = "", "", ""
		return in
	}
	switch in.Mode {
	case ModeStrict:
		switch tls {
		case TLSMutual:
		case TLSSimple:
			return reject("invalid mTLS")
		default:
			return reject("no filter chains matched")
		}
	case ModeDisable:
		if tls == TLSMutual && target != nil {
			if httpChain {
				return reject("protocol error")
			}
			in.Error = "the sidecar passes the Istio mTLS bytes through to the application (DISABLE)"
			return in
		}
	default: // PERMISSIVE
		if tls == TLSSimple && target != nil && httpChain {
			return reject("no filter chains matched")
		}
	}
	if httpChain && traffic != "http" && tls != TLSSimple {
		in.Accepted = false
		in.Error = "protocol error"
		in.VirtualHost, in.Cluster = "", ""
		return in
	}
	in.Accepted = true
	return in
}
