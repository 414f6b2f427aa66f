package inspect

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, rv string) corev1.Service {
	return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv}}
}

// TestSortByKey: (namespace, name) order, the last duplicate read wins, and a
// list already in order (as the API server returns one) is kept as it is.
func TestSortByKey(t *testing.T) {
	tests := []struct {
		name   string
		in     []corev1.Service
		want   []corev1.Service
		noCopy bool
	}{
		{"empty", []corev1.Service{}, nil, false},
		{"sorted", []corev1.Service{svc("a", "x", "1"), svc("a", "y", "1"), svc("b", "a", "1")},
			[]corev1.Service{svc("a", "x", "1"), svc("a", "y", "1"), svc("b", "a", "1")}, true},
		{"two lists appended", []corev1.Service{svc("b", "a", "1"), svc("a", "y", "1"), svc("a", "x", "1")},
			[]corev1.Service{svc("a", "x", "1"), svc("a", "y", "1"), svc("b", "a", "1")}, false},
		{"duplicate: last read wins", []corev1.Service{svc("a", "x", "1"), svc("a", "y", "1"), svc("a", "x", "2")},
			[]corev1.Service{svc("a", "x", "2"), svc("a", "y", "1")}, false},
		{"adjacent duplicate", []corev1.Service{svc("a", "x", "1"), svc("a", "x", "2")},
			[]corev1.Service{svc("a", "x", "2")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]corev1.Service(nil), tt.in...)
			got := sortByKey(in, valueMeta[corev1.Service])
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sortByKey = %v, want %v", svcKeys(got), svcKeys(tt.want))
			}
			if same := len(got) > 0 && &got[0] == &in[0]; same != tt.noCopy {
				t.Errorf("result shares the input's array: %v, want %v", same, tt.noCopy)
			}
		})
	}
}

func svcKeys(ss []corev1.Service) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Namespace+"/"+s.Name+"@"+s.ResourceVersion)
	}
	return out
}

// TestKeep: managedFields go as each list arrives; the first list of a kind
// is taken without a copy, the next ones appended.
func TestKeep(t *testing.T) {
	withFields := func(ns, name string) corev1.Service {
		s := svc(ns, name, "1")
		s.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}}
		return s
	}
	var dst []corev1.Service
	first := []corev1.Service{withFields("a", "x")}
	keep(&dst, first)
	if &dst[0] != &first[0] {
		t.Error("the first list was copied")
	}
	keep(&dst, []corev1.Service{withFields("b", "y")})
	if want := []corev1.Service{svc("a", "x", "1"), svc("b", "y", "1")}; !reflect.DeepEqual(dst, want) {
		t.Errorf("keep = %#v, want %#v", dst, want)
	}
}
