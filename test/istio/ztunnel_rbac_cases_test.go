package istiodiff

import (
	"net/netip"
	"testing"

	"istio.io/istio/pkg/workloadapi/security"
)

// ztunnel's own test cases for src/rbac.rs (istio/ztunnel tag 1.31.0-rc.0),
// transcribed: each case names the Rust test it comes from.

var (
	plaintextConn = ztunnelConn{src: netip.MustParseAddrPort("127.0.0.1:1234"), dst: netip.MustParseAddrPort("127.0.0.2:8080")}
	tlsConn       = ztunnelConn{src: netip.MustParseAddrPort("127.0.0.1:1234"), dst: netip.MustParseAddrPort("127.0.0.2:8080"),
		identity: &spiffeID{"td", "namespace", "account"}}
	tlsConnAlt = ztunnelConn{src: netip.MustParseAddrPort("127.0.0.3:1234"), dst: netip.MustParseAddrPort("127.0.0.4:9090"),
		identity: &spiffeID{"td-alt", "ns-alt", "sa=alt"}}
)

// allowPolicy is rbac.rs tests' allow_policy: rules → clauses → matches.
func allowPolicy(rules ...[][]*security.Match) *security.Authorization {
	p := &security.Authorization{Name: "p", Namespace: "namespace", Scope: security.Scope_GLOBAL, Action: security.Action_ALLOW}
	for _, r := range rules {
		g := &security.Group{}
		for _, clause := range r {
			g.Rules = append(g.Rules, &security.Rules{Matches: clause})
		}
		p.Groups = append(p.Groups, g)
	}
	return p
}

func exact(s string) *security.StringMatch {
	return &security.StringMatch{MatchType: &security.StringMatch_Exact{Exact: s}}
}

func cidr(s string) *security.Address {
	p := netip.MustParsePrefix(s)
	return &security.Address{Address: p.Addr().AsSlice(), Length: uint32(p.Bits())}
}

func conn(ns string, dst string) ztunnelConn {
	return ztunnelConn{src: netip.MustParseAddrPort("127.0.0.1:1234"), dst: netip.MustParseAddrPort(dst), identity: &spiffeID{"td", ns, "account"}}
}

