package explain

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// The authorization stage mirrors the RBAC filters istiod puts on the
// destination sidecar's inbound chain (Istio 1.31):
//   - which policies apply: pilot/pkg/model/authorization.go
//     ListAuthorizationPolicies + policyattachment.go ShouldAttachPolicy
//     (root namespace and the workload's namespace; selector ⊆ labels or
//     no selector; a policy with targetRefs never binds to a sidecar);
//   - how each rule becomes an Envoy RBAC policy:
//     pilot/pkg/security/authz/builder/builder.go build (dry-run policies
//     go to shadow rules; a policy without rules never matches; rules
//     named ns[NS]-policy[NAME]-rule[i]) and authz/model/model.go New /
//     Generate / checkError (HTTP-only fields on a TCP chain drop the
//     whole rule of an ALLOW policy but only the field of a DENY/AUDIT one);
//   - how Envoy evaluates them: ext_authz for CUSTOM rules that match,
//     then the DENY filter, then the ALLOW filter (an ALLOW filter whose
//     rules never match denies everything); AUDIT only logs.
//
// Matchers follow authz/model/generator.go and authz/matcher (principals
// on the peer certificate's URI SAN, namespaces and service accounts by
// regex on it, trust domain aliases via trustdomain.Bundle).

// authzAttrs is what the destination's RBAC filters see of a request.
type authzAttrs struct {
	http      bool   // an HTTP chain (HCM) rather than tcp_proxy
	principal string // the peer certificate's URI SAN: Istio mTLS only
	srcIP     string
	dstIP     string
	dstPort   int32
	host      string // :authority
	path      string
	method    string
	headers   map[string]string // lower-case names
	sni       string
	// hasToken: the request carries a JWT where jwt_authn looks for one;
	// jwtClaimsMatch is the assumption made about its claims.
	hasToken, jwtClaimsMatch bool
	// trustDomains: the destination's istiod knows source.trustDomains
	// (ruleSourceTrustDomains).
	trustDomains bool
	// ztunnel: the destination is ztunnel (ambient_authz.go): rules are
	// converted and matched as istiod and ztunnel do (ztunnelRuleMatches).
	ztunnel bool
}

// remoteIP is Envoy's remote address on the inbound connection manager
// (use_remote_address false, no trusted hops): the last X-Forwarded-For
// entry the request carries, else the peer's address.
func (a authzAttrs) remoteIP() string {
	if xff := a.headers["x-forwarded-for"]; xff != "" && a.http {
		parts := strings.Split(xff, ",")
		return strings.TrimSpace(parts[len(parts)-1])
	}
	return a.srcIP
}

// authzMatch is a rule of a policy that matches the request.
type authzMatch struct {
	pol  *securityv1.AuthorizationPolicy
	rule int
	name string // ns[NS]-policy[NAME]-rule[i]: Envoy reports the first by name
}

// authzStage decides what the destination sidecar's authorization does with
// a request its inbound chain accepted.
func (t *tracer) authzStage(f *flow) {
	in := f.r.Inbound
	if in == nil || !in.Accepted || !in.Captured || f.land.pod == nil {
		return
	}
	if t.m.dataplaneOf(f.land.pod) == api.DataplaneAmbient {
		t.ztunnelAuthorize(f)
		return
	}
	t.authorizeInbound(f)
}

// authorizeInbound fills inbound.authorization and records the stage.
func (t *tracer) authorizeInbound(f *flow) {
	in := f.r.Inbound
	a, unread := t.authzDecision(f)
	in.Authorization = &a
	switch {
	case unread != "":
		f.note(api.StageAuthz, in.Pod, string(a.Decision), api.Reason{Code: api.ReasonAuthzUnknown, Pod: in.Pod, Detail: unread})
	case a.Decision == api.AuthzDeny:
		f.fail(api.StageAuthz, in.Pod, string(a.Decision), denyReason(a, in.Pod, in.Port), t.authzSymptom(f, a))
	case a.Decision == api.AuthzCustom:
		var obj *api.ObjectRef
		if a.Policy != "" {
			ns, name, _ := strings.Cut(a.Policy, "/")
			obj = ref("AuthorizationPolicy", ns, name)
		}
		f.note(api.StageAuthz, in.Pod, string(a.Decision), api.Reason{Code: api.ReasonAuthzCustom, Pod: in.Pod, Port: in.Port, Object: obj, Detail: a.Reason})
	default:
		f.step(api.Step{Stage: api.StageAuthz, Proxy: in.Pod, Name: string(a.Decision)})
	}
}

