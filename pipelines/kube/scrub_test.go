package kube

import (
	"errors"
	"strings"
	"testing"
)

func TestScrubberRemovesKnownValuesInEveryForm(t *testing.T) {
	const password = "pa/ss:w@rd%zz-0123456789"
	key := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
	s := NewScrubber(password, key, "admin") // "admin": too short to scrub
	cases := map[string]string{
		"connecting with " + password + " failed":                      "connecting with *** failed",
		"postgres://postgres:pa%2Fss%3Aw%40rd%25zz-0123456789@db:5432": "postgres://postgres:***@db:5432",
		"line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC of the key":             "line *** of the key",
		"user admin logged in":                                         "user admin logged in",
	}
	for in, want := range cases {
		if got := s.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	cause := errors.New("dial " + password)
	err := s.Error(cause)
	if strings.Contains(err.Error(), password) || !errors.Is(err, cause) {
		t.Errorf("Error: %q, Is cause %v", err, errors.Is(err, cause))
	}
	if (Scrubber{}).String("x "+password) != "x "+password {
		t.Error("the zero Scrubber changed text")
	}
}
