package service

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Roundcube: two replicas sharing their sessions in PostgreSQL and one
// des_key (manifests/base/roundcube).
const (
	RoundcubeService = "roundcube"
	RoundcubePort    = 8080
)

var csrfToken = regexp.MustCompile(`name="_token" value="([^"]+)"`)

// WebmailClient is a browser-like Roundcube client: one cookie jar (cookies
// are per host, not per port, so a session moves between replicas reached
// on different local ports), no redirect following, the current CSRF token.
type WebmailClient struct {
	hc    *http.Client
	token string
}

// NewWebmailClient returns a client with an empty session.
func NewWebmailClient() *WebmailClient {
	jar, _ := cookiejar.New(nil)
	return &WebmailClient{hc: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Token loads the login form and keeps its CSRF token.
func (w *WebmailClient) Token(ctx context.Context, base string) (int, error) {
	body, _, err := fetch(ctx, w.hc, http.MethodGet, base+"/", nil)
	if err != nil {
		return 0, err
	}
	m := csrfToken.FindStringSubmatch(body)
	if m == nil {
		return 0, fmt.Errorf("no _token in the login form")
	}
	w.token = m[1]
	return len(w.token), nil
}

// LoginRefused wants a login to be refused (no redirect to the mailbox),
// then fetches the fresh token a refused login issues.
func (w *WebmailClient) LoginRefused(ctx context.Context, base, user, password string) (string, error) {
	_, resp, err := fetch(ctx, w.hc, http.MethodPost, base+"/?_task=login", loginForm(w.token, user, password))
	if err != nil {
		return "", err
	}
	if loc := resp.Header.Get("Location"); strings.Contains(loc, "_task=mail") {
		return "", fmt.Errorf("refused login redirected to %s", loc)
	}
	if _, err := w.Token(ctx, base); err != nil {
		return "", err
	}
	return fmt.Sprintf("HTTP %d, no redirect to the mailbox", resp.StatusCode), nil
}

// Login posts the form and wants the redirect into the mailbox.
func (w *WebmailClient) Login(ctx context.Context, base, user, password string) (string, error) {
	_, resp, err := fetch(ctx, w.hc, http.MethodPost, base+"/?_task=login", loginForm(w.token, user, password))
	if err != nil {
		return "", err
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "_task=mail") {
		return "", fmt.Errorf("login answered HTTP %d, Location %q", resp.StatusCode, loc)
	}
	return "302 → " + loc, nil
}

// LoggedIn wants the mailbox page (with its logout link) at base.
func (w *WebmailClient) LoggedIn(ctx context.Context, base string) (string, error) {
	body, resp, err := fetch(ctx, w.hc, http.MethodGet, base+"/?_task=mail&_mbox=INBOX", nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "_task=logout") {
		return "", fmt.Errorf("HTTP %d without a logout link: not logged in", resp.StatusCode)
	}
	return "mailbox page with logout link", nil
}

func loginForm(token, user, password string) url.Values {
	return url.Values{"_token": {token}, "_task": {"login"}, "_action": {"login"}, "_timezone": {"UTC"},
		"_url": {""}, "_user": {user}, "_pass": {password}}
}

func fetch(ctx context.Context, hc *http.Client, method, u string, form url.Values) (string, *http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return string(b), resp, err
}
