package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Colour only on a terminal: a pipe, a file or a buffer gets none, whatever
// NO_COLOR says; the report through run() never carries escape codes.
func TestNoColorOffTerminal(t *testing.T) {
	isolate(t)
	t.Setenv("NO_COLOR", "")
	os.Unsetenv("NO_COLOR")
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, w := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f} {
		if colorAllowed(w) {
			t.Errorf("%s: colour allowed off a terminal", name)
		}
	}
	r := runCmd(t, "--example")
	if strings.Contains(r.out, "\x1b[") || strings.Contains(r.errOut, "\x1b[") {
		t.Errorf("escape codes off a terminal:\n%q", r.out)
	}
}
