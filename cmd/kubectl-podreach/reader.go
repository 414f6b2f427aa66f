package main

import (
	"bytes"
	"flag"
	"net/http"
	"strconv"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/transport"
	"k8s.io/klog/v2"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
)

// newReader picks the source of the cluster: the embedded world, -f files,
// or the API server.
func (f *Flags) newReader(world *examples.World) (inspect.Reader, error) {
	switch {
	case world != nil:
		return wordedReader{Reader: inspect.NewFileReader([]string{"-"}, bytes.NewReader(world.Data))}, nil
	case len(f.Filenames) > 0:
		return wordedReader{Reader: inspect.NewFileReader(f.Filenames, f.In)}, nil
	}
	if f.noClusterConfigured() {
		return nil, kubeconfigErr(clientcmd.ErrEmptyConfig)
	}
	cfg, err := f.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, kubeconfigErr(err)
	}
	cfg.UserAgent = userAgent()
	cfg.QPS, cfg.Burst = 50, 100
	cfg.WarningHandler = rest.NewWarningWriter(f.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	f.logRequests(cfg)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, kubeconfigErr(err)
	}
	istio, err := istioclient.NewForConfig(cfg)
	if err != nil {
		return nil, kubeconfigErr(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, kubeconfigErr(err)
	}
	live := inspect.NewLiveReader(kube, istio, inspect.LiveOptions{Context: f.contextName(), Dynamic: dyn})
	return wordedReader{Reader: live, server: cfg.Host, requestTimeout: deref(f.ConfigFlags.Timeout)}, nil
}

// logRequests makes -v log the API requests through client-go's own request
// logging (klog, on stderr), as kubectl does: from -v=4 every request with
// its verb, URL, status and latency (kubectl needs -v=6 for that line; the
// point of podreach's -v=4 is to see what it reads and how long it takes),
// and from -v=6 on exactly kubectl's levels (7 request headers, 8 bodies, 9
// curl commands).
func (f *Flags) logRequests(cfg *rest.Config) {
	if f.Verbosity <= 0 {
		return
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"v":               strconv.Itoa(f.Verbosity),
		"logtostderr":     "false", // so that SetOutput applies
		"alsologtostderr": "false",
		"one_output":      "true",
	} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(f.ErrOut)
	if f.Verbosity >= 4 && f.Verbosity < 6 {
		// Below 6 client-go does not wrap its transport; do it, logging
		// at V(0) since -v already decided.
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return transport.NewDebuggingRoundTripper(rt, transport.DebugURLTiming)
		})
	}
}

// contextName is the kubeconfig context in use (--context, else current).
func (f *Flags) contextName() string {
	if c := deref(f.ConfigFlags.Context); c != "" {
		return c
	}
	raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}

// noClusterConfigured is true when no kubeconfig defines a cluster or a
// context, --server is unset and there is no in-cluster config. (ConfigFlags
// never reports clientcmd's ErrEmptyConfig: it falls back to localhost:8080.)
func (f *Flags) noClusterConfigured() bool {
	if f.ConfigFlags.APIServer != nil && *f.ConfigFlags.APIServer != "" {
		return false
	}
	raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil || !clientcmdapi.IsConfigEmpty(&raw) {
		return false // a broken kubeconfig reports its own error later
	}
	_, err = rest.InClusterConfig()
	return err != nil
}
