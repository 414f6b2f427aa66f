package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group, version and kinds of the contract.
const (
	GroupName = "podreach.dev"
	Version   = "v1alpha1"
	// APIVersion is what the objects carry in apiVersion.
	APIVersion = GroupName + "/" + Version

	KindReachability     = "Reachability"
	KindReachabilityList = "ReachabilityList"
	KindReachabilityDiff = "ReachabilityDiff"
)

// SchemeGroupVersion is the group and version of this package's kinds.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: Version}

var (
	// SchemeBuilder registers the kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the kinds to a scheme (for printers and decoders).
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &Reachability{}, &ReachabilityList{}, &ReachabilityDiff{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}

// NewReachability returns an empty report with its type set.
func NewReachability() *Reachability {
	return &Reachability{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindReachability}, Requests: []Request{}}
}

// NewReachabilityDiff returns an empty diff with its type set.
func NewReachabilityDiff() *ReachabilityDiff {
	return &ReachabilityDiff{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindReachabilityDiff}, Items: []DiffItem{}}
}

// NewReachabilityList returns an empty list with its type set.
func NewReachabilityList() *ReachabilityList {
	return &ReachabilityList{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindReachabilityList},
		Items: []Reachability{}, Summary: ListSummary{Groups: []RequestGroup{}}}
}