// denyReason is the reason of a denial: AUTHZ_DENIED for a matching DENY
// rule, AUTHZ_NOT_ALLOWED when ALLOW policies match nothing.
func denyReason(a api.Authorization, pod string, port int32) api.Reason {
	code := api.ReasonAuthzDenied
	if a.Action != api.AuthzActionDeny {
		code = api.ReasonAuthzNotAllowed
	}
	var obj *api.ObjectRef
	if a.Policy != "" {
		ns, name, _ := strings.Cut(a.Policy, "/")
		obj = ref("AuthorizationPolicy", ns, name)
	}
	return api.Reason{Code: code, Pod: pod, Port: port, Object: obj, Detail: a.Reason}
}

// authzDecision is what the destination's RBAC filters decide for the
// request on the chain that accepted it; unread says why the policies are
// unknown ("" when read).
func (t *tracer) authzDecision(f *flow) (a api.Authorization, unread string) {
	pod := f.land.pod
	if u := t.m.authzUnread(pod.Namespace); u != "" {
		return api.Authorization{Decision: api.AuthzUnknown, Reason: "AuthorizationPolicies could not be read (" + u + "): the answer assumes there are none"}, u
	}
	set := t.m.authzPolicies(pod)
	attrs := t.authzAttrs(f)
	a = t.m.authorize(set, attrs)
	if attrs.hasToken {
		// What the API cannot see: the token's claims. Where they change
		// the outcome, the answer depends on them.
		other := attrs
		other.jwtClaimsMatch = true
		if b := t.m.authorize(set, other); b.Decision != a.Decision {
			// Name the rule that reads the claims: the one that matches
			// when they do.
			dep := b
			if dep.Policy == "" {
				dep = a
			}
			a = api.Authorization{Decision: api.AuthzCustom, Action: dep.Action, Policy: dep.Policy, Rule: dep.Rule,
				Reason: "depends on the claims of the JWT the request carries (requestPrincipals / request.auth.*): " + a.Reason + " if they do not match; " + b.Reason + " if they do"}
		}
	}
	a.Policies, a.Principal = set.names(), attrs.principal
	return a, ""
}

// authzUnread says why the AuthorizationPolicies of a namespace (or the
// root namespace) are unknown: forbidden or not installed. "" when read.
func (m *model) authzUnread(ns string) string {
	for _, u := range m.s.Unread {
		if u.Resource != "authorizationpolicies.security.istio.io" || u.Cause == snapshot.UnreadNotInstalled {
			continue // an absent CRD means there are none
		}
		switch {
		case u.Namespace == ns || u.Namespace == m.mesh.RootNamespace:
			return u.Reason
		case u.Namespace == "" && u.Cause != snapshot.UnreadForbidden:
			// A forbidden cluster-wide list is retried per namespace (the
			// entries above); any other failure leaves them unread.
			return u.Reason
		}
	}
	return ""
}

// authzSet is the policies that apply to one workload, by action, each in
// creation order (push context sortConfigByCreationTime).
type authzSet struct {
	custom, deny, allow, audit []*securityv1.AuthorizationPolicy
}

func (s authzSet) names() []string {
	var out []string
	for _, l := range [][]*securityv1.AuthorizationPolicy{s.custom, s.deny, s.allow, s.audit} {
		for _, p := range l {
			out = append(out, p.Namespace+"/"+p.Name)
		}
	}
	return out
}

