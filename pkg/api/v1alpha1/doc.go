// Package v1alpha1 is the published report contract of kubectl-podreach:
// the podreach.dev/v1alpha1 Reachability object that `-o json|yaml` prints
// and that scripts, jsonpath and go-templates read.
//
// It imports nothing of the engine: pkg/explain fills these types, pkg/render
// prints them, and other tools may import this package alone.
//
// Stability: field names and enum values are the contract. Adding a field or
// an enum value (a new reason code, a new stage) keeps the apiVersion;
// renaming or removing a field, changing a field's type or the meaning of an
// enum value bumps it (v1alpha2). docs/reachability.schema.json is the
// machine-readable form of this package and is checked against it in tests.
//
// +k8s:deepcopy-gen=package
// +groupName=podreach.dev
package v1alpha1
