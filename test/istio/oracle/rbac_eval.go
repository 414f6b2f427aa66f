package oracle

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routepb "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	uritemplate "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	matcherpb "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// An evaluator of Envoy RBAC (envoy.config.rbac.v3) for the matchers istiod
// emits (pilot/pkg/security/authz/model: permission.go, principal.go,
// generator.go), written from Envoy's documented semantics: a policy matches
// when any of its permissions and any of its principals match; and/or/not
// compose; an engine's effective policy is the first matching policy in name
// order (Envoy keeps policies in a std::map). It lives in the test module
// only: it is the oracle the product's own authorization stage is checked
// against, never a copy of it.
//
// Matching is three-valued: some matchers read what the API cannot see (the
// JWT filter's metadata for request.auth.*, experimental.envoy.filters.*
// metadata); they evaluate to maybe, and and/or/not propagate it the way
// Kleene logic does, so a rule whose outcome does not depend on them still
// decides.

type tri int8

const (
	no tri = iota
	yes
	maybe
)

func (v tri) String() string { return [...]string{"no", "yes", "maybe"}[v] }

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

func (v tri) not() tri {
	switch v {
	case yes:
		return no
	case no:
		return yes
	}
	return maybe
}

// and: no wins, then maybe. or: yes wins, then maybe.
func and(vs ...tri) tri {
	out := yes
	for _, v := range vs {
		if v == no {
			return no
		}
		if v == maybe {
			out = maybe
		}
	}
	return out
}

func or(vs ...tri) tri {
	out := no
	for _, v := range vs {
		if v == yes {
			return yes
		}
		if v == maybe {
			out = maybe
		}
	}
	return out
}

// rbacRequest is what Envoy's RBAC matchers read of one request on the
// destination sidecar's inbound connection.
type rbacRequest struct {
	HTTP bool // HTTP RBAC filter (headers, path) or network RBAC filter
	// SourceIP is the connection's peer (direct_remote_ip, source_ip);
	// RemoteIP the downstream address after X-Forwarded-For handling
	// (remote_ip); DestIP:DestPort the connection's local address (the
	// original destination on a sidecar inbound listener).
	SourceIP, RemoteIP, DestIP net.IP
	DestPort                   uint32
	// Principal is the URI SAN of the peer certificate; "" when the
	// connection carries none (plaintext, TLS Envoy does not terminate).
	Principal string
	// TLS is true when Envoy terminated TLS on the connection (an Istio
	// mTLS chain): Authenticated without principal_name matches any such.
	TLS bool
	SNI string // requested server name, "" without TLS
	// Headers by lower-case name, with the pseudo-headers :authority,
	// :method, :path (with query) that Envoy's codec produces.
	Headers map[string]string
	// Metadata is the dynamic metadata earlier filters wrote, by filter
	// name then key (RBAC filters' shadow results, read by ext_authz).
	Metadata map[string]map[string]string
	// Opaque names the filters whose metadata the request may carry but
	// the model cannot know (a JWT payload); any other filter's metadata
	// is absent.
	Opaque map[string]bool
}

// errUnsupported marks a matcher the evaluator does not implement; the
// harness reports it instead of guessing.
type errUnsupported struct{ what string }

func (e errUnsupported) Error() string { return "RBAC evaluator: unsupported " + e.what }

func (r *rbacRequest) policy(p *rbacpb.Policy) (tri, error) {
	if celCondition(p) {
		return maybe, errUnsupported{"policy condition (CEL)"}
	}
	perms, err := each(p.GetPermissions(), r.permission, or)
	if err != nil {
		return maybe, err
	}
	ids, err := each(p.GetPrincipals(), r.principal, or)
	if err != nil {
		return maybe, err
	}
	return and(perms, ids), nil
}

// celCondition says whether the policy carries a CEL condition, by field
// name: cel_config exists only in newer go-control-plane releases (not in
// the one Istio 1.27 is built with), and the harness compiles against both.
func celCondition(p *rbacpb.Policy) bool {
	m := p.ProtoReflect()
	for _, name := range []protoreflect.Name{"condition", "checked_condition", "cel_config"} {
		if fd := m.Descriptor().Fields().ByName(name); fd != nil && m.Has(fd) {
			return true
		}
	}
	return false
}

// each evaluates every matcher of a set and combines the results.
func each[M any](ms []M, eval func(M) (tri, error), combine func(...tri) tri) (tri, error) {
	vs := make([]tri, 0, len(ms))
	for _, m := range ms {
		v, err := eval(m)
		if err != nil {
			return maybe, err
		}
		vs = append(vs, v)
	}
	return combine(vs...), nil
}

