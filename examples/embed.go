// Package examples embeds the example worlds: YAML dumps of small clusters,
// each starting with a `# podreach: SRC DST [flags]` line that says how to
// run the plugin against it (`kubectl podreach SRC DST -f examples/FILE`).
// They feed --example, the README and the tests.
package examples

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// DefaultFile is the world shown by `kubectl podreach --example` and when no
// cluster is configured; the first world in name order stands in if absent.
const DefaultFile = "headless-http-podip.yaml"

// World is one embedded example.
type World struct {
	// Name is the file name without .yaml, as --example takes it.
	Name string
	// File is the file name in examples/.
	File string
	// Args are the words of the `# podreach:` line: SRC, DST and any flags.
	Args []string
	// Data is the file's content.
	Data []byte
}

// Worlds returns every embedded world in file-name order.
func Worlds() ([]World, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var worlds []World
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		w, err := load(e.Name())
		if err != nil {
			return nil, err
		}
		worlds = append(worlds, w)
	}
	sort.Slice(worlds, func(i, j int) bool { return worlds[i].File < worlds[j].File })
	return worlds, nil
}

// Default returns the default world (DefaultFile, else the first).
func Default() (World, error) {
	if w, err := load(DefaultFile); err == nil {
		return w, nil
	}
	worlds, err := Worlds()
	if err != nil {
		return World{}, err
	}
	if len(worlds) == 0 {
		return World{}, fmt.Errorf("no example worlds are embedded")
	}
	return worlds[0], nil
}

// Lookup finds a world by name, with or without .yaml.
func Lookup(name string) (World, error) {
	file := name
	if !strings.HasSuffix(file, ".yaml") {
		file += ".yaml"
	}
	if strings.Contains(file, "/") {
		return World{}, fmt.Errorf("unknown example %q", name)
	}
	w, err := load(file)
	if err != nil {
		return World{}, fmt.Errorf("unknown example %q (have: %s)", name, strings.Join(Names(), ", "))
	}
	return w, nil
}

// Names lists the worlds' names (without .yaml).
func Names() []string {
	worlds, _ := Worlds()
	names := make([]string, 0, len(worlds))
	for _, w := range worlds {
		names = append(names, w.Name)
	}
	return names
}

func load(file string) (World, error) {
	data, err := files.ReadFile(file)
	if err != nil {
		return World{}, err
	}
	args, err := ParseArgsLine(data)
	if err != nil {
		return World{}, fmt.Errorf("examples/%s: %w", file, err)
	}
	return World{Name: strings.TrimSuffix(file, ".yaml"), File: file, Args: args, Data: data}, nil
}

// Queries returns the words of every `# podreach:` line at the top of the
// world (the first is Args).
func (w World) Queries() ([][]string, error) {
	var out [][]string
	for _, line := range argsLines(w.Data) {
		words, err := SplitWords(line)
		if err != nil {
			return nil, fmt.Errorf("examples/%s: %w", w.File, err)
		}
		out = append(out, words)
	}
	return out, nil
}

// QueryWith returns the first `# podreach:` line that has the word (such as
// "--scrape"), nil if none does.
func (w World) QueryWith(word string) ([]string, error) {
	qs, err := w.Queries()
	for _, q := range qs {
		if slices.Contains(q, word) {
			return q, err
		}
	}
	return nil, err
}

// Query is a world and one of its `# podreach:` lines.
type Query struct {
	World
	Args []string
}

// WithQuery lists the worlds that have a `# podreach:` line with the word
// (such as "--scrape"), each with the first such line.
func WithQuery(word string) ([]Query, error) {
	ws, err := Worlds()
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, w := range ws {
		args, err := w.QueryWith(word)
		if err != nil {
			return nil, err
		}
		if args != nil {
			out = append(out, Query{World: w, Args: args})
		}
	}
	return out, nil
}

// ParseArgsLine reads the `# podreach: ARGS` line at the top of a world
// (leading comment lines and blank lines may precede it) and splits ARGS
// into words, honouring single and double quotes as a shell would.
func ParseArgsLine(data []byte) ([]string, error) {
	lines := argsLines(data)
	if len(lines) == 0 {
		return nil, fmt.Errorf("no `# podreach: SRC DST` line at the top")
	}
	return SplitWords(lines[0])
}

// argsLines are the ARGS of the `# podreach: ARGS` lines among the comment
// and blank lines that start a world.
func argsLines(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			break
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(line, "#")), "podreach:"); ok {
			out = append(out, rest)
		}
	}
	return out
}

// SplitWords splits s into words like a POSIX shell without expansions:
// blanks separate words, '…' and "…" quote, backslash escapes outside
// single quotes.
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == '\'':
			cur.WriteRune(r)
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case quote == '"':
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