func TestZtunnelRBAC(t *testing.T) {
	nested := allowPolicy([][]*security.Match{
		{{Namespaces: []*security.StringMatch{exact("a")}}, {Namespaces: []*security.StringMatch{exact("b")}}},
		{{DestinationPorts: []uint32{80}}},
	})
	multi := allowPolicy(
		[][]*security.Match{{{Namespaces: []*security.StringMatch{exact("a")}}}},
		[][]*security.Match{{{Namespaces: []*security.StringMatch{exact("b")}}}},
	)
	// rbac_test! macro cases: one match with one field; expectations for
	// plaintext_conn, tls_conn, tls_conn_alt.
	single := func(m *security.Match) *security.Authorization { return allowPolicy([][]*security.Match{{m}}) }
	sa := []*security.ServiceAccountMatch{{Namespace: "namespace", ServiceAccount: "account"}}
	principal := []*security.StringMatch{exact("td/ns/namespace/sa/account")}
	cases := []struct {
		test string
		pol  *security.Authorization
		c    ztunnelConn
		want bool
	}{
		{"rbac_empty_policy: one empty match", allowPolicy([][]*security.Match{{{}}}), plaintextConn, false},
		{"rbac_empty_policy: empty clause", allowPolicy([][]*security.Match{{}}), plaintextConn, true},
		{"rbac_empty_policy: rule without clauses", allowPolicy([][]*security.Match{}), plaintextConn, true},
		{"rbac_empty_policy: no rules", allowPolicy(), plaintextConn, false},
		{"rbac_nesting: namespace a", nested, conn("a", "127.0.0.2:80"), true},
		{"rbac_nesting: namespace b", nested, conn("b", "127.0.0.2:80"), true},
		{"rbac_nesting: wrong namespace", nested, conn("bad", "127.0.0.2:80"), false},
		{"rbac_nesting: wrong port", nested, conn("b", "127.0.0.2:12345"), false},
		{"rbac_multi_rule: a", multi, conn("a", "127.0.0.2:80"), true},
		{"rbac_multi_rule: b", multi, conn("b", "127.0.0.2:80"), true},
		{"rbac_multi_rule: bad", multi, conn("bad", "127.0.0.2:80"), false},
	}
	macro := []struct {
		test string
		m    *security.Match
		want [3]bool // plaintext, tls, tls_alt
	}{
		{"namespaces", &security.Match{Namespaces: []*security.StringMatch{exact("namespace")}}, [3]bool{false, true, false}},
		{"not_namespaces", &security.Match{NotNamespaces: []*security.StringMatch{exact("namespace")}}, [3]bool{true, false, true}},
		{"service_accounts", &security.Match{ServiceAccounts: sa}, [3]bool{false, true, false}},
		{"not_service_accounts", &security.Match{NotServiceAccounts: sa}, [3]bool{true, false, true}},
		{"principals", &security.Match{Principals: principal}, [3]bool{false, true, false}},
		{"not_principals", &security.Match{NotPrincipals: principal}, [3]bool{true, false, true}},
		{"source_ips", &security.Match{SourceIps: []*security.Address{cidr("127.0.0.1/32")}}, [3]bool{true, true, false}},
		{"not_source_ips", &security.Match{NotSourceIps: []*security.Address{cidr("127.0.0.1/32")}}, [3]bool{false, false, true}},
		{"destination_ips", &security.Match{DestinationIps: []*security.Address{cidr("127.0.0.2/32")}}, [3]bool{true, true, false}},
		{"not_destination_ips", &security.Match{NotDestinationIps: []*security.Address{cidr("127.0.0.2/32")}}, [3]bool{false, false, true}},
		// IpNet::new(127.0.0.1, 24) keeps the host bits; contains() compares the network.
		{"cidr_range", &security.Match{DestinationIps: []*security.Address{cidr("127.0.0.1/24")}}, [3]bool{true, true, true}},
		{"destination_ports", &security.Match{DestinationPorts: []uint32{8080}}, [3]bool{true, true, false}},
		{"not_destination_ports", &security.Match{NotDestinationPorts: []uint32{8080}}, [3]bool{false, false, true}},
	}
	for _, m := range macro {
		for i, c := range []ztunnelConn{plaintextConn, tlsConn, tlsConnAlt} {
			cases = append(cases, struct {
				test string
				pol  *security.Authorization
				c    ztunnelConn
				want bool
			}{m.test + []string{" plaintext_conn", " tls_conn", " tls_conn_alt"}[i], single(m.m), c, m.want[i]})
		}
	}
	for _, tc := range cases {
		if got := policyMatches(tc.pol, tc.c); got != tc.want {
			t.Errorf("%s: matches = %v, want %v", tc.test, got, tc.want)
		}
	}

	// string_match test_cases.
	presence := &security.StringMatch{MatchType: &security.StringMatch_Presence{}}
	for _, sc := range []struct {
		name string
		m    *security.StringMatch
		in   string
		want bool
	}{
		{"exact match", exact("foo"), "foo", true},
		{"exact mismatch", exact("foo"), "not", false},
		{"exact empty mismatch", exact("foo"), "", false},
		{"prefix match", &security.StringMatch{MatchType: &security.StringMatch_Prefix{Prefix: "foo"}}, "foobar", true},
		{"prefix mismatch", &security.StringMatch{MatchType: &security.StringMatch_Prefix{Prefix: "foo"}}, "notfoo", false},
		{"prefix empty mismatch", &security.StringMatch{MatchType: &security.StringMatch_Prefix{Prefix: "foo"}}, "", false},
		{"suffix match", &security.StringMatch{MatchType: &security.StringMatch_Suffix{Suffix: "foo"}}, "barfoo", true},
		{"suffix mismatch", &security.StringMatch{MatchType: &security.StringMatch_Suffix{Suffix: "foo"}}, "foonot", false},
		{"suffix empty mismatch", &security.StringMatch{MatchType: &security.StringMatch_Suffix{Suffix: "foo"}}, "", false},
		{"presence match", presence, "foo", true},
		{"presence mismatch", presence, "", false},
	} {
		if got := stringMatches(sc.m, sc.in); got != sc.want {
			t.Errorf("string_match %s: %v, want %v", sc.name, got, sc.want)
		}
	}

	// state.rs assert_rbac: DENY first, "allow if no ALLOW policies",
	// otherwise an ALLOW must match; dry-run policies do not decide.
	deny := func(name string, m *security.Match) *security.Authorization {
		p := single(m)
		p.Name, p.Action = name, security.Action_DENY
		return p
	}
	allowNs := single(&security.Match{Namespaces: []*security.StringMatch{exact("namespace")}})
	strict := deny("istio_converted_static_strict", &security.Match{NotPrincipals: []*security.StringMatch{presence}})
	dry := deny("dry", &security.Match{DestinationPorts: []uint32{8080}})
	dry.DryRun = true
	for _, ac := range []struct {
		name     string
		policies []*security.Authorization
		c        ztunnelConn
		want     bool
	}{
		{"no policies", nil, plaintextConn, true},
		{"strict denies plaintext", []*security.Authorization{strict}, plaintextConn, false},
		{"strict lets mTLS in", []*security.Authorization{strict}, tlsConn, true},
		{"allow matched", []*security.Authorization{allowNs}, tlsConn, true},
		{"allow not matched", []*security.Authorization{allowNs}, tlsConnAlt, false},
		{"deny beats allow", []*security.Authorization{allowNs, deny("d", &security.Match{DestinationPorts: []uint32{8080}})}, tlsConn, false},
		{"dry-run deny does not decide", []*security.Authorization{dry}, tlsConn, true},
	} {
		if got := assertRBAC(ac.policies, ac.c); got.allow != ac.want {
			t.Errorf("assert_rbac %s: allow=%v, want %v", ac.name, got.allow, ac.want)
		}
	}
}