func (r *rbacRequest) permission(p *rbacpb.Permission) (tri, error) {
	switch rule := p.GetRule().(type) {
	case *rbacpb.Permission_Any:
		return triOf(rule.Any), nil
	case *rbacpb.Permission_AndRules:
		return each(rule.AndRules.GetRules(), r.permission, and)
	case *rbacpb.Permission_OrRules:
		return each(rule.OrRules.GetRules(), r.permission, or)
	case *rbacpb.Permission_NotRule:
		v, err := r.permission(rule.NotRule)
		return v.not(), err
	case *rbacpb.Permission_Header:
		return r.header(rule.Header)
	case *rbacpb.Permission_UrlPath:
		return r.urlPath(rule.UrlPath)
	case *rbacpb.Permission_UriTemplate:
		return r.uriTemplate(rule.UriTemplate)
	case *rbacpb.Permission_DestinationIp:
		return cidrContains(rule.DestinationIp, r.DestIP), nil
	case *rbacpb.Permission_DestinationPort:
		return triOf(r.DestPort == rule.DestinationPort), nil
	case *rbacpb.Permission_DestinationPortRange:
		pr := rule.DestinationPortRange
		return triOf(int64(r.DestPort) >= int64(pr.GetStart()) && int64(r.DestPort) < int64(pr.GetEnd())), nil
	case *rbacpb.Permission_RequestedServerName:
		return stringMatch(rule.RequestedServerName, r.SNI)
	case *rbacpb.Permission_Metadata:
		return r.metadata(rule.Metadata), nil
	}
	return maybe, errUnsupported{fmt.Sprintf("permission %T", p.GetRule())}
}

func (r *rbacRequest) principal(p *rbacpb.Principal) (tri, error) {
	switch id := p.GetIdentifier().(type) {
	case *rbacpb.Principal_Any:
		return triOf(id.Any), nil
	case *rbacpb.Principal_AndIds:
		return each(id.AndIds.GetIds(), r.principal, and)
	case *rbacpb.Principal_OrIds:
		return each(id.OrIds.GetIds(), r.principal, or)
	case *rbacpb.Principal_NotId:
		v, err := r.principal(id.NotId)
		return v.not(), err
	case *rbacpb.Principal_Authenticated_:
		// No TLS terminated: no peer certificate, never matches.
		if !r.TLS {
			return no, nil
		}
		if id.Authenticated.GetPrincipalName() == nil {
			return yes, nil
		}
		return stringMatch(id.Authenticated.GetPrincipalName(), r.Principal)
	case *rbacpb.Principal_FilterState:
		// Istio's io.istio.peer_principal (HBONE / waypoints): the peer
		// identity in filter state, absent without one.
		fs := id.FilterState
		if fs.GetKey() != "io.istio.peer_principal" {
			return maybe, errUnsupported{"filter_state key " + fs.GetKey()}
		}
		if r.Principal == "" {
			return no, nil
		}
		sm := fs.GetStringMatch()
		if sm == nil {
			return maybe, errUnsupported{"filter_state matcher other than string_match"}
		}
		return stringMatch(sm, r.Principal)
	case *rbacpb.Principal_SourceIp:
		return cidrContains(id.SourceIp, r.SourceIP), nil
	case *rbacpb.Principal_DirectRemoteIp:
		return cidrContains(id.DirectRemoteIp, r.SourceIP), nil
	case *rbacpb.Principal_RemoteIp:
		return cidrContains(id.RemoteIp, r.RemoteIP), nil
	case *rbacpb.Principal_Header:
		return r.header(id.Header)
	case *rbacpb.Principal_UrlPath:
		return r.urlPath(id.UrlPath)
	case *rbacpb.Principal_Metadata:
		return r.metadata(id.Metadata), nil
	}
	return maybe, errUnsupported{fmt.Sprintf("principal %T", p.GetIdentifier())}
}

