package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/render"
)

// TestFleetOptions: how the fleet forms parse and combine (ToOptions, then
// Validate), the single forms they must not disturb, and every usage error
// they add.
func TestFleetOptions(t *testing.T) {
	isolate(t)
	f := []string{"-f", "dump.yaml"}
	cases := []struct {
		name    string
		argv    []string
		fleet   bool
		wantErr string
		check   func(t *testing.T, o *Options)
	}{
		{name: "one workload DST stays the single form", argv: []string{"a", "sts/web"},
			check: func(t *testing.T, o *Options) {
				if o.Destination == nil || o.Destination.Kind != podref.KindStatefulSet || len(o.Destinations) != 0 {
					t.Errorf("destination %+v, destinations %+v", o.Destination, o.Destinations)
				}
			}},
		{name: "one URL stays the single form", argv: []string{"a", "http://web:80/"},
			check: func(t *testing.T, o *Options) {
				if o.Target == nil || len(o.Targets) != 0 {
					t.Errorf("target %+v, targets %+v", o.Target, o.Targets)
				}
			}},
		{name: "-n with SRC and DST is the single form", argv: []string{"-n", "demo", "a", "b"}},
		{name: "several DSTs", argv: []string{"a", "b", "sts/web", "other/c"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if len(o.Destinations) != 3 || o.Destinations[1].Kind != podref.KindStatefulSet || o.Destinations[2].Namespace != "other" {
					t.Errorf("destinations %+v", o.Destinations)
				}
			}},
		{name: "selector", argv: []string{"a", "-l", "app=web,tier!=db"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if o.Selector == nil || o.Selector.String() != "app=web,tier!=db" || o.AllNamespaces {
					t.Errorf("selector %v, all %v", o.Selector, o.AllNamespaces)
				}
				if set := o.podSet(); set.Namespace != "default" || set.AllNamespaces {
					t.Errorf("pod set %+v", set)
				}
			}},
		{name: "selector in every namespace", argv: []string{"a", "-l", "app=web", "-A"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if set := o.podSet(); !set.AllNamespaces || set.Selector.String() != "app=web" {
					t.Errorf("pod set %+v", set)
				}
			}},
		{name: "-A alone: every pod", argv: []string{"a", "--all-namespaces"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if set := o.podSet(); !set.AllNamespaces || !set.Selector.Empty() {
					t.Errorf("pod set %+v", set)
				}
			}},
		{name: "-n and a lone SRC: the namespace's pods", argv: []string{"-n", "demo", "a"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if set := o.podSet(); set.Namespace != "demo" || set.AllNamespaces || !set.Selector.Empty() || o.Source.Namespace != "demo" {
					t.Errorf("pod set %+v, source %+v", set, o.Source)
				}
			}},
		{name: "peers of a workload", argv: []string{"--peers", "sts/etcd"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if !o.Peers || len(o.Destinations) != 1 || o.Destinations[0].Name != "etcd" {
					t.Errorf("peers %v %+v", o.Peers, o.Destinations)
				}
			}},
		{name: "peers as the flag's value", argv: []string{"--peers=deploy/web"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if !o.Peers || len(o.Destinations) != 1 || o.Destinations[0].Kind != podref.KindDeployment {
					t.Errorf("peers %v %+v", o.Peers, o.Destinations)
				}
			}},
		{name: "peers by selector", argv: []string{"--peers", "-l", "app=etcd"}, fleet: true,
			check: func(t *testing.T, o *Options) {
				if !o.Peers || o.Selector == nil || len(o.Destinations) != 0 {
					t.Errorf("peers %v selector %v %+v", o.Peers, o.Selector, o.Destinations)
				}
			}},
		{name: "details", argv: []string{"a", "-A", "--details"}, fleet: true},
		{name: "fleet -o wide", argv: []string{"a", "-A", "-o", "wide"}, fleet: true},
		{name: "fleet -o jsonpath", argv: []string{"a", "-A", "-o", "jsonpath={.summary.failing}"}, fleet: true},

		{name: "no DST", argv: []string{"a"}, wantErr: `DST is required after SRC "a": a pod, a URL or host:port; or select several with -l SELECTOR, -A or -n NAMESPACE`},
		{name: "URL among DSTs", argv: []string{"a", "b", "http://web:80/"}, wantErr: `a URL DST is a single target: "http://web:80/" cannot be combined`},
		{name: "URL with -l", argv: []string{"a", "web:80", "-l", "app=web"}, wantErr: "a URL DST is a single target"},
		{name: "URL with -A", argv: []string{"a", "http://web/", "-A"}, wantErr: "a URL DST is a single target"},
		{name: "URL with --peers", argv: []string{"--peers", "http://web/"}, wantErr: "a URL DST is a single target"},
		{name: "-l and DSTs", argv: []string{"a", "b", "-l", "app=web"}, wantErr: "-l selects the destinations: give either DSTs (b) or -l, not both"},
		{name: "-A and DSTs", argv: []string{"a", "b", "c", "-A"}, wantErr: "-A selects the destinations: give either DSTs (b c) or -A, not both"},
		{name: "bad selector", argv: []string{"a", "-l", "app in (web"}, wantErr: `invalid -l "app in (web"`},
		{name: "peers of a pod", argv: []string{"--peers", "etcd-0"}, wantErr: `pod "etcd-0" alone has no peers`},
		{name: "peers of nothing", argv: []string{"--peers"}, wantErr: "--peers needs a workload"},
		{name: "peers -A alone", argv: []string{"--peers", "-A"}, wantErr: "--peers needs a workload"},
		{name: "peers of two workloads", argv: []string{"--peers", "sts/a", "sts/b"}, wantErr: "--peers takes one workload (sts/NAME, deploy/NAME, ds/NAME, rs/NAME) or -l SELECTOR, got sts/a sts/b"},
		{name: "peers workload and selector", argv: []string{"--peers", "sts/a", "-l", "app=a"}, wantErr: "--peers takes either a workload (sts/a) or -l SELECTOR, not both"},
		{name: "details on a single pair", argv: []string{"a", "b", "--details"}, wantErr: "--details applies to the fleet forms"},
		{name: "dot for a fleet", argv: []string{"a", "-A", "-o", "dot"}, wantErr: "-o dot draws the requests of one pair"},
		{name: "header for a fleet", argv: []string{"a", "b", "c", "-H", "Host: x"}, wantErr: "--header applies to a URL DST, not to the fleet forms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := toOptions(t, append(slices.Clone(tc.argv), f...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				if code := exitCode(err); code != exitUsage {
					t.Errorf("exit status %d, want %d", code, exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if o.fleet() != tc.fleet {
				t.Errorf("fleet() = %v, want %v", o.fleet(), tc.fleet)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

// worldQuery splits a world's first query into its SRC (or --peers
// workload), its DST and the flags that apply to a fleet too (-n, --port,
// --traffic, --method).
func worldQuery(t *testing.T, args []string) (positional []string, flags []string, peers bool) {
	t.Helper()
	f := NewFlags(genericiooptions.NewTestIOStreamsDiscard())
	cmd := NewCmd(f)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	positional = cmd.Flags().Args()
	if f.Peers.workload != "" {
		positional = append([]string{f.Peers.workload}, positional...)
	}
	if ns := deref(f.ConfigFlags.Namespace); ns != "" {
		flags = append(flags, "-n", ns)
	}
	isURL := len(positional) > 1 && podref.IsTarget(positional[1])
	for _, p := range f.Ports {
		if !isURL {
			flags = append(flags, "--port", p)
		}
	}
	if cmd.Flags().Changed("traffic") {
		flags = append(flags, "--traffic", f.Traffic)
	}
	if cmd.Flags().Changed("method") {
		flags = append(flags, "--method", f.Method)
	}
	return positional, flags, f.Peers.on
}

// TestFleetPairsEqualSinglePairs: over every example world, every item of a
// fleet run (SRC -A from the world's SRC; --peers for a peers world) is
// byte for byte the JSON report of `kubectl podreach SRC DST` for the same
// pair, and a destination the fleet left out is one the single form
// refuses.
func TestFleetPairsEqualSinglePairs(t *testing.T) {
	isolate(t)
	pairs := 0
	for _, w := range worlds(t) {
		t.Run(w.Name, func(t *testing.T) {
			positional, flags, peers := worldQuery(t, w.Args)
			fleetArgs := append(append(slices.Clone(flags), positional[0], "-A"), "-f", worldPath(w), "-o", "json")
			if peers {
				fleetArgs = append(append(slices.Clone(flags), "--peers", positional[0]), "-f", worldPath(w), "-o", "json")
			}
			r := runCmd(t, fleetArgs...)
			if r.code != exitOK && r.code != exitFails {
				t.Fatalf("kubectl podreach %s: exit %d\n%s", strings.Join(fleetArgs, " "), r.code, r.errOut)
			}
			var list api.ReachabilityList
			if err := json.Unmarshal([]byte(r.out), &list); err != nil {
				t.Fatal(err)
			}
			if list.Kind != api.KindReachabilityList || len(list.Items) == 0 {
				t.Fatalf("kind %q, %d items", list.Kind, len(list.Items))
			}
			fails := false
			for _, it := range list.Items {
				src := it.Source.Namespace + "/" + it.Source.Name
				if !peers {
					src = positional[0] // as given: a workload SRC keeps its chosenFrom
				}
				args := append(append(slices.Clone(flags), src, it.Destination.Namespace+"/"+it.Destination.Name), "-f", worldPath(w), "-o", "json")
				single := runCmd(t, args...)
				var buf bytes.Buffer
				if err := render.JSON(&buf, &it); err != nil {
					t.Fatal(err)
				}
				if buf.String() != single.out {
					t.Errorf("pair %s→%s differs from kubectl podreach %s:\n--- fleet item\n%s\n--- single\n%s",
						src, it.Destination.Name, strings.Join(args, " "), buf.String(), single.out)
				}
				fails = fails || single.code == exitFails
				pairs++
			}
			if want := map[bool]int{false: exitOK, true: exitFails}[fails]; r.code != want {
				t.Errorf("the fleet exits %d, its pairs say %d", r.code, want)
			}
		})
	}
	t.Logf("%d pairs equal their single-pair report", pairs)
}

// TestFleetLeftOut: the warnings a fleet adds (SRC among the destinations,
// a destination without a port to examine) and the usage errors of an empty
// fleet.
func TestFleetLeftOut(t *testing.T) {
	isolate(t)
	world := "../../examples/fleet-etcd-peers.yaml"
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"SRC among the selected", []string{"-n", "infra", "etcd-0", "-l", "app=etcd"}, exitFails, "Warning: SRC infra/etcd-0 is among the destinations: left out"},
		{"a pod without the --port", []string{"-n", "infra", "etcd-0", "-A", "--port", "peer"}, exitFails, `Warning: pair left out: invalid --port "peer": pod infra/apisix-fhqtcsqwqq-wcp5x has no port named "peer"`},
		{"selector matches nothing", []string{"-n", "infra", "etcd-0", "-l", "app=nope"}, exitUsage, `error: no pods match -l "app=nope" in namespace "infra"`},
		{"only SRC matches", []string{"-n", "infra", "etcd-0", "-l", "statefulset.kubernetes.io/pod-name=etcd-0"}, exitUsage, "error: no pairs to examine: the only destination is SRC infra/etcd-0 itself"},
		{"one peer", []string{"-n", "infra", "--peers", "-l", "statefulset.kubernetes.io/pod-name=etcd-0"}, exitUsage, "error: no pairs to examine: --peers found 1 pod with an IP (infra/etcd-0)"},
		{"unknown workload", []string{"-n", "infra", "etcd-0", "sts/nope", "sts/etcd"}, exitUsage, `error: no pods found for sts/nope in namespace "infra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, append(tc.args, "-f", world, "-o", "json")...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r.errOut)
			}
			if !strings.Contains(r.errOut, tc.contains) {
				t.Errorf("stderr does not say %q:\n%s", tc.contains, r.errOut)
			}
		})
	}
}

// TestFleetProgress: a fleet over progressAfter pairs reports its progress
// on the Progress writer (stderr when it is a terminal), then clears the
// line; below it, nothing.
func TestFleetProgress(t *testing.T) {
	isolate(t)
	args := []string{"-n", "infra", "--peers", "sts/etcd", "-f", "../../examples/fleet-etcd-peers.yaml", "-o", "json"}
	for _, tc := range []struct {
		after int
		want  string
	}{{5, "\rexamining pairs: 6/6\r\x1b[K"}, {6, ""}} {
		o, err := toOptions(t, args)
		if err != nil {
			t.Fatal(err)
		}
		var progress bytes.Buffer
		o.Progress = &progress
		defer func(n int) { progressAfter = n }(progressAfter)
		progressAfter = tc.after
		if err := o.Run(t.Context()); err != errRequestsFail {
			t.Fatalf("Run: %v", err)
		}
		if !strings.HasSuffix(progress.String(), tc.want) || (tc.want == "") != (progress.Len() == 0) {
			t.Errorf("over %d pairs: progress %q, want it to end with %q", tc.after, progress.String(), tc.want)
		}
	}
}
