// Command zipls lists the files in a zip archive, one per line (unzip may
// not be installed where the Krew test runs).
package main

import (
	"archive/zip"
	"fmt"
	"log"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: zipls FILE.zip")
	}
	r, err := zip.OpenReader(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, f := range r.File {
		fmt.Println(f.Name)
	}
}
