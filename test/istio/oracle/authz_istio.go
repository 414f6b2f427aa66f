package oracle

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	extauthzhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtauthn "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	rbachttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	extauthztcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/ext_authz/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbactcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	matcherpb "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pkg/wellknown"
)

// What istiod put on the destination's inbound filter chain for
// AuthorizationPolicy, and what Envoy decides with it for one request.
//
// Sidecar inbound chains (pilot/pkg/networking/core): HTTP chains carry, in
// the HCM's http_filters, CUSTOM (an RBAC filter whose shadow rules mark
// the matching CUSTOM rule, then ext_authz enabled by that mark), then one
// RBAC filter per action, AUDIT (LOG) → DENY → ALLOW
// (security/authz/builder/builder.go build); TCP chains the same as
// network filters before tcp_proxy (networkfilter.go). Shadow rules
// (istio.io/dry-run) are evaluated and logged, never enforced; a LOG
// engine never denies.

// authzFilter is one RBAC or ext_authz filter of the chain, in order.
type authzFilter struct {
	Name string // Envoy filter name
	// RBAC filters.
	Rules, Shadow *rbacpb.RBAC
	ShadowPrefix  string // shadow_rules_stat_prefix: the metadata keys' prefix
	// ext_authz filters.
	ExtAuthz bool
	Enabled  *matcherpb.MetadataMatcher // filter_enabled_metadata; nil: always
	Service  string                     // the provider's cluster
	GRPC     bool                       // a gRPC (not HTTP) ext_authz service
}

// authzChain is the authorization part of a matched inbound filter chain.
type authzChain struct {
	HTTP    bool
	HCM     *hcm.HttpConnectionManager
	Filters []authzFilter
	// Names are all the chain's network and HTTP filters: only these can
	// write the dynamic metadata RBAC metadata matchers read.
	Names map[string]bool
	// JWT is where the jwt_authn filter (a RequestAuthentication) looks
	// for tokens; nil without the filter.
	JWT *tokenLocations
	// Providers are the mesh config's extensionProviders, to name the
	// provider of an ext_authz filter whose metadata does not (providerOf).
	Providers []*meshconfig.MeshConfig_ExtensionProvider
}

// tokenLocations are the places a jwt_authn filter reads tokens from
// (Envoy's default, when a provider names none: the Authorization header
// and the access_token query parameter).
type tokenLocations struct {
	Headers, Params []string
	Cookies         bool
}

// authzOf reads the RBAC and ext_authz filters of an inbound filter chain:
// network filters first (TCP chains), then the HCM's HTTP filters.
func authzOf(fc *listener.FilterChain) (authzChain, error) {
	out := authzChain{Names: map[string]bool{}}
	for _, f := range fc.GetFilters() {
		var err error
		out.Names[f.GetName()] = true
		switch f.GetName() {
		case wellknown.RoleBasedAccessControl:
			err = out.addRBAC(f.GetName(), f.GetTypedConfig(), &rbactcp.RBAC{})
		case wellknown.ExternalAuthorization:
			c := &extauthztcp.ExtAuthz{}
			if err = f.GetTypedConfig().UnmarshalTo(c); err == nil {
				out.Filters = append(out.Filters, authzFilter{Name: f.GetName(), ExtAuthz: true, Enabled: c.GetFilterEnabledMetadata(),
					Service: c.GetGrpcService().GetEnvoyGrpc().GetClusterName(), GRPC: true})
			}
		case wellknown.HTTPConnectionManager:
			out.HTTP, out.HCM = true, &hcm.HttpConnectionManager{}
			if err = f.GetTypedConfig().UnmarshalTo(out.HCM); err != nil {
				break
			}
			for _, hf := range out.HCM.GetHttpFilters() {
				out.Names[hf.GetName()] = true
				switch hf.GetName() {
				case jwtFilter:
					c := &jwtauthn.JwtAuthentication{}
					if err = hf.GetTypedConfig().UnmarshalTo(c); err == nil {
						out.JWT = jwtLocations(c)
					}
				case wellknown.HTTPRoleBasedAccessControl:
					err = out.addRBAC(hf.GetName(), hf.GetTypedConfig(), &rbachttp.RBAC{})
				case wellknown.HTTPExternalAuthorization:
					c := &extauthzhttp.ExtAuthz{}
					if err = hf.GetTypedConfig().UnmarshalTo(c); err != nil {
						break
					}
					svc := c.GetGrpcService().GetEnvoyGrpc().GetClusterName()
					if svc == "" {
						svc = c.GetHttpService().GetServerUri().GetCluster()
					}
					out.Filters = append(out.Filters, authzFilter{Name: hf.GetName(), ExtAuthz: true, Enabled: c.GetFilterEnabledMetadata(), Service: svc,
						GRPC: c.GetGrpcService() != nil})
				}
				if err != nil {
					return out, fmt.Errorf("%s: %v", hf.GetName(), err)
				}
			}
		}
		if err != nil {
			return out, fmt.Errorf("%s: %v", f.GetName(), err)
		}
	}
	return out, nil
}

