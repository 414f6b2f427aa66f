package v1alpha1_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// schemaFile is the published JSON Schema of the report. These tests keep it
// equal to the Go types: the same properties, the same required ones, the
// same enums; and the reports the golden tests pin validate against it.
const schemaFile = "../../../docs/reachability.schema.json"

func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return doc
}

func schemaDefs(t *testing.T) map[string]map[string]any {
	t.Helper()
	defs := map[string]map[string]any{}
	for name, d := range schemaDoc(t)["$defs"].(map[string]any) {
		defs[name] = d.(map[string]any)
	}
	return defs
}

func strs[T ~string](l []T) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = string(v)
	}
	return out
}

// enumTypes maps each enum of the schema to its Go type and the list that
// enumerates it (nil where the package has none: the constants alone then).
type enumType struct {
	def, goType string
	list        []string
}

var enumTypes = []enumType{
	{"Protocol", "Protocol", strs(api.Protocols)},
	{"TLS", "TLS", strs(api.TLSValues)},
	{"Verdict", "Verdict", strs(api.Verdicts)},
	{"Balancing", "Balancing", strs(api.BalancingValues)},
	{"Dataplane", "Dataplane", strs(api.Dataplanes)},
	{"OutboundPolicy", "OutboundPolicy", strs(api.OutboundPolicies)},
	{"Traffic", "Traffic", nil},
	{"AddressForm", "AddressForm", strs(api.AddressForms)},
	{"ClusterType", "ClusterType", strs(api.ClusterTypes)},
	{"DNSSource", "DNSSource", strs(api.DNSSources)},
	{"ReachesKind", "ReachesKind", strs(api.ReachesKinds)},
	{"Rejection", "Rejection", strs(api.Rejections)},
	{"AuthzDecision", "AuthzDecision", strs(api.AuthzDecisions)},
	{"AuthzAction", "AuthzAction", strs(api.AuthzActions)},
	{"Stage", "Stage", strs(api.Stages)},
	{"FixRequirement", "FixRequirement", strs(api.FixRequirements)},
	{"DiffChange", "DiffChange", strs(api.DiffChangeValues)},
	{"StepResult", "StepResult", nil},
	{"ReasonCode", "ReasonCode", strs(api.ReasonCodes)},
	{"Rule", "Rule", strs(api.Rules)},
	{"Redirection", "Redirection", strs(api.Redirections)},
	{"TunnelProtocol", "TunnelProtocol", strs(api.TunnelProtocols)},
	{"AmbientPath", "AmbientPath", strs(api.AmbientPaths)},
}

// notInReport lists the enum types of the package that no report field has
// as its type, with where their values appear instead.
var notInReport = map[string]string{
	"MTLSMode": "Reason.mode and Inbound.mode are strings that carry it (Inbound.mode also \"not enforced (…)\")",
}

// goConstants reads the package source and returns, per type name, the
// string constants declared with that type, in declaration order. It is
// what makes a new constant that is missing from its list (and from the
// schema) fail the test.
func goConstants(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok {
					continue // untyped constants (GroupName, Version …)
				}
				if len(vs.Values) != len(vs.Names) {
					t.Fatalf("%s: constant %s of type %s has no literal value of its own", fset.Position(vs.Pos()), vs.Names[0], typ.Name)
				}
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: constant %s is not a string literal", fset.Position(v.Pos()), vs.Names[i])
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[typ.Name] = append(out[typ.Name], s)
				}
			}
		}
	}
	return out
}