// authzPolicies mirrors ListAuthorizationPolicies for a sidecar workload.
// The set depends only on the pod's namespace and labels; it is computed
// once per pod (a fleet asks for the same destination many times).
func (m *model) authzPolicies(pod *corev1.Pod) authzSet {
	key := podKey(pod)
	if s, ok := m.authzSets.Load(key); ok {
		return s.(authzSet)
	}
	s := m.listAuthzPolicies(pod)
	m.authzSets.Store(key, s)
	return s
}

func (m *model) listAuthzPolicies(pod *corev1.Pod) authzSet {
	var pols []*securityv1.AuthorizationPolicy
	for _, p := range m.s.AuthorizationPolicies {
		if p.Namespace != m.mesh.RootNamespace && p.Namespace != pod.Namespace {
			continue
		}
		if len(p.Spec.GetTargetRefs()) > 0 || p.Spec.GetTargetRef() != nil {
			continue // binds to gateways and waypoints only
		}
		if sel := p.Spec.GetSelector(); sel != nil && !labelsMatch(sel.GetMatchLabels(), pod.Labels) {
			continue
		}
		pols = append(pols, p)
	}
	sort.SliceStable(pols, func(i, j int) bool {
		a, b := pols[i], pols[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	var s authzSet
	for _, p := range pols {
		s.add(p)
	}
	return s
}

// add files a policy under its action.
func (s *authzSet) add(p *securityv1.AuthorizationPolicy) {
	switch p.Spec.GetAction() {
	case securityapi.AuthorizationPolicy_ALLOW:
		s.allow = append(s.allow, p)
	case securityapi.AuthorizationPolicy_DENY:
		s.deny = append(s.deny, p)
	case securityapi.AuthorizationPolicy_AUDIT:
		s.audit = append(s.audit, p)
	case securityapi.AuthorizationPolicy_CUSTOM:
		s.custom = append(s.custom, p)
	}
}

// authzAttrs collects what the destination sees of the request.
func (t *tracer) authzAttrs(f *flow) authzAttrs {
	in := f.r.Inbound
	a := authzAttrs{
		http:    in.VirtualHost != "",
		srcIP:   t.srcIP,
		dstIP:   f.land.ip,
		dstPort: in.Port,
		host:    f.c.host,
		path:    f.c.path,
		method:  f.c.method,
		headers: f.c.headers,
	}
	if a.method == "" {
		a.method = "GET"
	}
	a.trustDomains = t.m.podIstiodRule(ruleSourceTrustDomains, f.land.pod)
	if a.http {
		_, query, _ := strings.Cut(a.path, "?")
		a.hasToken = strings.HasPrefix(strings.ToLower(a.headers["authorization"]), "bearer ") ||
			strings.HasPrefix(query, "access_token=") || strings.Contains(query, "&access_token=")
	}
	if a.path == "" {
		a.path = "/"
	}
	// Only Istio mTLS from a sidecar carries an Istio identity; the SNI is
	// the one the client cluster sets (model.BuildDNSSrvSubsetKey).
	if f.r.TLS == api.TLSMutual && t.dataplane == api.DataplaneSidecar && f.r.Captured && api.MTLSMode(in.Mode) != api.MTLSDisable {
		a.principal = "spiffe://" + t.m.mesh.TrustDomain + "/ns/" + t.src.Namespace + "/sa/" + serviceAccount(t.src)
		if f.next.kind == choiceService && f.next.svc != nil {
			a.sni = fmt.Sprintf("outbound_.%d_.%s_.%s", f.next.port, f.next.subset, f.next.svc.hostname)
		}
	}
	return a
}

// authorize evaluates the policies in Envoy's filter order.
func (m *model) authorize(s authzSet, a authzAttrs) api.Authorization {
	deny := m.firstMatch(s.deny, securityapi.AuthorizationPolicy_DENY, a)
	if deny.pol != nil {
		return api.Authorization{Decision: api.AuthzDeny, Action: api.AuthzActionDeny, Policy: polKey(deny.pol), Rule: &deny.rule,
			Reason: fmt.Sprintf("DENY policy %s rule %d matches the request", polKey(deny.pol), deny.rule)}
	}
	if enforced := enforcedPolicies(s.allow); len(enforced) > 0 {
		allow := m.firstMatch(s.allow, securityapi.AuthorizationPolicy_ALLOW, a)
		if allow.pol == nil {
			why := "ALLOW policies " + strings.Join(keysOf(enforced), ", ") + " apply and no rule of theirs matches"
			if a.principal == "" {
				why += " (the request carries no peer identity: principals, namespaces and service accounts cannot match)"
			}
			return api.Authorization{Decision: api.AuthzDeny, Action: api.AuthzActionAllow, Reason: why}
		}
		if c := m.firstMatch(s.custom, securityapi.AuthorizationPolicy_CUSTOM, a); c.pol != nil {
			return m.customDecision(c)
		}
		return api.Authorization{Decision: api.AuthzAllow, Action: api.AuthzActionAllow, Policy: polKey(allow.pol), Rule: &allow.rule,
			Reason: fmt.Sprintf("ALLOW policy %s rule %d matches the request", polKey(allow.pol), allow.rule)}
	}
	if c := m.firstMatch(s.custom, securityapi.AuthorizationPolicy_CUSTOM, a); c.pol != nil {
		return m.customDecision(c)
	}
	if len(s.deny)+len(s.allow)+len(s.audit)+len(s.custom) == 0 {
		return api.Authorization{Decision: api.AuthzAllow, Reason: "no AuthorizationPolicy applies to the workload"}
	}
	return api.Authorization{Decision: api.AuthzAllow, Reason: "no DENY rule matches and no ALLOW policy applies"}
}

// customDecision: a matching CUSTOM rule sends the request to the
// extension provider (ext_authz), whose answer is unknowable here. A
// provider missing from meshConfig.extensionProviders makes istiod emit a
// deny filter for the matching requests instead (builder.go
// getBadCustomDenyRules).
func (m *model) customDecision(c authzMatch) api.Authorization {
	prov := c.pol.Spec.GetProvider().GetName()
	if !m.providerUsable(prov) {
		return api.Authorization{Decision: api.AuthzDeny, Action: api.AuthzActionCustom, Policy: polKey(c.pol), Rule: &c.rule, Provider: prov,
			Reason: fmt.Sprintf("CUSTOM policy %s names provider %q, which meshConfig.extensionProviders does not define or whose service does not exist: istiod denies the requests its rules match", polKey(c.pol), prov)}
	}
	return api.Authorization{Decision: api.AuthzCustom, Action: api.AuthzActionCustom, Policy: polKey(c.pol), Rule: &c.rule, Provider: prov,
		Reason: fmt.Sprintf("CUSTOM policy %s rule %d sends the request to the extension provider %q, whose answer decides", polKey(c.pol), c.rule, prov)}
}

// providerUsable mirrors builder/extauthz.go getExtAuthz: the provider is
// defined and its service is a service of the mesh.
func (m *model) providerUsable(name string) bool {
	ep, ok := m.mesh.ExtensionProviders[name]
	if !ok {
		return false
	}
	host := ep.Service
	if _, h, found := strings.Cut(host, "/"); found {
		host = h
	}
	return len(m.byHost[host]) > 0 || len(m.byHost[host+".svc."+m.clusterDomain]) > 0
}

// customApplies: on a TCP chain only gRPC providers get a (network)
// ext_authz filter; istiod ignores a CUSTOM policy of an HTTP provider there
// (builder.go: "ignored CUSTOM action with HTTP provider on TCP filter chain").
func (m *model) customApplies(p *securityv1.AuthorizationPolicy, a authzAttrs) bool {
	if a.http {
		return true
	}
	ep, ok := m.mesh.ExtensionProviders[p.Spec.GetProvider().GetName()]
	return !ok || !m.providerUsable(p.Spec.GetProvider().GetName()) || ep.Kind != "envoyExtAuthzHttp"
}

func polKey(p *securityv1.AuthorizationPolicy) string { return p.Namespace + "/" + p.Name }

func keysOf(ps []*securityv1.AuthorizationPolicy) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, polKey(p))
	}
	return out
}

