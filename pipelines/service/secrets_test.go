package service

import (
	"context"
	"strings"
	"testing"
	"time"
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
