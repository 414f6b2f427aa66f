// Command archls lists the regular files of a release archive (.tar.gz or
// .zip), one "mode name" line each in archive order, or with -x NAME writes
// that file's content to stdout (unzip may not be installed where the Krew
// test runs).
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"strings"
)

func main() {
	extract := flag.String("x", "", "write this file's content to stdout instead of listing")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: archls [-x NAME] FILE.tar.gz|FILE.zip")
	}
	name := flag.Arg(0)
	found := false
	visit := func(path string, mode fs.FileMode, open func() (io.Reader, error)) {
		if !mode.IsRegular() {
			return
		}
		if *extract == "" {
			fmt.Printf("%04o %s\n", mode.Perm(), path)
			return
		}
		if path != *extract {
			return
		}
		r, err := open()
		if err != nil {
			log.Fatal(err)
		}
		if _, err := io.Copy(os.Stdout, r); err != nil {
			log.Fatal(err)
		}
		found = true
	}
	if strings.HasSuffix(name, ".zip") {
		r, err := zip.OpenReader(name)
		if err != nil {
			log.Fatal(err)
		}
		defer r.Close()
		for _, f := range r.File {
			visit(f.Name, f.Mode(), func() (io.Reader, error) { return f.Open() })
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			log.Fatal(err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				log.Fatal(err)
			}
			visit(h.Name, h.FileInfo().Mode(), func() (io.Reader, error) { return tr, nil })
		}
	}
	if *extract != "" && !found {
		log.Fatalf("%s: no file %s", name, *extract)
	}
}
