// Command serve serves a directory over HTTP on a free loopback port, so that
// validate-krew-manifest can download the release archives as Krew would from
// GitHub. It prints its base URL (http://127.0.0.1:PORT/) on stdout and
// serves until killed.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: serve DIR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s/\n", l.Addr())
	log.Fatal(http.Serve(l, http.FileServer(http.Dir(os.Args[1]))))
}