// header is Envoy's HeaderMatcher (HeaderUtility::matchHeaders) on the
// request headers; a network RBAC filter has none.
func (r *rbacRequest) header(h *routepb.HeaderMatcher) (tri, error) {
	value, present := "", false
	if r.HTTP {
		value, present = r.Headers[strings.ToLower(h.GetName())]
	}
	if !present && h.GetTreatMissingHeaderAsEmpty() {
		present = true
	}
	if !present {
		if pm, ok := h.GetHeaderMatchSpecifier().(*routepb.HeaderMatcher_PresentMatch); ok {
			return triOf(!pm.PresentMatch != h.GetInvertMatch()), nil
		}
		if h.GetInvertMatch() {
			return maybe, errUnsupported{"invert_match on an absent header"}
		}
		return no, nil
	}
	var m tri
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routepb.HeaderMatcher_PresentMatch:
		m = triOf(s.PresentMatch)
	case *routepb.HeaderMatcher_ExactMatch:
		m = triOf(value == s.ExactMatch)
	case *routepb.HeaderMatcher_PrefixMatch:
		m = triOf(strings.HasPrefix(value, s.PrefixMatch))
	case *routepb.HeaderMatcher_SuffixMatch:
		m = triOf(strings.HasSuffix(value, s.SuffixMatch))
	case *routepb.HeaderMatcher_ContainsMatch:
		m = triOf(strings.Contains(value, s.ContainsMatch))
	case *routepb.HeaderMatcher_SafeRegexMatch:
		v, err := regexFullMatch(s.SafeRegexMatch.GetRegex(), value)
		if err != nil {
			return maybe, err
		}
		m = v
	case *routepb.HeaderMatcher_StringMatch:
		v, err := stringMatch(s.StringMatch, value)
		if err != nil {
			return maybe, err
		}
		m = v
	case nil:
		m = yes // no specifier: presence
	default:
		return maybe, errUnsupported{fmt.Sprintf("header matcher %T", s)}
	}
	if h.GetInvertMatch() {
		m = m.not()
	}
	return m, nil
}

