// Package render prints an api.Reachability: a kubectl-like table (plain or
// wide), or the versioned JSON/YAML object (docs/reachability.schema.json). It only formats;
// every fact comes from the Report.
package render

import (
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Output formats accepted by -o.
const (
	FormatTable = "table"
	FormatWide  = "wide"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// Formats lists the -o values, default first.
var Formats = []string{FormatTable, FormatWide, FormatJSON, FormatYAML, FormatDot}

// IsFormat tells whether f is one of Formats.
func IsFormat(f string) bool {
	for _, x := range Formats {
		if f == x {
			return true
		}
	}
	return false
}

// Options changes how the table looks. JSON, YAML and dot ignore them.
type Options struct {
	// Wide adds the predicted Envoy path: LISTENER, ROUTE, CLUSTER, INBOUND.
	Wide bool
	// Color marks RESULT green (ok) or red (FAILS). Set it only when the
	// output is a terminal and NO_COLOR is unset.
	Color bool
	// Details prints a fleet's every pair (PrintList) instead of its groups.
	Details bool
}

// Print writes r in the given format (one of Formats).
func Print(w io.Writer, r *api.Reachability, format string, opts Options) error {
	switch format {
	case FormatTable, "":
		return Table(w, r, opts)
	case FormatWide:
		opts.Wide = true
		return Table(w, r, opts)
	case FormatJSON:
		return JSON(w, r)
	case FormatYAML:
		return YAML(w, r)
	case FormatDot:
		return Dot(w, r)
	}
	return fmt.Errorf("unknown output format %q (allowed: %s)", format, strings.Join(Formats, ", "))
}

// JSON writes the report (a Reachability or a ReachabilityList) as JSON
// indented by two spaces, with a final newline. HTML characters are not
// escaped: the text is for terminals and jq.
func JSON(w io.Writer, r any) error {
	return encodeJSON(w, r)
}

// YAML writes the report (a Reachability or a ReachabilityList) as YAML
// (the same field names as JSON).
func YAML(w io.Writer, r any) error {
	b, err := yaml.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding the report as YAML: %w", err)
	}
	_, err = w.Write(b)
	return err
}
