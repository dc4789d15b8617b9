package offsite

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Certs is a site's TLS material in a directory of this machine: a CA of
// its own (ca.key never leaves Dir) and, under certs/, the layout MinIO's
// --certs-dir reads (public.crt, private.key, CAs/ca.crt). Backups travel
// over TLS because pgBackRest speaks S3 only over HTTPS, and a backup key
// on the wire in clear text would be as good as root for its job.
type Certs struct{ Dir string }

// CertsDir is what the site container mounts read-only.
func (c Certs) CertsDir() string { return filepath.Join(c.Dir, "certs") }

// CAFile is the CA certificate clients trust the site by.
func (c Certs) CAFile() string { return filepath.Join(c.CertsDir(), "CAs", "ca.crt") }

// CA is the CA certificate (PEM).
func (c Certs) CA() ([]byte, error) { return os.ReadFile(c.CAFile()) }

// Ensure makes the CA and a server certificate for hosts (names and IPs)
// once; existing material is kept, since clients in the cluster already
// trust its CA. A certificate that no longer covers hosts, or is within a
// month of expiry, is reissued from the same CA.
func (c Certs) Ensure(hosts []string) error {
	// Dir is 0700 (it holds the CA key); what the site mounts is 0755: its
	// server runs as its own user, and a certs directory it cannot read
	// makes MinIO serve plain HTTP without a word.
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	for _, d := range []string{c.CertsDir(), filepath.Join(c.CertsDir(), "CAs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	caCert, caKey, err := c.ensureCA()
	if err != nil {
		return err
	}
	if certCovers(filepath.Join(c.CertsDir(), "public.crt"), hosts) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"statex backup site"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// 0644: the site's server process (not root) reads it through the
	// bind mount; what keeps it private on this machine is the 0700
	// directory around the mount.
	if err := writePEM(filepath.Join(c.CertsDir(), "private.key"), "PRIVATE KEY", keyDER, 0o644); err != nil {
		return err
	}
	return writePEM(filepath.Join(c.CertsDir(), "public.crt"), "CERTIFICATE", der, 0o644)
}

func (c Certs) ensureCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	keyFile := filepath.Join(c.Dir, "ca.key")
	if cert, key, err := loadCA(c.CAFile(), keyFile); err == nil {
		return cert, key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("site CA in %s: %w (remove the directory to make a new one; clients then need the new CA)", c.Dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "statex backup site CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writePEM(c.CAFile(), "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func loadCA(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("ca.key is not an ECDSA key")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	return cert, key, err
}

// certCovers reports whether the certificate in file covers every host and
// is good for another month.
func certCovers(file string, hosts []string) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || time.Until(cert.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func writePEM(file, kind string, der []byte, mode os.FileMode) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// HTTPClient trusts the site's CA and nothing else.
func (c Certs) HTTPClient() (*http.Client, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// Transport is an HTTP transport that trusts the site's CA only.
func (c Certs) Transport() (*http.Transport, error) {
	pemCA, err := c.CA()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return nil, fmt.Errorf("%s: no certificate in it", c.CAFile())
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}