const jwtFilter = "envoy.filters.http.jwt_authn"

func jwtLocations(c *jwtauthn.JwtAuthentication) *tokenLocations {
	l := &tokenLocations{}
	for _, p := range c.GetProviders() {
		if len(p.GetFromHeaders()) == 0 && len(p.GetFromParams()) == 0 && len(p.GetFromCookies()) == 0 {
			l.Headers, l.Params = append(l.Headers, "authorization"), append(l.Params, "access_token")
		}
		for _, h := range p.GetFromHeaders() {
			l.Headers = append(l.Headers, strings.ToLower(h.GetName()))
		}
		l.Params = append(l.Params, p.GetFromParams()...)
		l.Cookies = l.Cookies || len(p.GetFromCookies()) > 0
	}
	return l
}

// carries reports whether the request may carry a token where the
// jwt_authn filter looks: then what the token says decides (maybe);
// without one the filter writes no payload and its metadata is absent.
func (l *tokenLocations) carries(req *rbacRequest) bool {
	for _, h := range l.Headers {
		if _, ok := req.Headers[h]; ok {
			return true
		}
	}
	if l.Cookies {
		if _, ok := req.Headers["cookie"]; ok {
			return true
		}
	}
	if _, q, ok := strings.Cut(req.Headers[":path"], "?"); ok {
		vals, _ := url.ParseQuery(q)
		for _, p := range l.Params {
			if vals.Has(p) {
				return true
			}
		}
	}
	return false
}

// rbacConfig is what the HTTP and network RBAC filter configs share.
type rbacConfig interface {
	proto.Message
	GetRules() *rbacpb.RBAC
	GetShadowRules() *rbacpb.RBAC
	GetShadowRulesStatPrefix() string
}

func (c *authzChain) addRBAC(name string, typed *anypb.Any, cfg rbacConfig) error {
	if err := typed.UnmarshalTo(cfg); err != nil {
		return err
	}
	c.Filters = append(c.Filters, authzFilter{Name: name, Rules: cfg.GetRules(), Shadow: cfg.GetShadowRules(), ShadowPrefix: cfg.GetShadowRulesStatPrefix()})
	return nil
}

// String lists the chain's authorization filters for people, e.g.
// "rbac(LOG 1) rbac(DENY 2, shadow 1) rbac(ALLOW 4)".
func (c authzChain) String() string {
	var parts []string
	for _, f := range c.Filters {
		if f.ExtAuthz {
			parts = append(parts, "ext_authz("+c.providerOf(f)+")")
			continue
		}
		var in []string
		if f.Rules != nil {
			in = append(in, fmt.Sprintf("%s %d", f.Rules.GetAction(), len(f.Rules.GetPolicies())))
		}
		if f.Shadow != nil {
			in = append(in, fmt.Sprintf("shadow %s %d", f.Shadow.GetAction(), len(f.Shadow.GetPolicies())))
		}
		parts = append(parts, "rbac("+strings.Join(in, ", ")+")")
	}
	if len(parts) == 0 {
		return "no authorization filters"
	}
	return strings.Join(parts, " ")
}

// istioAuthz is Envoy's decision with istiod's filters, in the report's terms.
type istioAuthz struct {
	Decision string // allow | deny | custom
	Action   string // ALLOW | DENY | CUSTOM | "" (no policy decided)
	// Policy is the Envoy policy name that decided
	// ("ns[NS]-policy[NAME]-rule[i]", with istio-ext-authz-PROVIDER- for
	// CUSTOM); for a deny, the one Envoy logs; "" when no ALLOW matched.
	Policy string
	// Matching lists, for an allow by ALLOW policies, every ALLOW policy
	// that matched (Envoy only needs one; the report may name any).
	Matching []string
	Provider string // CUSTOM: the extension provider
	Reason   string // for people: why custom (what cannot be known)
}

