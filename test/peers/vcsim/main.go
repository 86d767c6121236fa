// A loopback vCenter for Lifeboat's conformance tests: govmomi's simulator (Debian's
// golang-github-vmware-govmomi-dev) behind TLS on 127.0.0.1 and a free port. It prints one line,
// "LISTEN <url> <sha1 thumbprint>", and serves until stdin is closed, so the test harness that
// started it cannot leak it.
package main

import (
	"crypto/sha1"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	user := flag.String("user", "lifeboat", "the only user name Login accepts")
	pass := flag.String("pass", "", "its password (required)")
	flag.Parse()
	if *pass == "" {
		fmt.Fprintln(os.Stderr, "vcsim: -pass is required")
		os.Exit(2)
	}
	model := simulator.VPX()
	defer model.Remove()
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim:", err)
		os.Exit(1)
	}
	model.Service.TLS = new(tls.Config)
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(*user, *pass)}
	server := model.Service.NewServer()
	defer server.Close()
	sum := sha1.Sum(server.Certificate().Raw)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	u := *server.URL
	u.User = nil
	fmt.Printf("LISTEN %s %s\n", u.String(), strings.Join(hex, ":"))
	_, _ = io.Copy(io.Discard, os.Stdin)
}
