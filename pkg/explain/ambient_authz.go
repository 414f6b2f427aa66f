package explain

import (
	"slices"
	"strconv"

	securityapi "istio.io/api/security/v1beta1"
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
// one matches: authz.go's authorize, with ztunnelRuleMatches for a rule.

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
	f.fail(api.StageAuthz, proxy, string(d.Decision), denyReason(d, in.Pod, in.Port), symptom)
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

// ztunnelRuleMatches is one rule as istiod converts it for ztunnel
// (authorization.go handleRule) and ztunnel evaluates it (src/rbac.rs
// Authorization::matches): the rule's clauses (its from list, its to list,
// each when condition) must all match; a clause matches when one of its
// matches does, and an empty match (a source or operation whose fields
// were all HTTP ones, or none that ztunnel reads) never does. An ALLOW rule
// with any HTTP field is dropped: it never matches. HTTP fields of a DENY
// rule are left out of its matches (the rest still applies).
func (m *model) ztunnelRuleMatches(p *securityv1.AuthorizationPolicy, r *securityapi.Rule, action securityapi.AuthorizationPolicy_Action, a authzAttrs) bool {
	l7 := false
	var from, to [][]cond
	for _, f := range r.GetFrom() {
		s := f.GetSource()
		if len(s.GetRequestPrincipals())+len(s.GetNotRequestPrincipals())+len(s.GetRemoteIpBlocks())+len(s.GetNotRemoteIpBlocks()) > 0 {
			l7 = true
		}
		from = append(from, nonEmpty(
			cond{"source.ip", s.GetIpBlocks(), s.GetNotIpBlocks()},
			cond{"source.namespace", s.GetNamespaces(), s.GetNotNamespaces()},
			cond{"source.serviceAccount", s.GetServiceAccounts(), s.GetNotServiceAccounts()},
			cond{"source.principal", s.GetPrincipals(), s.GetNotPrincipals()}))
	}
	for _, t := range r.GetTo() {
		o := t.GetOperation()
		if len(o.GetHosts())+len(o.GetNotHosts())+len(o.GetMethods())+len(o.GetNotMethods())+len(o.GetPaths())+len(o.GetNotPaths()) > 0 {
			l7 = true
		}
		to = append(to, nonEmpty(cond{"destination.port", o.GetPorts(), o.GetNotPorts()}))
	}
	var when [][]cond
	for _, w := range r.GetWhen() {
		c := cond{key: w.GetKey(), values: w.GetValues(), notVals: w.GetNotValues()}
		switch c.key {
		case "source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port":
			when = append(when, nonEmpty(c))
		default:
			l7 = true
			when = append(when, nil) // whenMatch leaves the match empty
		}
	}
	if l7 && action == securityapi.AuthorizationPolicy_ALLOW {
		return false // "L7 policies never match for ALLOW"
	}
	td := m.trustDomains()
	clause := func(matches [][]cond) bool {
		for _, conds := range matches {
			if len(conds) == 0 {
				continue // an empty match never matches
			}
			if !slices.ContainsFunc(conds, func(c cond) bool { return !m.condMatches(p, c, a, td) }) {
				return true
			}
		}
		return false
	}
	if len(r.GetFrom()) > 0 && !clause(from) || len(r.GetTo()) > 0 && !clause(to) {
		return false
	}
	for _, w := range when {
		if !clause([][]cond{w}) {
			return false
		}
	}
	return true
}

// nonEmpty keeps the conditions that carry values.
func nonEmpty(cs ...cond) []cond {
	var out []cond
	for _, c := range cs {
		if len(c.values)+len(c.notVals) > 0 {
			out = append(out, c)
		}
	}
	return out
}
