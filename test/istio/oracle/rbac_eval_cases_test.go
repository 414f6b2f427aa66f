package oracle

import (
	"net"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routepb "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherpb "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The evaluator's matchers, case by case, against Envoy's documented
// semantics (string matchers, path templates, CIDR ranges, three-valued
// composition).

func TestStringMatch(t *testing.T) {
	exact := func(s string, fold bool) *matcherpb.StringMatcher {
		return &matcherpb.StringMatcher{IgnoreCase: fold, MatchPattern: &matcherpb.StringMatcher_Exact{Exact: s}}
	}
	prefix := &matcherpb.StringMatcher{MatchPattern: &matcherpb.StringMatcher_Prefix{Prefix: "/api/"}}
	suffix := &matcherpb.StringMatcher{IgnoreCase: true, MatchPattern: &matcherpb.StringMatcher_Suffix{Suffix: ".Example.com"}}
	regex := &matcherpb.StringMatcher{MatchPattern: &matcherpb.StringMatcher_SafeRegex{SafeRegex: &matcherpb.RegexMatcher{Regex: ".*/ns/shop/.*"}}}
	for _, c := range []struct {
		m    *matcherpb.StringMatcher
		in   string
		want tri
	}{
		{exact("web", true), "WEB", yes},
		{exact("web", false), "WEB", no},
		{exact("web", true), "web:80", no}, // hosts match the :authority as sent, port included
		{prefix, "/api/items", yes},
		{prefix, "/api", no},
		{suffix, "a.example.COM", yes},
		{regex, "spiffe://cluster.local/ns/shop/sa/web", yes},
		{regex, "spiffe://cluster.local/ns/shopping/sa/web", no},
		// safe_regex matches the whole value, not a substring.
		{&matcherpb.StringMatcher{MatchPattern: &matcherpb.StringMatcher_SafeRegex{SafeRegex: &matcherpb.RegexMatcher{Regex: "ns/shop"}}}, "spiffe://x/ns/shop/sa/y", no},
	} {
		got, err := stringMatch(c.m, c.in)
		if err != nil || got != c.want {
			t.Errorf("%v on %q: got %v %v, want %v", c.m, c.in, got, err, c.want)
		}
	}
}

func TestURITemplate(t *testing.T) {
	for _, c := range []struct {
		tmpl, path string
		want       bool
	}{
		{"/public/*/info", "/public/x/info", true},
		{"/public/*/info", "/public/x/y/info", false},
		{"/public/*/info", "/public//info", false}, // * is at least one character
		{"/files/**", "/files/a/b/c", true},
		{"/files/**", "/files/", true},
		{"/files/**", "/files", false},
		{"/files/*.txt", "/files/a.txt", true},
		{"/files/*.txt", "/files/a.txtx", false},
		{"/a.b", "/aXb", false}, // literals are literal
	} {
		re, err := uriTemplateRegex(c.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(c.path); got != c.want {
			t.Errorf("%s on %s: got %v, want %v (%s)", c.tmpl, c.path, got, c.want, re)
		}
	}
}

func TestCIDR(t *testing.T) {
	cidr := func(a string, n uint32) *core.CidrRange {
		return &core.CidrRange{AddressPrefix: a, PrefixLen: wrapperspb.UInt32(n)}
	}
	for _, c := range []struct {
		r    *core.CidrRange
		ip   string
		want tri
	}{
		{cidr("10.244.1.42", 32), "10.244.1.42", yes},
		{cidr("10.244.1.42", 32), "10.244.1.43", no},
		{cidr("10.244.0.0", 16), "10.244.9.9", yes},
		{cidr("10.244.0.5", 16), "10.244.9.9", yes}, // host bits ignored
		{cidr("fd00::", 8), "10.244.9.9", no},
		{&core.CidrRange{AddressPrefix: "10.0.0.0"}, "192.168.1.1", yes}, // unset prefix_len is 0
	} {
		if got := cidrContains(c.r, net.ParseIP(c.ip)); got != c.want {
			t.Errorf("%v on %s: got %v, want %v", c.r, c.ip, got, c.want)
		}
	}
}

// A rule reading JWT metadata of a request that carries a token is maybe;
// and/or/not decide without it when another part already does.
func TestThreeValued(t *testing.T) {
	jwt := &rbacpb.Principal{Identifier: &rbacpb.Principal_Metadata{Metadata: &matcherpb.MetadataMatcher{
		Filter: "envoy.filters.http.jwt_authn", Path: []*matcherpb.MetadataMatcher_PathSegment{{Segment: &matcherpb.MetadataMatcher_PathSegment_Key{Key: "payload"}}},
	}}}
	ip := func(a string) *rbacpb.Principal {
		return &rbacpb.Principal{Identifier: &rbacpb.Principal_DirectRemoteIp{DirectRemoteIp: &core.CidrRange{AddressPrefix: a, PrefixLen: wrapperspb.UInt32(32)}}}
	}
	and := func(ps ...*rbacpb.Principal) *rbacpb.Principal {
		return &rbacpb.Principal{Identifier: &rbacpb.Principal_AndIds{AndIds: &rbacpb.Principal_Set{Ids: ps}}}
	}
	or := func(ps ...*rbacpb.Principal) *rbacpb.Principal {
		return &rbacpb.Principal{Identifier: &rbacpb.Principal_OrIds{OrIds: &rbacpb.Principal_Set{Ids: ps}}}
	}
	not := func(p *rbacpb.Principal) *rbacpb.Principal {
		return &rbacpb.Principal{Identifier: &rbacpb.Principal_NotId{NotId: p}}
	}
	req := &rbacRequest{HTTP: true, SourceIP: net.ParseIP("10.0.0.1"), Opaque: map[string]bool{"envoy.filters.http.jwt_authn": true}}
	noToken := &rbacRequest{HTTP: true, SourceIP: net.ParseIP("10.0.0.1")}
	for _, c := range []struct {
		name string
		p    *rbacpb.Principal
		want tri
	}{
		{"jwt", jwt, maybe},
		{"not jwt", not(jwt), maybe},
		{"jwt and wrong ip", and(jwt, ip("10.0.0.2")), no},
		{"jwt and right ip", and(jwt, ip("10.0.0.1")), maybe},
		{"jwt or right ip", or(jwt, ip("10.0.0.1")), yes},
		{"jwt or wrong ip", or(jwt, ip("10.0.0.2")), maybe},
	} {
		got, err := req.principal(c.p)
		if err != nil || got != c.want {
			t.Errorf("%s: got %v %v, want %v", c.name, got, err, c.want)
		}
	}
	// Without a token (or without the JWT filter) there is no payload:
	// the matcher is false, its negation true.
	for p, want := range map[*rbacpb.Principal]tri{jwt: no, not(jwt): yes} {
		if got, err := noToken.principal(p); err != nil || got != want {
			t.Errorf("no token: got %v %v, want %v", got, err, want)
		}
	}
}

// Headers: a network RBAC filter sees none; a missing header does not
// match; present_match tests presence.
func TestHeaderMatch(t *testing.T) {
	present := &routepb.HeaderMatcher{Name: "x-user", HeaderMatchSpecifier: &routepb.HeaderMatcher_PresentMatch{PresentMatch: true}}
	method := &routepb.HeaderMatcher{Name: ":method", HeaderMatchSpecifier: &routepb.HeaderMatcher_StringMatch{StringMatch: &matcherpb.StringMatcher{MatchPattern: &matcherpb.StringMatcher_Exact{Exact: "GET"}}}}
	httpReq := &rbacRequest{HTTP: true, Headers: map[string]string{":method": "GET"}}
	tcpReq := &rbacRequest{Headers: map[string]string{":method": "GET"}}
	for _, c := range []struct {
		name string
		r    *rbacRequest
		h    *routepb.HeaderMatcher
		want tri
	}{
		{"method on HTTP", httpReq, method, yes},
		{"method on TCP", tcpReq, method, no},
		{"missing header present", httpReq, present, no},
	} {
		got, err := c.r.header(c.h)
		if err != nil || got != c.want {
			t.Errorf("%s: got %v %v, want %v", c.name, got, err, c.want)
		}
	}
}

func TestParsePolicyName(t *testing.T) {
	for _, c := range []struct {
		in, policy, provider string
		rule                 int
	}{
		{"ns[shop]-policy[allow-web]-rule[3]", "shop/allow-web", "", 3},
		{"istio-ext-authz-my-provider-ns[data]-policy[ext]-rule[12]", "data/ext", "my-provider", 12},
		{"istio-ext-authz-p-ns[a]-policy[b]-rule[0]-deny-due-to-bad-CUSTOM-action", "a/b", "p", 0},
		{"istio-ext-authz-ns[a]-policy[b]-rule[2]", "a/b", "", 2}, // Istio 1.27
	} {
		p, rule, prov, ok := parsePolicyName(c.in)
		if !ok || p != c.policy || rule != c.rule || prov != c.provider {
			t.Errorf("%s: got %s %d %s %v", c.in, p, rule, prov, ok)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	base := &hcm.HttpConnectionManager{NormalizePath: wrapperspb.Bool(true)}
	merge := &hcm.HttpConnectionManager{NormalizePath: wrapperspb.Bool(true), MergeSlashes: true}
	for _, c := range []struct {
		h        *hcm.HttpConnectionManager
		in, want string
	}{
		{base, "/store//cart", "/store//cart"}, // BASE keeps double slashes
		{merge, "/store//cart", "/store/cart"},
		{base, "/a/./b/../c", "/a/c"},
		{base, "/a/b/..", "/a/"},
		{base, "/../a", "/a"},
		{base, "/%61dmin?x=%2e", "/admin?x=%2e"}, // unreserved escapes decoded, query untouched
		{base, "/a%2Fb", "/a%2Fb"},
		{nil, "/a/../b", "/a/../b"},
	} {
		if got := normalizePath(c.h, c.in); got != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
}
