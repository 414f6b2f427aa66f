package render

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// namesShown is how many pods the DESTINATIONS / PEERS line names.
const namesShown = 5

// PrintList writes a fleet's ReachabilityList in the given format: the
// grouped table (Options.Details: every pair's table; wide: every pair's
// wide table), or the list as JSON or YAML. -o dot draws one pair and is
// refused for a list.
func PrintList(w io.Writer, l *api.ReachabilityList, format string, opts Options) error {
	switch format {
	case FormatTable, "":
		if opts.Details {
			return ListDetails(w, l, opts)
		}
		return ListTable(w, l, opts)
	case FormatWide:
		opts.Wide = true
		return ListDetails(w, l, opts)
	case FormatJSON:
		return JSON(w, l)
	case FormatYAML:
		return YAML(w, l)
	}
	return fmt.Errorf("output format %q does not apply to a fleet (allowed: table, wide, json, yaml)", format)
}

// ListTable writes the grouped view: the SOURCE (or PEERS) and DESTINATIONS
// lines, one block per failing group (count, example pairs, the
// representative request's why:/fix: lines), one table of the reaching
// groups, and a final line per verdict. Its length grows with the number of
// distinct outcomes, not with the number of pods.
func ListTable(w io.Writer, l *api.ReachabilityList, opts Options) error {
	var out bytes.Buffer
	if err := writeListHeader(&out, l); err != nil {
		return err
	}
	sources, _ := podsOf(l)
	pair := func(key string) string {
		if len(sources) == 1 {
			_, dst, _ := strings.Cut(key, "→")
			return "→" + dst // one SRC, printed above
		}
		return key
	}
	var ok []api.RequestGroup
	for _, g := range l.Summary.Groups {
		if g.Verdict != api.VerdictFails {
			ok = append(ok, g)
			continue
		}
		q := representative(l, g)
		out.WriteString("\n")
		head := fmt.Sprintf("FAILS   %s   %s", groupCount(g), groupWhere(g))
		if opts.Color {
			head = ansiRed + "FAILS" + ansiReset + head[len("FAILS"):]
		}
		out.WriteString(head + "\n")
		for _, line := range wrapNote("  e.g.: ", exampleLine(g, q, pair)) {
			out.WriteString(line + "\n")
		}
		if q.Symptom != "" {
			for _, line := range wrapNote("  symptom: ", q.Symptom) {
				out.WriteString(line + "\n")
			}
		}
		for _, n := range notes(q) {
			out.WriteString(n + "\n")
		}
	}
	if len(ok) > 0 {
		out.WriteString("\n")
		rows := make([][]string, len(ok))
		var colors []string
		for i, g := range ok {
			q := representative(l, g)
			rows[i] = []string{strconv.Itoa(int(g.Port)), orDash(string(g.Form)), strconv.Itoa(g.Count), strconv.Itoa(g.Pairs),
				addressCell(q) + "  (" + pair(g.Examples[0]) + ")", resultCell(q)}
			if opts.Color {
				colors = append(colors, resultColor(q))
			}
		}
		lines, err := renderRows([]string{"PORT", "FORM", "REQUESTS", "PAIRS", "E.G.", "RESULT"}, rows, 5, colors)
		if err != nil {
			return err
		}
		for _, line := range lines {
			out.WriteString(line + "\n")
		}
	}
	out.WriteString("\n")
	for _, line := range verdictLines(l) {
		out.WriteString(line + "\n")
	}
	_, err := w.Write(out.Bytes())
	return err
}

// ListDetails writes every pair's table (today's single-pair output, one
// after the other), then the final lines per verdict.
func ListDetails(w io.Writer, l *api.ReachabilityList, opts Options) error {
	for i := range l.Items {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"+strings.Repeat("─", 40)+"\n\n"); err != nil {
				return err
			}
		}
		if err := Table(w, &l.Items[i], opts); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n"+strings.Join(verdictLines(l), "\n")+"\n")
	return err
}

// writeListHeader prints SOURCE (one source) or PEERS (the peers' own
// pairs), then DESTINATIONS.
func writeListHeader(out *bytes.Buffer, l *api.ReachabilityList) error {
	if len(l.Items) == 0 {
		out.WriteString("No pairs examined.\n")
		return nil
	}
	sources, dsts := podsOf(l)
	labelWidth := len("DESTINATIONS") + 3
	if len(sources) == 1 {
		lines, err := renderRows(nil, [][]string{workloadRow("SOURCE", l.Items[0].Source, sourceNotes(&l.Items[0]))}, -1, nil)
		if err != nil {
			return err
		}
		for _, line := range lines {
			// Align with DESTINATIONS below.
			label, rest, _ := strings.Cut(line, " ")
			fmt.Fprintf(out, "%-*s%s\n", labelWidth, label, strings.TrimLeft(rest, " "))
		}
	} else {
		fmt.Fprintf(out, "%-*s%s\n", labelWidth, "PEERS", esc(podList(sources)))
	}
	fmt.Fprintf(out, "%-*s%s\n", labelWidth, "DESTINATIONS", esc(podList(dsts)))
	return nil
}