// decide runs the chain's filters in order the way Envoy does: an RBAC
// filter denies (403 / connection closed) when its enforced DENY engine
// matches or its ALLOW engine does not; shadow engines only write their
// effective policy into dynamic metadata, which gates ext_authz; ext_authz
// asks its provider (unknowable: custom). A deny later in the chain
// decides whatever the provider answers, so it wins over custom.
func (c authzChain) decide(req *rbacRequest) (istioAuthz, error) {
	req.Metadata = map[string]map[string]string{}
	// Metadata the model cannot know: what the JWT filter extracts from a
	// token the request carries, and what any other filter of the chain
	// might write (experimental.envoy.filters.*).
	req.Opaque = map[string]bool{}
	for n := range c.Names {
		if !rbacFilters[n] && n != jwtFilter {
			req.Opaque[n] = true
		}
	}
	if c.JWT != nil && c.JWT.carries(req) {
		req.Opaque[jwtFilter] = true
	}
	uncertain := map[string]bool{}
	var pending *istioAuthz // custom: a provider or unknowable data decides
	var allowedBy []string
	for _, f := range c.Filters {
		if f.ExtAuthz {
			on := yes
			if f.Enabled != nil {
				on = req.metadata(f.Enabled)
				if on == yes && uncertain[f.Enabled.GetFilter()+"/"+f.Enabled.GetPath()[0].GetKey()] {
					on = maybe
				}
			}
			if on != no && pending == nil {
				p := istioAuthz{Decision: "custom", Action: "CUSTOM", Provider: c.providerOf(f)}
				if f.Enabled != nil {
					p.Policy = req.Metadata[f.Enabled.GetFilter()][f.Enabled.GetPath()[0].GetKey()]
				}
				p.Reason = "CUSTOM provider " + p.Provider + " decides"
				if on == maybe {
					p.Reason += " (if the CUSTOM rule matches, which depends on request data the API cannot see)"
				}
				pending = &p
			}
			continue
		}
		if f.Shadow != nil {
			res, err := req.engine(f.Shadow)
			if err != nil {
				return istioAuthz{}, err
			}
			if id, certain := res.effective(); id != "" {
				key := f.ShadowPrefix + "shadow_effective_policy_id"
				if req.Metadata[f.Name] == nil {
					req.Metadata[f.Name] = map[string]string{}
				}
				req.Metadata[f.Name][key] = id
				uncertain[f.Name+"/"+key] = !certain
			}
		}
		if f.Rules == nil {
			continue
		}
		res, err := req.engine(f.Rules)
		if err != nil {
			return istioAuthz{}, err
		}
		switch f.Rules.GetAction() {
		case rbacpb.RBAC_DENY:
			if len(res.Matched) > 0 {
				return istioAuthz{Decision: "deny", Action: actionOf(res.Matched[0], "DENY"), Policy: res.Matched[0]}, nil
			}
			if len(res.Maybe) > 0 && pending == nil {
				pending = &istioAuthz{Decision: "custom", Action: actionOf(res.Maybe[0], "DENY"), Policy: res.Maybe[0],
					Reason: "DENY rule depends on request data the API cannot see (JWT claims, filter metadata)"}
			}
		case rbacpb.RBAC_ALLOW:
			switch {
			case len(res.Matched) > 0:
				allowedBy = append(allowedBy, res.Matched...)
			case len(res.Maybe) > 0:
				if pending == nil {
					pending = &istioAuthz{Decision: "custom", Action: "ALLOW", Policy: res.Maybe[0],
						Reason: "ALLOW rule depends on request data the API cannot see (JWT claims, filter metadata)"}
				}
			default:
				return istioAuthz{Decision: "deny", Action: "ALLOW"}, nil
			}
		case rbacpb.RBAC_LOG:
			// AUDIT: logs, never denies.
		}
	}
	if pending != nil {
		return *pending, nil
	}
	if len(allowedBy) > 0 {
		return istioAuthz{Decision: "allow", Action: "ALLOW", Policy: allowedBy[0], Matching: allowedBy}, nil
	}
	return istioAuthz{Decision: "allow"}, nil
}

const extAuthzPrefix = "istio-ext-authz-"

// actionOf: the policies istiod names istio-ext-authz-… are CUSTOM ones
// (a bad CUSTOM policy becomes a DENY filter of those names).
func actionOf(policy, action string) string {
	if strings.HasPrefix(policy, extAuthzPrefix) {
		return "CUSTOM"
	}
	return action
}