// enforcedPolicies drops dry-run policies (istio.io/dry-run: their rules
// are shadow rules, logged, never enforced).
func enforcedPolicies(ps []*securityv1.AuthorizationPolicy) []*securityv1.AuthorizationPolicy {
	var out []*securityv1.AuthorizationPolicy
	for _, p := range ps {
		if dry, _ := strconv.ParseBool(p.Annotations["istio.io/dry-run"]); !dry {
			out = append(out, p)
		}
	}
	return out
}

// firstMatch is the matching rule Envoy reports: of all enforced rules that
// match, the first by policy name (Envoy keeps RBAC policies in a map
// ordered by name).
func (m *model) firstMatch(ps []*securityv1.AuthorizationPolicy, action securityapi.AuthorizationPolicy_Action, a authzAttrs) authzMatch {
	var best authzMatch
	if action != securityapi.AuthorizationPolicy_CUSTOM {
		// Dry-run CUSTOM policies still trigger ext_authz (builder.go buildHTTP).
		ps = enforcedPolicies(ps)
	}
	for _, p := range ps {
		if action == securityapi.AuthorizationPolicy_CUSTOM && !m.customApplies(p, a) {
			continue
		}
		for i, r := range p.Spec.GetRules() {
			if r == nil || !m.ruleMatches(p, r, action, a) {
				continue
			}
			name := fmt.Sprintf("ns[%s]-policy[%s]-rule[%d]", p.Namespace, p.Name, i)
			if best.pol == nil || name < best.name {
				best = authzMatch{pol: p, rule: i, name: name}
			}
		}
	}
	return best
}

