// Command kubectl is kubectl built from the k8s.io/kubectl module, for
// machines without one: test/krew/run.sh builds it only when `kubectl` is
// not on PATH. It is the same wiring as k8s.io/kubernetes/cmd/kubectl (which
// cannot be built with `go install` because of that module's replace
// directives), including kubectl's plugin discovery.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
