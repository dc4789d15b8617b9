package kube

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Redacted replaces a secret value in text that is reported.
const Redacted = "***"

// minSecretLen is the shortest value scrubbed. Shorter values ("admin",
// "5432", "true") are not credentials worth the name here (generated
// values are 43 characters) and replacing them would garble every line.
const minSecretLen = 8

// Scrubber removes known secret values from text that is about to be
// reported: a container that logs its configuration, an error that echoes
// a connection string, an event that quotes an environment variable. The
// zero value scrubs nothing.
type Scrubber struct {
	values []string // longest first, so a value inside another goes too
}

// NewScrubber scrubs the given values and the forms they take in URLs
// (percent-encoded user info, query strings). A multi-line value (a PEM
// key) is also scrubbed line by line: a log may print part of it.
func NewScrubber(values ...string) Scrubber {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if len(v) >= minSecretLen && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range values {
		v = strings.TrimRight(v, "\r\n")
		add(v)
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
		add(url.UserPassword("u", v).String()[2:]) // user info: "u:" stripped
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				add(strings.TrimSpace(line))
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return Scrubber{values: out}
}

// String returns text with every known value replaced by Redacted.
func (s Scrubber) String(text string) string {
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, Redacted)
	}
	return text
}

// Error returns err's message scrubbed (nil for nil): for errors that may
// quote what they were given.
func (s Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); s.String(msg) != msg {
		return scrubbedError{msg: s.String(msg), err: err}
	}
	return err
}

// scrubbedError keeps errors.Is/As on the cause while printing the
// scrubbed message.
type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }

// SecretValues are the text values of every Secret in namespace, for a
// Scrubber. Binary values (gzip'd release records) cannot appear in text
// as such and are left out.
func SecretValues(ctx context.Context, cs kubernetes.Interface, namespace string) ([]string, error) {
	list, err := cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list secrets in %s: %w", namespace, err)
	}
	var out []string
	for _, sec := range list.Items {
		for _, v := range sec.Data {
			if utf8.Valid(v) {
				out = append(out, string(v))
			}
		}
		for _, v := range sec.StringData {
			out = append(out, v)
		}
	}
	return out, nil
}
