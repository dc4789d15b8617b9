package offsite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/poll"
)

// Site is the other site the pipeline runs beside a kind cluster: one
// MinIO container on the kind Docker network, its data in a Docker volume
// of its own, its root credentials in a file of this machine's (0600),
// made once and never printed.
type Site struct {
	// Container is also its name on the kind network, which the
	// platform's pods reach it by.
	Container string
	Volume    string
	// Credentials is the env file with MINIO_ROOT_USER and
	// MINIO_ROOT_PASSWORD, handed to docker run with --env-file so they
	// are never on a command line.
	Credentials string
	Network     string
	Image       string
	// TLS is the site's CA and server certificate: it serves S3 over
	// HTTPS only.
	TLS Certs
}

// ForCluster is the site of kind cluster name, with the project's MinIO
// image.
func ForCluster(name, image string) Site {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return Site{
		Container:   manifest.KindSiteContainer(name),
		Volume:      name + "-offsite-data",
		Credentials: filepath.Join(dir, "statex", "offsite-"+name+".env"),
		Network:     "kind",
		Image:       image,
		TLS:         Certs{Dir: filepath.Join(dir, "statex", "offsite-"+name+"-tls")},
	}
}

// Port is the S3 port inside the site.
const Port = manifest.KindSitePort

// Endpoint is the site's S3 endpoint as the platform's pods reach it.
func (s Site) Endpoint() string { return fmt.Sprintf("https://%s:%d", s.Container, Port) }

// hosts are the names the site's certificate covers: its name on the
// kind network, and this machine's loopback where its port is published.
func (s Site) hosts() []string { return []string{s.Container, "localhost", "127.0.0.1"} }

// CA is the CA certificate the site serves TLS with, made (once) if it
// is not there yet: the cluster may need it before the site runs.
func (s Site) CA() ([]byte, error) {
	if err := s.TLS.Ensure(s.hosts()); err != nil {
		return nil, fmt.Errorf("offsite %s: TLS: %w", s.Container, err)
	}
	return s.TLS.CA()
}

// specLabel carries the version of how the site's container is run
// (specVersion); a container of another version (one made before TLS, or
// with a certs directory its server could not read) is made again, its
// data volume and credentials kept. Bump it when the docker run changes.
const specLabel, specVersion = "statex.io/offsite-spec", "2"

func docker(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", args[0], err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// state is the container's state ("running", "exited", …; "" if none).
func (s Site) state(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format", "{{.State.Status}}", s.Container).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// credentials makes the root credentials file once; an existing one is
// kept, since the volume's data was made with it.
func (s Site) credentials() error {
	if _, err := os.Stat(s.Credentials); err == nil {
		return nil
	}
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Credentials), 0o700); err != nil {
		return err
	}
	body := "MINIO_ROOT_USER=statex-offsite-root\nMINIO_ROOT_PASSWORD=" + hex.EncodeToString(key) + "\n"
	return os.WriteFile(s.Credentials, []byte(body), 0o600)
}

