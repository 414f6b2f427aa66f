// Command kubectl-podreach is the kubectl plugin `kubectl podreach SRC DST`:
// it explains whether and how one pod reaches another (or a URL) through the
// Istio data path, from the cluster's objects alone.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	// Cloud auth providers (exec, OIDC, ...) for kubeconfigs that use them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

// version is stamped by the release: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(run(os.Args[1:], streams))
}