// cond is one field of a rule with its values and not-values.
type cond struct {
	key             string
	values, notVals []string
}

// httpOnly mirrors the generators that fail with "is HTTP only" on TCP.
func (c cond) httpOnly() bool {
	switch {
	case c.key == "paths", c.key == "methods", c.key == "hosts", c.key == "requestPrincipals":
		return true
	case strings.HasPrefix(c.key, "request."):
		return true
	}
	return false
}

// ruleMatches mirrors model.New + Generate for one rule and Envoy's
// evaluation of the resulting policy: any permission (to) and any
// principal (from); within each, every condition; within a condition,
// any value and no not-value.
func (m *model) ruleMatches(p *securityv1.AuthorizationPolicy, r *securityapi.Rule, action securityapi.AuthorizationPolicy_Action, a authzAttrs) bool {
	if a.ztunnel {
		return m.ztunnelRuleMatches(p, r, action, a) // ambient_authz.go
	}
	var basePerm, basePrin []cond
	tdKnown := a.trustDomains
	for _, w := range r.GetWhen() {
		c := cond{key: w.GetKey(), values: w.GetValues(), notVals: w.GetNotValues()}
		if c.key == "source.trustDomain" && !tdKnown {
			return false // model.New: "unknown attribute", the rule is skipped
		}
		switch c.key {
		case "destination.ip", "destination.port", "connection.sni":
			basePerm = append(basePerm, c)
		default:
			basePrin = append(basePrin, c)
		}
	}
	var principals [][]cond
	for _, from := range r.GetFrom() {
		l := slices.Clone(basePrin)
		if s := from.GetSource(); s != nil {
			l = append(l,
				cond{"source.principal", s.GetPrincipals(), s.GetNotPrincipals()},
				cond{"requestPrincipals", s.GetRequestPrincipals(), s.GetNotRequestPrincipals()},
				cond{"source.serviceAccount", s.GetServiceAccounts(), s.GetNotServiceAccounts()},
				cond{"source.namespace", s.GetNamespaces(), s.GetNotNamespaces()},
				cond{"remote.ip", s.GetRemoteIpBlocks(), s.GetNotRemoteIpBlocks()},
				cond{"source.ip", s.GetIpBlocks(), s.GetNotIpBlocks()})
			if tdKnown { // before 1.31 istiod's decoder drops the fields
				l = append(l, cond{"source.trustDomain", s.GetTrustDomains(), s.GetNotTrustDomains()})
			}
		}
		principals = append(principals, l)
	}
	if len(r.GetFrom()) == 0 {
		principals = [][]cond{basePrin}
	}
	var permissions [][]cond
	for _, to := range r.GetTo() {
		l := slices.Clone(basePerm)
		if o := to.GetOperation(); o != nil {
			l = append(l,
				cond{"hosts", o.GetHosts(), o.GetNotHosts()},
				cond{"methods", o.GetMethods(), o.GetNotMethods()},
				cond{"paths", o.GetPaths(), o.GetNotPaths()},
				cond{"destination.port", o.GetPorts(), o.GetNotPorts()})
		}
		permissions = append(permissions, l)
	}
	if len(r.GetTo()) == 0 {
		permissions = [][]cond{basePerm}
	}
	forTCP := !a.http
	// Generate: on a TCP chain an HTTP-only field is an error; checkError
	// drops the whole rule of an ALLOW policy, only the field otherwise.
	drop := func(l [][]cond) ([][]cond, bool) {
		var out [][]cond
		for _, conds := range l {
			var keep []cond
			for _, c := range conds {
				if len(c.values) == 0 && len(c.notVals) == 0 {
					continue
				}
				if forTCP && c.httpOnly() {
					if action == securityapi.AuthorizationPolicy_ALLOW {
						return nil, false
					}
					continue
				}
				keep = append(keep, c)
			}
			out = append(out, keep)
		}
		return out, true
	}
	var ok bool
	if principals, ok = drop(principals); !ok {
		return false
	}
	if permissions, ok = drop(permissions); !ok {
		return false
	}
	td := m.trustDomains()
	matchAll := func(conds []cond) bool {
		for _, c := range conds {
			if !m.condMatches(p, c, a, td) {
				return false
			}
		}
		return true
	}
	return slices.ContainsFunc(permissions, matchAll) && slices.ContainsFunc(principals, matchAll)
}