// providerOf names the CUSTOM provider of an ext_authz filter: istiod's
// filter_enabled_metadata prefix is istio-ext-authz-PROVIDER
// (builder/extauthz.go generateFilterMatcherForProvider, Istio ≥ 1.30).
// Before, the prefix names no provider ("istio-ext-authz-ns[…]": one per
// workload) and the provider is the one of c.Providers whose cluster is
// the filter's: istiod names it outbound|PORT||HOST from the provider's
// service and port (builder/extauthz.go buildExtAuthz*), HOST without a
// "NS/" prefix; of the same kind (gRPC or HTTP) when several share it.
// Else the cluster itself.
func (c authzChain) providerOf(f authzFilter) string {
	if p := f.Enabled.GetValue().GetStringMatch().GetPrefix(); strings.HasPrefix(p, extAuthzPrefix) && !strings.HasPrefix(p, extAuthzPrefix+"ns[") {
		return strings.TrimPrefix(p, extAuthzPrefix)
	}
	var names, ofKind []string
	for _, p := range c.Providers {
		var host string
		var port uint32
		grpc := false
		switch {
		case p.GetEnvoyExtAuthzGrpc() != nil:
			host, port, grpc = p.GetEnvoyExtAuthzGrpc().GetService(), p.GetEnvoyExtAuthzGrpc().GetPort(), true
		case p.GetEnvoyExtAuthzHttp() != nil:
			host, port = p.GetEnvoyExtAuthzHttp().GetService(), p.GetEnvoyExtAuthzHttp().GetPort()
		default:
			continue
		}
		if _, h, ok := strings.Cut(host, "/"); ok {
			host = h
		}
		if fmt.Sprintf("outbound|%d||%s", port, host) != f.Service {
			continue
		}
		names = append(names, p.GetName())
		if grpc == f.GRPC {
			ofKind = append(ofKind, p.GetName())
		}
	}
	switch {
	case len(names) == 1:
		return names[0]
	case len(ofKind) == 1:
		return ofKind[0]
	}
	return f.Service
}

var policyNameRE = regexp.MustCompile(`^(?:istio-ext-authz-(?:(.*?)-)?)?ns\[([^\]]*)\]-policy\[([^\]]*)\]-rule\[(\d+)\]`)

// parsePolicyName splits istiod's RBAC policy name
// (builder.go policyName) into the AuthorizationPolicy NS/NAME, the rule
// index and, for CUSTOM, the provider. Istio 1.27 names no provider
// ("istio-ext-authz-ns[…]": one CUSTOM provider per workload there).
func parsePolicyName(name string) (policy string, rule int, provider string, ok bool) {
	m := policyNameRE.FindStringSubmatch(name)
	if m == nil {
		return "", 0, "", false
	}
	rule, _ = strconv.Atoi(m[4])
	return m[2] + "/" + m[3], rule, m[1], true
}

// normalizePath is what Envoy's HCM makes of :path before any filter
// sees it, as istiod configures it (listener_builder.go, mesh
// pathNormalization: BASE by default): escaped slashes %2F/%5C decoded
// when path_with_escaped_slashes_action says so; normalize_path (RFC 3986
// normalization: percent-encoded unreserved characters decoded,
// backslashes to slashes, "." and ".." segments removed); merge_slashes.
// The query string is left alone.
func normalizePath(h *hcm.HttpConnectionManager, p string) string {
	if h == nil {
		return p
	}
	path, query, hasQuery := strings.Cut(p, "?")
	switch h.GetPathWithEscapedSlashesAction() {
	case hcm.HttpConnectionManager_UNESCAPE_AND_FORWARD, hcm.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
		path = strings.NewReplacer("%2F", "/", "%2f", "/", "%5C", `\`, "%5c", `\`).Replace(path)
	}
	if h.GetNormalizePath().GetValue() {
		path = decodeUnreserved(strings.ReplaceAll(path, `\`, "/"))
		path = removeDotSegments(path)
	}
	if h.GetMergeSlashes() {
		for strings.Contains(path, "//") {
			path = strings.ReplaceAll(path, "//", "/")
		}
	}
	if hasQuery {
		return path + "?" + query
	}
	return path
}

// decodeUnreserved decodes %XX escapes of RFC 3986 unreserved characters.
func decodeUnreserved(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if v, err := strconv.ParseUint(p[i+1:i+3], 16, 8); err == nil {
				c := byte(v)
				if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
					b.WriteByte(c)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// removeDotSegments is RFC 3986 section 5.2.4.
func removeDotSegments(p string) string {
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	r := strings.Join(out, "/")
	if !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}

// remoteIP is the downstream address Envoy's HCM computes (remote_ip): the
// peer itself with use_remote_address, else the X-Forwarded-For entry
// xff_num_trusted_hops from the right, when there is one.
func remoteIP(h *hcm.HttpConnectionManager, peer net.IP, xff string) net.IP {
	if h == nil || h.GetUseRemoteAddress().GetValue() || xff == "" {
		return peer
	}
	parts := strings.Split(xff, ",")
	i := len(parts) - 1 - int(h.GetXffNumTrustedHops())
	if i < 0 {
		return peer
	}
	if ip := net.ParseIP(strings.TrimSpace(parts[i])); ip != nil {
		return ip
	}
	return peer
}