// Start runs the site, idempotently: a running site is left alone, a
// stopped one started, a missing one created (its volume and credentials
// too, unless they exist: data and keys outlive the container). It
// returns once the site answers its readiness probe.
func (s Site) Start(ctx context.Context) error {
	if err := s.TLS.Ensure(s.hosts()); err != nil {
		return fmt.Errorf("offsite %s: TLS: %w", s.Container, err)
	}
	state := s.state(ctx)
	if state != "" && !s.current(ctx) {
		if _, err := docker(ctx, "rm", "--force", s.Container); err != nil {
			return fmt.Errorf("offsite %s: replacing a site of an older spec: %w", s.Container, err)
		}
		state = ""
	}
	switch state {
	case "running":
	case "":
		if s.Image == "" {
			return fmt.Errorf("offsite %s: no image to run: the recipe images/minio (its TAG) is missing from this checkout", s.Container)
		}
		if err := s.credentials(); err != nil {
			return fmt.Errorf("offsite %s: credentials: %w", s.Container, err)
		}
		if _, err := docker(ctx, "volume", "create", s.Volume); err != nil {
			return err
		}
		if _, err := docker(ctx, "run", "--detach", "--name", s.Container, "--network", s.Network,
			"--restart", "unless-stopped", "--env-file", s.Credentials,
			"--label", "statex.io/offsite=true", "--label", specLabel+"="+specVersion,
			"--volume", s.Volume+":/data", "--volume", s.TLS.CertsDir()+":/certs:ro",
			// mc run inside (docker exec) trusts the site's CA, and
			// reaches it by https (siteEnv).
			"--env", "SSL_CERT_FILE=/certs/CAs/ca.crt", "--env", "STATEX_SITE_SCHEME=https",
			"--publish", fmt.Sprintf("127.0.0.1::%d", Port),
			s.Image, "server", "/data", "--address", fmt.Sprintf(":%d", Port), "--certs-dir", "/certs"); err != nil {
			return fmt.Errorf("offsite %s: %w", s.Container, err)
		}
	default:
		if _, err := docker(ctx, "start", s.Container); err != nil {
			return fmt.Errorf("offsite %s: %w", s.Container, err)
		}
	}
	return s.waitReady(ctx)
}

func (s Site) current(ctx context.Context) bool {
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format", "{{index .Config.Labels \""+specLabel+"\"}}", s.Container).Output()
	return err == nil && strings.TrimSpace(string(out)) == specVersion
}

// HostEndpoint is host:port where this machine reaches the site's S3 port.
func (s Site) HostEndpoint(ctx context.Context) (string, error) {
	out, err := docker(ctx, "port", s.Container, fmt.Sprintf("%d/tcp", Port))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if host, port, err := net.SplitHostPort(strings.TrimSpace(line)); err == nil && host == "127.0.0.1" {
			return net.JoinHostPort(host, port), nil
		}
	}
	return "", fmt.Errorf("offsite %s: no port published on 127.0.0.1: %q", s.Container, out)
}

// waitReady waits for the site's write quorum (its cluster health), not
// only for the process (live): a site that cannot store is not up.
func (s Site) waitReady(ctx context.Context) error {
	client, err := s.TLS.HTTPClient()
	if err != nil {
		return fmt.Errorf("offsite %s: %w", s.Container, err)
	}
	err = poll.Until(ctx, 2*time.Minute, time.Second, func() error {
		addr, err := s.HostEndpoint(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/minio/health/cluster", nil)
		if err != nil {
			return poll.Stop(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("offsite %s: not ready: %w", s.Container, err)
	}
	return nil
}

// Exec runs a command in the site's container.
func (s Site) Exec() Exec {
	return func(ctx context.Context, cmd []string) (string, error) {
		return docker(ctx, append([]string{"exec", s.Container}, cmd...)...)
	}
}

// Remove deletes the site's container; with data, also its volume and
// credentials, which is the only way the backups it holds go.
func (s Site) Remove(ctx context.Context, data bool) error {
	var errs []error
	if s.state(ctx) != "" {
		if _, err := docker(ctx, "rm", "--force", s.Container); err != nil {
			errs = append(errs, err)
		}
	}
	if data {
		if out, err := docker(ctx, "volume", "rm", "--force", s.Volume); err != nil && !strings.Contains(out, "no such volume") {
			errs = append(errs, err)
		}
		if err := os.Remove(s.Credentials); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(s.TLS.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RootClient is an S3 client of the site's root user, through the port it
// publishes on this machine: for the pipeline's own reads (a restore,
// tests), never handed to a job.
func (s Site) RootClient(ctx context.Context) (*minio.Client, error) {
	data, err := os.ReadFile(s.Credentials)
	if err != nil {
		return nil, fmt.Errorf("offsite %s: credentials: %w", s.Container, err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	addr, err := s.HostEndpoint(ctx)
	if err != nil {
		return nil, err
	}
	tr, err := s.TLS.Transport()
	if err != nil {
		return nil, err
	}
	return minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"], ""), Secure: true, Transport: tr})
}
