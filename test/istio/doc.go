// Package istiodiff holds differential tests between kubectl-podreach's
// model and Istio's own control-plane code.
package istiodiff