// TestSchemaEnums: every enum of the schema lists exactly the values of its
// Go list, in the same order, and the list holds every constant of its type.
// A new reason code, rule, stage … that is not added both to its list and to
// docs/reachability.schema.json fails here.
func TestSchemaEnums(t *testing.T) {
	defs := schemaDefs(t)
	consts := goConstants(t)
	for _, e := range enumTypes {
		declared := consts[e.goType]
		if len(declared) == 0 {
			t.Errorf("no constants of type %s found in the package source", e.goType)
			continue
		}
		want := e.list
		if want == nil {
			want = declared
		} else {
			a, b := slices.Clone(want), slices.Clone(declared)
			sort.Strings(a)
			sort.Strings(b)
			if !slices.Equal(a, b) {
				t.Errorf("the list of %s is %v, but the package declares the constants %v", e.goType, want, declared)
			}
		}
		d := defs[e.def]
		if d == nil {
			t.Errorf("schema: no $defs/%s", e.def)
			continue
		}
		var got []string
		for _, v := range d["enum"].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("schema $defs/%s enum is\n  %q\nGo has\n  %q", e.def, got, want)
		}
	}
	for typ := range consts {
		if _, ok := notInReport[typ]; ok {
			continue
		}
		if !slices.ContainsFunc(enumTypes, func(e enumType) bool { return e.goType == typ }) {
			t.Errorf("the package declares constants of type %s: add it to enumTypes and to the schema (or to notInReport)", typ)
		}
	}
	for def, kind := range map[string]string{"Reachability": api.KindReachability, "ReachabilityList": api.KindReachabilityList} {
		root := schemaDoc(t)["$defs"].(map[string]any)[def].(map[string]any)["properties"].(map[string]any)
		if c := root["apiVersion"].(map[string]any)["const"]; c != api.APIVersion {
			t.Errorf("schema %s apiVersion const %v, want %s", def, c, api.APIVersion)
		}
		if c := root["kind"].(map[string]any)["const"]; c != kind {
			t.Errorf("schema %s kind const %v, want %s", def, c, kind)
		}
	}
}

// widened lists the properties whose schema accepts more than their Go type
// says, with the reason. Each is checked to still accept the Go type.
var widened = map[string]string{
	// explain sets PortSummary.Protocol to "undeclared" for a port no Service
	// declares; the value is not one of api.Protocols.
	"PortSummary.protocol": "a Protocol, or \"undeclared\"",
}

// jsonFields lists a struct's JSON properties (embedded structs flattened,
// as encoding/json does) and whether each is omitempty.
func jsonFields(t reflect.Type) (names []string, omitempty map[string]bool, fields map[string]reflect.StructField) {
	omitempty, fields = map[string]bool{}, map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			n, o, fs := jsonFields(f.Type)
			names = append(names, n...)
			for _, k := range n {
				omitempty[k], fields[k] = o[k], fs[k]
			}
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		omitempty[name] = slices.Contains(strings.Split(opts, ","), "omitempty")
		fields[name] = f
	}
	return names, omitempty, fields
}