// trustDomains is the bundle: the mesh's trust domain and its aliases.
func (m *model) trustDomains() []string {
	return append([]string{m.mesh.TrustDomain}, m.mesh.TrustDomainAliases...)
}

// condMatches: any value matches and no not-value matches.
func (m *model) condMatches(p *securityv1.AuthorizationPolicy, c cond, a authzAttrs, td []string) bool {
	values, notVals := c.values, c.notVals
	if c.key == "source.principal" {
		values, notVals = withAliases(values, td), withAliases(notVals, td)
	}
	if c.key == "source.trustDomain" {
		values, notVals = expandTDs(values, td), expandTDs(notVals, td)
	}
	one := func(v string) bool { return m.valueMatches(p, c.key, v, a) }
	if len(values) > 0 && !slices.ContainsFunc(values, one) {
		return false
	}
	return !slices.ContainsFunc(notVals, one)
}

// valueMatches mirrors the matcher each generator emits for one value.
func (m *model) valueMatches(p *securityv1.AuthorizationPolicy, key, v string, a authzAttrs) bool {
	switch {
	case key == "source.principal":
		return a.principal != "" && stringWithPrefix(v, "spiffe://", a.principal)
	case key == "source.namespace":
		re := ".*/ns/" + strings.Join(quoteParts(v), ".*") + "/.*"
		return a.principal != "" && fullMatch(re, a.principal)
	case key == "source.serviceAccount":
		ns, sa, ok := strings.Cut(v, "/")
		if !ok {
			ns, sa = p.Namespace, v
		}
		re := "spiffe://.+/ns/" + regexp.QuoteMeta(ns) + "/(.+/|)sa/" + regexp.QuoteMeta(sa) + "(/.+)?"
		return a.principal != "" && fullMatch(re, a.principal)
	case key == "source.trustDomain":
		switch {
		case v == "*":
			return strings.HasPrefix(a.principal, "spiffe://")
		case !strings.Contains(v, "*"):
			return strings.HasPrefix(a.principal, "spiffe://"+v+"/")
		}
		parts := strings.SplitN(v, "*", 2)
		return fullMatch("spiffe://"+regexp.QuoteMeta(parts[0])+"[^/]*"+regexp.QuoteMeta(parts[1])+"/.*", a.principal)
	case key == "source.ip":
		return cidrContains(v, a.srcIP)
	case key == "remote.ip":
		return cidrContains(v, a.remoteIP())
	case key == "destination.ip":
		return cidrContains(v, a.dstIP)
	case key == "destination.port":
		n, err := strconv.Atoi(v)
		return err == nil && int32(n) == a.dstPort
	case key == "connection.sni":
		return stringWithPrefix(v, "", a.sni) && a.sni != ""
	case key == "hosts":
		return headerMatches(v, a.host, true)
	case key == "methods":
		return headerMatches(v, a.method, false)
	case key == "paths":
		return pathMatches(v, a.path)
	case strings.HasPrefix(key, "request.headers["):
		name := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(key, "request.headers["), "]"))
		val, ok := a.headers[name]
		switch name {
		case ":authority", "host":
			val, ok = a.host, a.host != ""
		case ":method":
			val, ok = a.method, true
		case ":path":
			val, ok = a.path, true
		}
		return ok && headerMatches(v, val, false)
	}
	// requestPrincipals and request.auth.*: the JWT's claims decide. A
	// request without a token (where jwt_authn looks: Authorization: Bearer
	// or ?access_token=) has no such metadata, so nothing matches; with a
	// token, authzDecision evaluates both ways.
	return a.jwtClaimsMatch
}