// requestPath is :path without query string and fragment, what url_path
// and uri_template match.
func (r *rbacRequest) requestPath() (string, bool) {
	p, ok := r.Headers[":path"]
	if !ok || !r.HTTP {
		return "", false
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return p, true
}

func (r *rbacRequest) urlPath(pm *matcherpb.PathMatcher) (tri, error) {
	p, ok := r.requestPath()
	if !ok {
		return no, nil
	}
	return stringMatch(pm.GetPath(), p)
}

func (r *rbacRequest) uriTemplate(ext *core.TypedExtensionConfig) (tri, error) {
	cfg := &uritemplate.UriTemplateMatchConfig{}
	if err := ext.GetTypedConfig().UnmarshalTo(cfg); err != nil {
		return maybe, errUnsupported{"uri_template config " + ext.GetTypedConfig().GetTypeUrl()}
	}
	p, ok := r.requestPath()
	if !ok {
		return no, nil
	}
	re, err := uriTemplateRegex(cfg.GetPathTemplate())
	if err != nil {
		return maybe, err
	}
	return triOf(re.MatchString(p)), nil
}

// uriTemplateRegex turns an Envoy path template (envoy.path.match.uri_template)
// into a regular expression, per its documented syntax: "*" is one path
// segment of at least one pchar, "**" zero or more characters including
// "/" (only as the last operator), literals match themselves; the whole
// path must match. Istio emits only "*" and "**" ({*}, {**} in the policy).
func uriTemplateRegex(tmpl string) (*regexp.Regexp, error) {
	const pchar = `a-zA-Z0-9\-._~%!$&'()+,;:@=`
	if !strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("uri_template %q: must start with /", tmpl)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(tmpl); {
		switch {
		case strings.HasPrefix(tmpl[i:], "**"):
			b.WriteString("[" + pchar + "/]*")
			i += 2
		case tmpl[i] == '*':
			b.WriteString("[" + pchar + "]+")
			i++
		case tmpl[i] == '{':
			return nil, errUnsupported{"uri_template variables in " + tmpl}
		default:
			j := i
			for j < len(tmpl) && tmpl[j] != '*' && tmpl[j] != '{' {
				j++
			}
			b.WriteString(regexp.QuoteMeta(tmpl[i:j]))
			i = j
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// metadata is a MetadataMatcher on dynamic metadata. The RBAC filters'
// own results (read by ext_authz's filter_enabled_metadata) are known; a
// filter the request may have given metadata the model cannot see (the
// JWT filter with a token to read: request.auth.*) is maybe; any other
// filter wrote nothing, and a missing value does not match (Envoy's
// MetadataMatcher), invert aside.
func (r *rbacRequest) metadata(m *matcherpb.MetadataMatcher) tri {
	if r.Opaque[m.GetFilter()] {
		return maybe
	}
	var v string
	present := false
	if len(m.GetPath()) == 1 && rbacFilters[m.GetFilter()] {
		v, present = r.Metadata[m.GetFilter()][m.GetPath()[0].GetKey()]
	}
	var out tri
	switch mp := m.GetValue().GetMatchPattern().(type) {
	case *matcherpb.ValueMatcher_PresentMatch:
		out = triOf(present == mp.PresentMatch)
	default:
		if !present {
			out = no
			break
		}
		sm := m.GetValue().GetStringMatch()
		if sm == nil {
			return maybe
		}
		s, err := stringMatch(sm, v)
		if err != nil {
			return maybe
		}
		out = s
	}
	if m.GetInvert() {
		out = out.not()
	}
	return out
}

// stringMatch is Envoy's StringMatcher: exact, prefix, suffix, contains
// (each optionally ignoring ASCII case) and safe_regex (RE2, whole string).
func stringMatch(m *matcherpb.StringMatcher, s string) (tri, error) {
	if m == nil {
		return yes, nil
	}
	value, fold := s, m.GetIgnoreCase()
	cmp := func(pattern string, f func(string, string) bool) tri {
		if fold {
			return triOf(f(strings.ToLower(value), strings.ToLower(pattern)))
		}
		return triOf(f(value, pattern))
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherpb.StringMatcher_Exact:
		return cmp(p.Exact, func(a, b string) bool { return a == b }), nil
	case *matcherpb.StringMatcher_Prefix:
		return cmp(p.Prefix, strings.HasPrefix), nil
	case *matcherpb.StringMatcher_Suffix:
		return cmp(p.Suffix, strings.HasSuffix), nil
	case *matcherpb.StringMatcher_Contains:
		return cmp(p.Contains, strings.Contains), nil
	case *matcherpb.StringMatcher_SafeRegex:
		return regexFullMatch(p.SafeRegex.GetRegex(), value)
	}
	return maybe, errUnsupported{fmt.Sprintf("string matcher %T", m.GetMatchPattern())}
}

// rbacFilters are the filters whose dynamic metadata the evaluator writes
// (decide): missing keys there are known to be absent.
var rbacFilters = map[string]bool{"envoy.filters.http.rbac": true, "envoy.filters.network.rbac": true}

var regexCache = map[string]*regexp.Regexp{}

// regexFullMatch: Envoy's safe_regex is RE2 and must match the whole value;
// Go's regexp is RE2 syntax.
func regexFullMatch(expr, s string) (tri, error) {
	re, ok := regexCache[expr]
	if !ok {
		var err error
		if re, err = regexp.Compile(`^(?:` + expr + `)$`); err != nil {
			return maybe, fmt.Errorf("RBAC evaluator: regex %q: %v", expr, err)
		}
		regexCache[expr] = re
	}
	return triOf(re.MatchString(s)), nil
}

// cidrContains is Envoy's CidrRange match; an unset prefix_len is 0.
func cidrContains(c *core.CidrRange, ip net.IP) tri {
	if ip == nil {
		return no
	}
	base := net.ParseIP(c.GetAddressPrefix())
	if base == nil {
		return no
	}
	bits := 128
	if base.To4() != nil {
		base, bits = base.To4(), 32
		if ip = ip.To4(); ip == nil {
			return no
		}
	} else if ip.To4() != nil {
		return no
	} else {
		ip = ip.To16()
	}
	n := &net.IPNet{IP: base, Mask: net.CIDRMask(int(c.GetPrefixLen().GetValue()), bits)}
	n.IP = n.IP.Mask(n.Mask)
	return triOf(n.Contains(ip))
}

// engineResult is one RBAC engine (rules or shadow_rules) on one request:
// the policies that match, may match, in Envoy's (name) order.
type engineResult struct {
	Action  rbacpb.RBAC_Action
	Matched []string
	Maybe   []string
}

// effective is the policy Envoy reports as the engine's effective policy
// (the first match in name order) and whether it is certain: a maybe
// named before the first match could be the one.
func (e engineResult) effective() (name string, certain bool) {
	switch {
	case len(e.Matched) == 0 && len(e.Maybe) == 0:
		return "", true
	case len(e.Matched) == 0:
		return e.Maybe[0], false
	case len(e.Maybe) == 0:
		return e.Matched[0], true
	}
	return min(e.Matched[0], e.Maybe[0]), e.Matched[0] < e.Maybe[0]
}

func (r *rbacRequest) engine(rules *rbacpb.RBAC) (engineResult, error) {
	res := engineResult{Action: rules.GetAction()}
	names := make([]string, 0, len(rules.GetPolicies()))
	for n := range rules.GetPolicies() {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, err := r.policy(rules.GetPolicies()[n])
		if err != nil {
			return res, fmt.Errorf("policy %s: %w", n, err)
		}
		switch v {
		case yes:
			res.Matched = append(res.Matched, n)
		case maybe:
			res.Maybe = append(res.Maybe, n)
		}
	}
	return res, nil
}