// TestSchemaMatchesGoTypes walks the Go types from Reachability down: each
// struct has a $defs entry with exactly its JSON properties, "required"
// lists exactly the fields without omitempty, and each property's schema
// has the JSON type of its Go field (enums and structs by $ref). No $defs
// entry is left that the Go types do not use.
func TestSchemaMatchesGoTypes(t *testing.T) {
	defs := schemaDefs(t)
	used := map[string]bool{}
	var visitStruct func(rt reflect.Type)
	var check func(where string, rt reflect.Type, s map[string]any)
	check = func(where string, rt reflect.Type, s map[string]any) {
		if alts, ok := s["anyOf"].([]any); ok {
			if _, ok := widened[where]; !ok {
				t.Errorf("schema %s: anyOf, but the property is not listed in widened", where)
				return
			}
			for _, a := range alts {
				if r, _ := a.(map[string]any)["$ref"].(string); r != "" {
					check(where, rt, a.(map[string]any))
					return
				}
			}
			t.Errorf("schema %s: no anyOf member is the Go type %s", where, rt)
			return
		}
		if rt.Kind() == reflect.Pointer {
			rt = rt.Elem()
		}
		ref, _ := s["$ref"].(string)
		typ, _ := s["type"].(string)
		switch {
		case rt == reflect.TypeOf(json.RawMessage{}):
			if typ != "object" {
				t.Errorf("schema %s: type %q, want object (Go json.RawMessage holds a JSON object)", where, typ)
			}
		case rt.Kind() == reflect.Struct || rt.Kind() == reflect.String && rt.Name() != "string":
			if want := "#/$defs/" + rt.Name(); ref != want {
				t.Errorf("schema %s: want {\"$ref\": %q} for Go type %s, have %v", where, want, rt, s)
				return
			}
			used[rt.Name()] = true
			if rt.Kind() == reflect.Struct {
				visitStruct(rt)
			} else if defs[rt.Name()]["enum"] == nil {
				t.Errorf("schema $defs/%s has no enum (Go type %s)", rt.Name(), rt)
			}
		case rt.Kind() == reflect.Slice:
			if typ != "array" {
				t.Errorf("schema %s: type %q, want array (Go %s)", where, typ, rt)
				return
			}
			check(where+"[]", rt.Elem(), s["items"].(map[string]any))
		default:
			want := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "boolean",
				reflect.Int: "integer", reflect.Int32: "integer", reflect.Int64: "integer"}[rt.Kind()]
			if want == "" || typ != want {
				t.Errorf("schema %s: type %q, Go type %s", where, typ, rt)
			}
		}
	}
	seen := map[reflect.Type]bool{}
	visitStruct = func(rt reflect.Type) {
		if seen[rt] {
			return
		}
		seen[rt] = true
		d := defs[rt.Name()]
		if d == nil {
			t.Errorf("schema: no $defs/%s for Go type %s", rt.Name(), rt)
			return
		}
		props, _ := d["properties"].(map[string]any)
		names, omitempty, fields := jsonFields(rt)
		var schemaNames []string
		for n := range props {
			schemaNames = append(schemaNames, n)
		}
		sort.Strings(schemaNames)
		sorted := slices.Clone(names)
		sort.Strings(sorted)
		if !slices.Equal(sorted, schemaNames) {
			t.Errorf("schema $defs/%s properties\n  %v\nGo %s has JSON fields\n  %v", rt.Name(), schemaNames, rt, sorted)
		}
		var wantReq, gotReq []string
		for _, n := range names {
			if !omitempty[n] {
				wantReq = append(wantReq, n)
			}
		}
		for _, r := range d["required"].([]any) {
			gotReq = append(gotReq, r.(string))
		}
		if !slices.Equal(gotReq, wantReq) {
			t.Errorf("schema $defs/%s required %v, want the fields without omitempty, in Go order: %v", rt.Name(), gotReq, wantReq)
		}
		for _, n := range names {
			if p, ok := props[n].(map[string]any); ok {
				check(rt.Name()+"."+n, fields[n].Type, p)
			}
		}
	}
	// The root is one of the three kinds the command prints.
	root := schemaDoc(t)
	var refs []string
	for _, alt := range root["oneOf"].([]any) {
		refs = append(refs, alt.(map[string]any)["$ref"].(string))
	}
	if want := []string{"#/$defs/Reachability", "#/$defs/ReachabilityList", "#/$defs/ReachabilityDiff"}; !slices.Equal(refs, want) {
		t.Errorf("schema root oneOf %v, want %v", refs, want)
	}
	for _, rt := range []reflect.Type{reflect.TypeOf(api.Reachability{}), reflect.TypeOf(api.ReachabilityList{}), reflect.TypeOf(api.ReachabilityDiff{})} {
		used[rt.Name()] = true
		visitStruct(rt)
	}
	for name := range defs {
		if !used[name] {
			t.Errorf("schema $defs/%s is used by no Go field", name)
		}
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := jsonschema.NewCompiler().Compile(schemaFile)
	if err != nil {
		t.Fatalf("%s does not compile: %v", schemaFile, err)
	}
	return sch
}