// stringWithPrefix mirrors matcher.StringMatcherWithPrefix.
func stringWithPrefix(v, prefix, s string) bool {
	switch {
	case v == "*":
		return s != ""
	case strings.HasPrefix(v, "*"):
		return strings.HasPrefix(s, prefix) && strings.HasSuffix(s, v[1:])
	case strings.HasSuffix(v, "*"):
		return strings.HasPrefix(s, prefix+strings.TrimSuffix(v, "*"))
	}
	return s == prefix+v
}

// headerMatches mirrors matcher.HeaderMatcher / HostMatcher.
func headerMatches(v, s string, ignoreCase bool) bool {
	if ignoreCase {
		v, s = strings.ToLower(v), strings.ToLower(s)
	}
	switch {
	case v == "*":
		return true // present: the callers pass only headers the request carries
	case strings.HasPrefix(v, "*"):
		return strings.HasSuffix(s, v[1:])
	case strings.HasSuffix(v, "*"):
		return strings.HasPrefix(s, v[:len(v)-1])
	}
	return s == v
}

// pathMatches mirrors pathGenerator: a URI template ({*} one segment,
// {**} the rest) or matcher.StringMatcher on the path without its query.
func pathMatches(v, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	if strings.Contains(v, "{*}") || strings.Contains(v, "{**}") {
		return uriTemplateMatches(strings.NewReplacer("{**}", "**", "{*}", "*").Replace(v), path)
	}
	return stringWithPrefix(v, "", path)
}

// uriTemplateMatches mirrors Envoy's uri_template matcher as Istio's own
// tests exercise it: "*" is one non-empty path segment, "**" any run of
// characters, slashes and empty segments included.
func uriTemplateMatches(tmpl, path string) bool {
	var re strings.Builder
	for i, part := range strings.Split(tmpl, "**") {
		if i > 0 {
			re.WriteString(".*")
		}
		for j, p := range strings.Split(part, "*") {
			if j > 0 {
				re.WriteString("[^/]+")
			}
			re.WriteString(regexp.QuoteMeta(p))
		}
	}
	return fullMatch(re.String(), path)
}

