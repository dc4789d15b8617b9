package offsite

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The site's certificate is trusted through its CA for every host it
// serves, made once (the CA the cluster trusts stays the same), and
// reissued from the same CA when the hosts change.
func TestSiteCertsAreMadeOnceAndTrustedThroughTheirCA(t *testing.T) {
	c := Certs{Dir: filepath.Join(t.TempDir(), "tls")}
	hosts := []string{"statex-offsite", "localhost", "127.0.0.1"}
	if err := c.Ensure(hosts); err != nil {
		t.Fatal(err)
	}
	ca1, err := c.CA()
	if err != nil {
		t.Fatal(err)
	}
	crt1, _ := os.ReadFile(filepath.Join(c.CertsDir(), "public.crt"))
	if err := c.Ensure(hosts); err != nil {
		t.Fatal(err)
	}
	crt2, _ := os.ReadFile(filepath.Join(c.CertsDir(), "public.crt"))
	if !bytes.Equal(crt1, crt2) {
		t.Error("a second Ensure reissued a certificate that still covers its hosts")
	}
	if fi, err := os.Stat(filepath.Join(c.Dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ca.key: %v %v, want mode 0600", fi, err)
	}
	// The site's server runs as its own user: it must be able to read
	// what it mounts, or MinIO serves plain HTTP.
	for _, d := range []string{c.CertsDir(), filepath.Join(c.CertsDir(), "CAs")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v, want mode 0755", d, fi, err)
		}
	}
	if fi, err := os.Stat(c.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v %v, want mode 0700", c.Dir, fi, err)
	}
	if _, err := os.Stat(filepath.Join(c.CertsDir(), "ca.key")); err == nil {
		t.Error("the CA key is inside the directory the site mounts")
	}

	// Serve with the pair and connect as a client of the CA only.
	pair, err := tls.LoadX509KeyPair(filepath.Join(c.CertsDir(), "public.crt"), filepath.Join(c.CertsDir(), "private.key"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	client, err := c.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("a client of the site's CA does not trust its certificate: %v", err)
	}
	resp.Body.Close()
	if _, err := http.Get(srv.URL); err == nil {
		t.Error("the system's roots trust the site's certificate: it is not from its own CA")
	}

	// New hosts: a new certificate, the same CA.
	if err := c.Ensure(append(hosts, "statex-offsite.example")); err != nil {
		t.Fatal(err)
	}
	crt3, _ := os.ReadFile(filepath.Join(c.CertsDir(), "public.crt"))
	ca3, _ := c.CA()
	if bytes.Equal(crt3, crt1) || !bytes.Equal(ca3, ca1) {
		t.Error("new hosts: want a new certificate from the same CA")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca3)
	pair3, err := tls.LoadX509KeyPair(filepath.Join(c.CertsDir(), "public.crt"), filepath.Join(c.CertsDir(), "private.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair3.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "statex-offsite.example"}); err != nil {
		t.Error(err)
	}
	if !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("IP SANs %v", leaf.IPAddresses)
	}
}
