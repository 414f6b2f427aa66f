// Package e2e runs the built kubectl-podreach binary against a real
// kube-apiserver (see harness) the way a user would, through kubeconfig
// files, and checks its answers against the -f answers for the same objects,
// its RBAC needs, and its failure messages and exit statuses.
//
// Run it with test/e2e/run.sh (installs etcd, builds or reuses the cached
// kube-apiserver); PODREACH_E2E=0 skips it.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/podreach/kubectl-podreach/test/e2e/harness"
)

var (
	// pluginBin is the kubectl-podreach binary built from this tree by TestMain.
	pluginBin string
	// homeDir is an empty HOME for the plugin: no ~/.kube/config leaks in.
	homeDir string

	sharedOnce    sync.Once
	sharedCluster *harness.Cluster
	sharedErr     error
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if !harness.Enabled() {
		return m.Run() // every test skips itself, saying why
	}
	tmp, err := os.MkdirTemp("", "podreach-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	homeDir = filepath.Join(tmp, "home")
	if err := os.MkdirAll(homeDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pluginBin = filepath.Join(tmp, "kubectl-podreach")
	t0 := time.Now()
	build := exec.Command("go", "build", "-o", pluginBin, "./cmd/kubectl-podreach")
	build.Dir = harness.RootDir()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/kubectl-podreach: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", pluginBin, time.Since(t0).Round(time.Millisecond))

	code := m.Run()
	if sharedCluster != nil {
		sharedCluster.Stop()
	}
	return code
}

// shared is the cluster most tests use: Istio CRDs installed, audit log on.
// Tests apply their objects and DeleteApplied them when done.
func shared(t *testing.T) *harness.Cluster {
	t.Helper()
	harness.SkipIfDisabled(t)
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		sharedCluster, sharedErr = harness.Launch(ctx, harness.Options{
			IstioCRDs: true,
			AuditLog:  true,
			Log:       func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
		})
		if sharedErr == nil {
			// The optional kinds of --scrape, which the monitor world holds.
			_, sharedErr = sharedCluster.InstallCRDs(ctx, filepath.Join(harness.RootDir(), "test", "e2e", "testdata", "monitoring-crds.yaml"))
		}
		if sharedErr == nil {
			// The optional kind of ambient mode (waypoints), which the ambient worlds hold.
			_, sharedErr = sharedCluster.InstallCRDs(ctx, filepath.Join(harness.RootDir(), "test", "e2e", "testdata", "gateway-crds.yaml"))
		}
	})
	if sharedErr != nil {
		t.Fatalf("the shared cluster did not start: %v", sharedErr)
	}
	return sharedCluster
}

// applyUntilCleanup applies objs to the shared cluster and removes them
// when the test ends, so the next test can reuse the namespaces.
func applyUntilCleanup(t *testing.T, c *harness.Cluster, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Now()
	if err := c.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	t.Logf("applied %d objects in %v", len(objs), time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := c.DeleteApplied(ctx); err != nil {
			t.Errorf("clean up: %v", err)
		}
	})
}

// result is one run of the plugin.
type result struct {
	args    []string
	stdout  string
	stderr  string
	code    int
	elapsed time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("kubectl-podreach %s\nexit %d after %v\nstderr:\n%s\nstdout:\n%s",
		strings.Join(r.args, " "), r.code, r.elapsed.Round(time.Millisecond), r.stderr, truncate(r.stdout, 3000))
}

// podreach runs the built plugin with a clean environment.
func podreach(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pluginBin, args...)
	cmd.Dir = harness.RootDir()
	cmd.Env = []string{"HOME=" + homeDir, "PATH=/usr/bin:/bin", "NO_COLOR=1"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run kubectl-podreach %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("kubectl-podreach %s did not finish within 2 minutes", strings.Join(args, " "))
	}
	return r
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n…"
}