// podsOf lists the distinct sources and destinations, NS/NAME, sorted.
func podsOf(l *api.ReachabilityList) (sources, dsts []string) {
	seenS, seenD := map[string]bool{}, map[string]bool{}
	for _, it := range l.Items {
		if s := it.Source.Namespace + "/" + it.Source.Name; !seenS[s] {
			seenS[s] = true
			sources = append(sources, s)
		}
		if it.Destination != nil {
			if d := it.Destination.Namespace + "/" + it.Destination.Name; !seenD[d] {
				seenD[d] = true
				dsts = append(dsts, d)
			}
		}
	}
	sort.Strings(sources)
	sort.Strings(dsts)
	return sources, dsts
}

// podList is "3 pods in 1 namespace: db/etcd-0, db/etcd-1, db/etcd-2".
func podList(pods []string) string {
	nss := map[string]bool{}
	for _, p := range pods {
		ns, _, _ := strings.Cut(p, "/")
		nss[ns] = true
	}
	shown := pods[:min(len(pods), namesShown)]
	s := fmt.Sprintf("%s in %s: %s", count(len(pods), "pod"), count(len(nss), "namespace"), strings.Join(shown, ", "))
	if len(pods) > len(shown) {
		s += fmt.Sprintf(", … (%d more)", len(pods)-len(shown))
	}
	return s
}

// representative is the request a group points at.
func representative(l *api.ReachabilityList, g api.RequestGroup) api.Request {
	return l.Items[g.Representative.Item].Requests[g.Representative.Request]
}

// groupCount is "12 requests in 6 pairs".
func groupCount(g api.RequestGroup) string {
	return count(g.Count, "request") + " in " + count(g.Pairs, "pair")
}

// groupWhere is "port 2380 (pod port 2380), pod-ip, POLICY_DENIED".
func groupWhere(g api.RequestGroup) string {
	s := "port " + strconv.Itoa(int(g.Port))
	if g.DestinationPort != 0 && g.DestinationPort != g.Port {
		s += fmt.Sprintf(" (pod port %d)", g.DestinationPort)
	}
	s += ", " + orDash(string(g.Form))
	if g.Reason != "" {
		s += ", " + string(g.Reason)
	}
	return s
}

// exampleLine names the representative request (its pair is the group's
// first example) and the group's other example pairs.
func exampleLine(g api.RequestGroup, q api.Request, pair func(string) string) string {
	s := addressWithHost(q, " ") + " (" + pair(g.Examples[0]) + ")"
	if len(g.Examples) > 1 {
		also := make([]string, len(g.Examples)-1)
		for i, e := range g.Examples[1:] {
			also[i] = pair(e)
		}
		s += "; also " + strings.Join(also, ", ") + more(g)
	}
	return s
}

// more says how many pairs of a group the examples leave out.
func more(g api.RequestGroup) string {
	if n := g.Pairs - len(g.Examples); n > 0 {
		return fmt.Sprintf(" (+%d)", n)
	}
	return ""
}

// verdictLines are the final lines: the totals, then one line per verdict.
func verdictLines(l *api.ReachabilityList) []string {
	s := l.Summary
	byVerdict := map[api.Verdict]int{}
	for _, g := range s.Groups {
		byVerdict[g.Verdict] += g.Count
	}
	lines := []string{fmt.Sprintf("%s in %s:", count(s.Requests, "request"), count(s.Pairs, "pair"))}
	width := len(strconv.Itoa(s.Requests))
	for _, v := range api.Verdicts {
		n := byVerdict[v]
		if n == 0 && v != api.VerdictFails {
			continue
		}
		words := map[api.Verdict]string{
			api.VerdictReaches:      "ok, reach the destination pod",
			api.VerdictLoadBalanced: "ok, load-balanced over a Service that includes it",
			api.VerdictFails:        "FAIL",
		}[v]
		lines = append(lines, fmt.Sprintf("  %*d  %s", width, n, words))
	}
	return lines
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
