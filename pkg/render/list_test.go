package render

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// fleetList is the golden list of examples/fleet-etcd-peers (--peers sts/etcd).
func fleetList(t *testing.T) *api.ReachabilityList {
	t.Helper()
	b, err := os.ReadFile("../../cmd/kubectl-podreach/testdata/golden/fleet-etcd-peers.json")
	if err != nil {
		t.Fatal(err)
	}
	var l api.ReachabilityList
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return &l
}

// TestListDetails: --details is every pair's own table, in item order,
// then the lines per verdict.
func TestListDetails(t *testing.T) {
	l := fleetList(t)
	var got bytes.Buffer
	if err := PrintList(&got, l, FormatTable, Options{Details: true}); err != nil {
		t.Fatal(err)
	}
	for i := range l.Items {
		var one bytes.Buffer
		if err := Table(&one, &l.Items[i], Options{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got.String(), one.String()) {
			t.Errorf("item %d's table is not in the details", i)
		}
	}
	if !strings.HasSuffix(got.String(), strings.Join(verdictLines(l), "\n")+"\n") {
		t.Errorf("the details do not end with the lines per verdict:\n%s", got.String())
	}
}

// TestListTableGroups: the grouped table prints each failing group once,
// with its why: and fix: lines, one row per reaching group, and verdict
// lines that add up to the requests; -o dot is refused for a list.
func TestListTableGroups(t *testing.T) {
	l := fleetList(t)
	var out bytes.Buffer
	if err := PrintList(&out, l, FormatTable, Options{}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	failing, reaching := 0, 0
	for _, g := range l.Summary.Groups {
		if g.Verdict == api.VerdictFails {
			failing++
		} else {
			reaching++
		}
	}
	if n := strings.Count(s, "\nFAILS   "); n != failing {
		t.Errorf("%d FAILS blocks, want %d", n, failing)
	}
	if n := strings.Count(s, "\n  why: "); n == 0 {
		t.Error("no why: line")
	}
	if !strings.Contains(s, "\nPORT   FORM ") {
		t.Errorf("no table of the reaching groups:\n%s", s)
	}
	total := 0
	for _, g := range l.Summary.Groups {
		total += g.Count
	}
	if total != l.Summary.Requests {
		t.Errorf("groups count %d requests, the summary %d", total, l.Summary.Requests)
	}
	if err := PrintList(&out, l, FormatDot, Options{}); err == nil {
		t.Error("-o dot printed a list")
	}
}