// goldenReports are the reports the golden tests keep equal to the live
// output: every example world (cmd) and the hand-made render reports, as
// JSON (YAML converted).
func goldenReports(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pattern := range []string{"../../../cmd/kubectl-podreach/testdata/golden/*.json", "../../render/testdata/*-json.golden", "../../render/testdata/*-yaml.golden"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f, "-yaml.golden") {
				if b, err = yaml.YAMLToJSON(b); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			out[f] = b
		}
	}
	if len(out) < 15 {
		t.Fatalf("found %d golden reports, want the example worlds' and render's", len(out))
	}
	return out
}

func instance(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestGoldenReportsValidate validates every golden report with a JSON
// Schema 2020-12 validator (santhosh-tekuri/jsonschema, which also checks
// the schema against the 2020-12 meta-schema when compiling it).
func TestGoldenReportsValidate(t *testing.T) {
	sch := compileSchema(t)
	for f, b := range goldenReports(t) {
		if err := sch.Validate(instance(t, b)); err != nil {
			t.Errorf("%s does not validate against %s:\n%v", f, schemaFile, err)
		}
	}
}

// TestSchemaRejects shows that the validator enforces what the schema says:
// an unknown enum value, a missing required field, a failing step without a
// reason are each rejected.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	b, err := os.ReadFile("../../../cmd/kubectl-podreach/testdata/golden/headless-http-podip.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(rep map[string]any){
		"unknown verdict":     func(rep map[string]any) { firstRequest(rep)["verdict"] = "maybe" },
		"unknown reason code": func(rep map[string]any) { firstReason(rep)["code"] = "NOT_A_CODE" },
		"unknown stage":       func(rep map[string]any) { firstStep(rep)["stage"] = "eBPF" },
		"no steps":            func(rep map[string]any) { delete(firstRequest(rep), "steps") },
		"no apiVersion":       func(rep map[string]any) { delete(rep, "apiVersion") },
		"other apiVersion":    func(rep map[string]any) { rep["apiVersion"] = "podreach.dev/v1alpha2" },
		"port as a string":    func(rep map[string]any) { firstRequest(rep)["port"] = "8080" },
		"fail without reason": func(rep map[string]any) {
			st := firstStep(rep)
			st["result"] = string(api.StepFail)
			delete(st, "reason")
		},
	} {
		var rep map[string]any
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(instance(t, mustJSON(t, rep))); err != nil {
			t.Fatalf("the unmodified report does not validate: %v", err)
		}
		mutate(rep)
		if err := sch.Validate(instance(t, mustJSON(t, rep))); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstRequest(rep map[string]any) map[string]any {
	return rep["requests"].([]any)[0].(map[string]any)
}

func firstStep(rep map[string]any) map[string]any {
	return firstRequest(rep)["steps"].([]any)[0].(map[string]any)
}

// firstReason is the first reason of any request.
func firstReason(rep map[string]any) map[string]any {
	for _, r := range rep["requests"].([]any) {
		if rs, ok := r.(map[string]any)["reasons"].([]any); ok && len(rs) > 0 {
			return rs[0].(map[string]any)
		}
	}
	panic("no request has a reason")
}

// TestGoldenDiffsValidate: the --diff goldens validate against the
// schema's ReachabilityDiff.
func TestGoldenDiffsValidate(t *testing.T) {
	sch, err := jsonschema.NewCompiler().Compile(schemaFile + "#/$defs/ReachabilityDiff")
	if err != nil {
		t.Fatalf("%s#/$defs/ReachabilityDiff does not compile: %v", schemaFile, err)
	}
	files, err := filepath.Glob("../../../cmd/kubectl-podreach/testdata/whatif/*.diff.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no diff goldens (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(instance(t, b)); err != nil {
			t.Errorf("%s does not validate: %v", f, err)
		}
	}
}