func quoteParts(v string) []string {
	parts := strings.Split(v, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return parts
}

// compiled holds every anchored pattern fullMatch has compiled (nil for a
// pattern that does not compile): the same few patterns are matched for
// every request of a fleet.
var compiled sync.Map

func fullMatch(re, s string) bool {
	v, ok := compiled.Load(re)
	if !ok {
		r, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			r = nil
		}
		v, _ = compiled.LoadOrStore(re, r)
	}
	r := v.(*regexp.Regexp)
	return r != nil && r.MatchString(s)
}

func cidrContains(v, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		return err == nil && a == addr
	}
	pfx, err := netip.ParsePrefix(v)
	return err == nil && pfx.Contains(addr)
}

// withAliases mirrors trustdomain.Bundle.ReplaceTrustDomainAliases: a
// principal whose trust domain is the mesh's, an alias or cluster.local
// stands for every trust domain of the bundle.
func withAliases(principals, td []string) []string {
	var out []string
	for _, p := range principals {
		parts := strings.Split(p, "/")
		if len(parts) != 5 || parts[0] == "*" || (!slices.Contains(td, parts[0]) && parts[0] != "cluster.local") {
			out = append(out, p)
			continue
		}
		for _, d := range td {
			np := d + "/" + strings.Join(parts[1:], "/")
			if !slices.Contains(out, np) {
				out = append(out, np)
			}
		}
	}
	return out
}

// expandTDs mirrors Bundle.ExpandTrustDomainAliases.
func expandTDs(values, td []string) []string {
	var out []string
	for _, v := range values {
		if slices.Contains(td, v) {
			out = append(out, td...)
		} else {
			out = append(out, v)
		}
	}
	return slices.Compact(out)
}

// authzSymptom is what the caller sees of a denial, and what the
// destination sidecar's access log says (rbac_access_denied_matched_policy).
func (t *tracer) authzSymptom(f *flow, d api.Authorization) string {
	matched := "none"
	if d.Action == api.AuthzActionDeny && d.Rule != nil {
		ns, name, _ := strings.Cut(d.Policy, "/")
		matched = fmt.Sprintf("ns[%s]-policy[%s]-rule[%d]", ns, name, *d.Rule)
	}
	log := "DST's sidecar logs rbac_access_denied_matched_policy[" + matched + "]"
	switch {
	case f.r.Inbound.VirtualHost == "":
		return "connection accepted, then closed by DST's sidecar (curl: (56) Recv failure / EOF); " + log
	case f.r.Protocol == api.ProtocolGRPC:
		return "gRPC status PERMISSION_DENIED (7) \"RBAC: access denied\"; " + log
	}
	return `403 Forbidden, body "RBAC: access denied"; ` + log
}

// trustDomainFields lists what of a policy an istiod before
// ruleSourceTrustDomains does not know: the rules with a from on
// source.trustDomains / notTrustDomains (dropped: those froms lose that
// condition) and those with a when on source.trustDomain (skipped).
func trustDomainFields(p *securityv1.AuthorizationPolicy) (dropped, skipped []int) {
	for i, r := range p.Spec.GetRules() {
		if slices.ContainsFunc(r.GetWhen(), func(c *securityapi.Condition) bool { return c.GetKey() == "source.trustDomain" }) {
			skipped = append(skipped, i)
			continue
		}
		if slices.ContainsFunc(r.GetFrom(), func(f *securityapi.Rule_From) bool {
			return len(f.GetSource().GetTrustDomains())+len(f.GetSource().GetNotTrustDomains()) > 0
		}) {
			dropped = append(dropped, i)
		}
	}
	return dropped, skipped
}
