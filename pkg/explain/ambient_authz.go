package explain

import (
	"strconv"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// The destination ztunnel's L4 authorization. istiod converts the policies
// for ztunnel (pilot/pkg/serviceregistry/ambient/authorization.go, Istio
// 1.31): convertAuthorizationPolicy drops policies with targetRefs (they
// are the waypoint's), CUSTOM and AUDIT ones ("ztunnel does not support the
// … action") and dry-run ones; handleRule drops an ALLOW rule that has any
// HTTP field (hosts, methods, paths, remoteIpBlocks, requestPrincipals,
// when keys other than source.ip/namespace/principal, destination.ip/port)
// and keeps a DENY rule without them; convertedSelectorPeerAuthentications
// adds the static DENY istio_converted_static_strict (NotPrincipals
// presence) when the workload is STRICT. ztunnel (src/rbac.rs) denies when
// a DENY policy matches, then, when ALLOW policies exist, allows only when
// one matches. The evaluator is authz.go's on a TCP chain (which drops the
// same HTTP fields) with the ztunnel flag for the fields only ztunnel
// treats as HTTP.

const staticStrictPolicy = "istio_converted_static_strict"

// ztunnelAuthorize fills inbound.authorization for an ambient destination.
func (t *tracer) ztunnelAuthorize(f *flow) {
	in, pod := f.r.Inbound, f.land.pod
	proxy := t.m.ztunnelName(pod)
	if u := t.m.authzUnread(pod.Namespace); u != "" {
		in.Authorization = &api.Authorization{Decision: api.AuthzUnknown, Reason: "AuthorizationPolicies could not be read (" + u + "): the answer assumes there are none"}
		f.note(api.StageAuthz, proxy, string(api.AuthzUnknown), api.Reason{Code: api.ReasonAuthzUnknown, Pod: in.Pod, Detail: u})
		return
	}
	set := t.m.ztunnelPolicies(t.m.authzPolicies(pod))
	srcIP := t.srcIP
	if f.peerIP != "" {
		srcIP = f.peerIP
	}
	a := authzAttrs{ztunnel: true, principal: f.peerID, srcIP: srcIP, dstIP: f.land.ip, dstPort: in.Port}
	var d api.Authorization
	if api.MTLSMode(in.Mode) == api.MTLSStrict && f.peerID == "" {
		rule := 0
		d = api.Authorization{Decision: api.AuthzDeny, Action: api.AuthzActionDeny, Policy: t.m.mesh.RootNamespace + "/" + staticStrictPolicy, Rule: &rule,
			Reason: "the workload is STRICT (" + in.ModeSource + ") and the connection carries no identity: istiod's " + staticStrictPolicy + " policy denies it"}
	} else {
		d = t.m.authorize(set, a)
	}
	d.Policies, d.Principal = set.names(), a.principal
	in.Authorization = &d
	if d.Decision != api.AuthzDeny {
		f.step(api.Step{Stage: api.StageAuthz, Proxy: proxy, Name: string(d.Decision)})
		return
	}
	symptom := "connection reset by peer (the destination's ztunnel answers the HBONE CONNECT with 401)"
	if f.peerID == "" {
		symptom = "connection reset by peer (the destination's ztunnel closes it)"
	}
	if nsOf(d.Policy) == t.m.mesh.RootNamespace && nameOf(d.Policy) == staticStrictPolicy {
		pa := t.m.composePeerAuthentication(pod.Namespace, pod.Labels)
		f.fail(api.StageAuthz, proxy, string(d.Decision), api.Reason{Code: api.ReasonAmbientStrict, Pod: in.Pod, Port: in.Port, Mode: in.Mode, Source: in.ModeSource,
			Object: pa.deciderRef(in.Port)}, symptom)
		return
	}
	code := api.ReasonAuthzDenied
	if d.Action != api.AuthzActionDeny {
		code = api.ReasonAuthzNotAllowed
	}
	var obj *api.ObjectRef
	if d.Policy != "" {
		obj = ref("AuthorizationPolicy", nsOf(d.Policy), nameOf(d.Policy))
	}
	f.fail(api.StageAuthz, proxy, string(d.Decision), api.Reason{Code: code, Pod: in.Pod, Port: in.Port, Object: obj, Detail: d.Reason}, symptom)
}

// ztunnelPolicies keeps what istiod sends ztunnel of a workload's policies:
// ALLOW and DENY, not dry-run (targetRefs ones are not in the set).
func (m *model) ztunnelPolicies(s authzSet) authzSet {
	keep := func(ps []*securityv1.AuthorizationPolicy) []*securityv1.AuthorizationPolicy {
		var out []*securityv1.AuthorizationPolicy
		for _, p := range ps {
			if dry, _ := strconv.ParseBool(p.Annotations["istio.io/dry-run"]); !dry {
				out = append(out, p)
			}
		}
		return out
	}
	return authzSet{allow: keep(s.allow), deny: keep(s.deny)}
}

// ztunnelL7 are the fields handleRule treats as HTTP that a sidecar's TCP
// chain still reads.
func (c cond) ztunnelL7() bool {
	switch c.key {
	case "source.ip", "source.namespace", "source.principal", "source.serviceAccount", "source.trustDomain", "destination.ip", "destination.port":
		return false
	}
	return true
}
