package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/statex/infrastructure/pipelines/kube"
)

// A password with the characters that break a URL: the old
// "amqp://admin:"+password+"@"+addr string failed to parse on it, and the
// parse error quoted the whole URL, password included.
const hostilePassword = "s3cr3t/p@ss:w%rd?#x"

func TestAMQPErrorsNeverCarryThePassword(t *testing.T) {
	for _, addr := range []string{
		"127.0.0.1:notaport", // the URL does not parse
		"127.0.0.1:1",        // nothing listens: dial error (loopback only)
	} {
		conn, err := DialAMQP(addr, "admin", hostilePassword, time.Second)
		if err == nil {
			conn.Close()
			t.Fatalf("%s: want an error", addr)
		}
		for _, part := range []string{hostilePassword, "s3cr3t", "p%40ss"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("%s: error %q contains %q", addr, err, part)
			}
		}
	}
}

func TestPostgresPasswordStaysOutOfTheConnectionString(t *testing.T) {
	cfg, err := PostgresConfig("127.0.0.1:5432", "postgres", hostilePassword, "postgres", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Password != hostilePassword || cfg.User != "postgres" || cfg.Host != "127.0.0.1" || cfg.Port != 5432 || cfg.ConnectTimeout != 3*time.Second {
		t.Errorf("config %+v", cfg.Config)
	}
	if strings.Contains(cfg.ConnString(), "s3cr3t") {
		t.Errorf("connection string %q holds the password", cfg.ConnString())
	}
	_, err = ConnectPostgres(context.Background(), "127.0.0.1:1", "postgres", hostilePassword, "postgres", time.Second)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("connect error %v", err)
	}
	if _, err := PostgresConfig("127.0.0.1:notaport", "postgres", hostilePassword, "postgres", time.Second); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("parse error %v", err)
	}
}

// Every value a check read from a Secret is scrubbed from what its steps
// report, whatever quoted it.
func TestStepsAreScrubbedOfSecretsRead(t *testing.T) {
	c := &Cluster{}
	c.read = append(c.read, hostilePassword)
	steps := []Step{{Name: "connect", Error: "auth failed for " + hostilePassword}, {Name: "exec", Evidence: "env: PASSWORD=" + hostilePassword}}
	ScrubSteps(c.Scrubber(), steps)
	for _, s := range steps {
		if strings.Contains(s.Error+s.Evidence, "s3cr3t") || !strings.Contains(s.Error+s.Evidence, kube.Redacted) {
			t.Errorf("step %+v", s)
		}
	}
}

func TestRunStopsOnUnreachableAPIServer(t *testing.T) {
	_, err := Run(context.Background(), Options{Env: "kind", Namespace: "x", Config: &rest.Config{Host: "https://127.0.0.1:1"}})
	if !kube.IsUnreachable(err) || !strings.Contains(err.Error(), "API server https://127.0.0.1:1 is unreachable") {
		t.Errorf("error %v", err)
	}
}
