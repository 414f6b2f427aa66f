// Package istio127 runs test/istio's differential harness (../istio/oracle)
// against Istio 1.27's control plane: every world with its proxies and
// istiod moved to 1.27.9, podreach answering for 1.27.
package istio127
