package check

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail, end to end: a mailbox created through mail management
// (Postfixadmin), a message submitted on 587 with STARTTLS + AUTH, delivered
// by Postfix over LMTP to Dovecot and found by Message-ID over IMAP on each
// Dovecot replica; relaying for an outside domain without auth refused; after
// the mailbox is deleted, delivery to it refused with 5xx.
//
// Mail TLS is self-signed per pod until an internal CA exists, so the
// certificate is not verified (its subject is recorded as evidence).

const (
	mailDomain      = "statex.test"
	postfixadminCLI = "/usr/share/postfixadmin/scripts/postfixadmin-cli.php"
)

func checkMail(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s Steps
	c := e.Cluster
	local := "check-" + strings.ReplaceAll(e.RunID, "t", "")
	addr := local + "@" + mailDomain
	password := "Pw-" + e.RunID
	msgID := "<" + e.RunID + "@check.statex>"
	var adminPod string
	s.Do("create a mailbox through Postfixadmin", func() (string, error) {
		var err error
		adminPod, err = createMailbox(ctx, c, addr, password)
		return addr + " on " + adminPod, err
	})
	var postfixPods, dovecotPods []string
	s.Do("find the Postfix and Dovecot replicas", func() (string, error) {
		var err error
		if postfixPods, err = c.ServicePods(ctx, "postfix"); err != nil {
			return "", err
		}
		if dovecotPods, err = c.ServicePods(ctx, "dovecot"); err != nil {
			return "", err
		}
		if len(postfixPods) < 2 || len(dovecotPods) < 2 {
			return "", fmt.Errorf("%d Postfix and %d Dovecot pods ready, want 2 each", len(postfixPods), len(dovecotPods))
		}
		return strings.Join(append(slices.Clone(postfixPods), dovecotPods...), ", "), nil
	})
	for _, pod := range postfixPods {
		s.Test("relay to an outside domain without auth is refused on "+pod, func() (string, error) {
			fwd, err := c.Forward(ctx, pod, 25)
			if err != nil {
				return "", err
			}
			return RcptRefused(fwd, "probe@example.org", "someone@example.net")
		})
	}
	s.Do("submit on 587 with STARTTLS and AUTH", func() (string, error) {
		fwd, err := c.Forward(ctx, postfixPods[0], 587)
		if err != nil {
			return "", err
		}
		ev, err := Submit(fwd, addr, password, addr, msgID, "statex check "+e.RunID)
		return postfixPods[0] + ": " + ev, err
	})
	for _, pod := range dovecotPods {
		s.Test("IMAP on "+pod+" finds the message by Message-ID", func() (string, error) {
			fwd, err := c.Forward(ctx, pod, 1143)
			if err != nil {
				return "", err
			}
			return FindByMessageID(ctx, fwd, insecureTLS(), addr, password, msgID, 60*time.Second)
		})
	}
	deleted := false
	s.Do("delete the mailbox (and its mail)", func() (string, error) {
		if err := deleteMailbox(ctx, c, adminPod, addr); err != nil {
			return "", err
		}
		deleted = true
		return addr + " deleted", nil
	})
	s.Do("delivery to the deleted mailbox is refused with 5xx", func() (string, error) {
		fwd, err := c.Forward(ctx, postfixPods[0], 25)
		if err != nil {
			return "", err
		}
		var last error
		var ev string
		// Postfix's proxymap may keep the table connection's answer for
		// a moment; a bounded retry avoids a flake, a stale 250 fails.
		err = Poll(ctx, 20*time.Second, time.Second, func() error {
			ev, last = RcptRefused(fwd, "probe@example.org", addr)
			return last
		})
		return ev, err
	})
	s.Always("clean up", func() (string, error) {
		if deleted || adminPod == "" {
			return "nothing left", nil
		}
		return addr + " deleted", deleteMailbox(ctx, c, adminPod, addr)
	})
	return s.Finish("mail", start)
}

// insecureTLS accepts the per-pod self-signed certificates (see above).
func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // self-signed until an internal CA
}

// Submit sends one message on a submission port: STARTTLS, AUTH PLAIN,
// MAIL/RCPT/DATA. Plain text AUTH before STARTTLS must be refused by the
// server, which is checked first.
func Submit(addr, user, password, to, msgID, subject string) (string, error) {
	// Each refusal on its own connection: Postfix may end a session after
	// a failed AUTH, which must not read as a failure of the next step.
	plain, err := dialSMTP(addr, false)
	if err != nil {
		return "", err
	}
	plainErr := plain.Auth(sasl.NewPlainClient("", user, password))
	plain.Close()
	if plainErr == nil {
		return "", errors.New("AUTH accepted before STARTTLS")
	}
	wrong, err := dialSMTP(addr, true)
	if err != nil {
		return "", err
	}
	wrongErr := wrong.Auth(sasl.NewPlainClient("", user, "wrong-"+password))
	wrong.Close()
	if wrongErr == nil {
		return "", errors.New("AUTH accepted a wrong password")
	}
	c, err := dialSMTP(addr, true)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
		return "", fmt.Errorf("AUTH: %w", err)
	}
	// Read after a command: the handshake completes on first use.
	state, _ := c.TLSConnectionState()
	subjectCN := ""
	if len(state.PeerCertificates) > 0 {
		subjectCN = state.PeerCertificates[0].Subject.CommonName
	}
	if err := c.Mail(user, nil); err != nil {
		return "", err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return "", err
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	msg := "From: " + user + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: " + msgID +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\n\r\nsent by statex check\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	_ = c.Quit()
	return fmt.Sprintf("TLS %s (cert CN %q); AUTH before STARTTLS refused (%v); wrong password refused (%v); %s accepted",
		tlsVersion(state.Version), subjectCN, short3(plainErr), short3(wrongErr), msgID), nil
}

// dialSMTP opens a session and says EHLO, with STARTTLS when asked.
func dialSMTP(addr string, startTLS bool) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if !startTLS {
		c := smtp.NewClient(conn)
		if err := c.Hello("check.statex"); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	c, err := smtp.NewClientStartTLS(conn, insecureTLS())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	return c, nil
}

// short3 is an SMTP error's code, or the error.
func short3(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprint(se.Code)
	}
	return err.Error()
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "1.3"
	case tls.VersionTLS12:
		return "1.2"
	}
	return fmt.Sprintf("0x%x", v)
}

// FindByMessageID logs in over IMAP (with STARTTLS unless tlsConfig is nil)
// and polls INBOX until a message with the Message-ID is there (delivery is
// asynchronous).
func FindByMessageID(ctx context.Context, addr string, tlsConfig *tls.Config, user, password, msgID string, timeout time.Duration) (string, error) {
	began := time.Now()
	var found uint32
	err := Poll(ctx, timeout, time.Second, func() error {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return err
		}
		var c *imapclient.Client
		if tlsConfig == nil {
			c = imapclient.New(conn, nil)
		} else if c, err = imapclient.NewStartTLS(conn, &imapclient.Options{TLSConfig: tlsConfig}); err != nil {
			conn.Close()
			return fmt.Errorf("STARTTLS: %w", err)
		}
		defer c.Close()
		if err := c.Login(user, password).Wait(); err != nil {
			return fmt.Errorf("LOGIN: %w", err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			return err
		}
		data, err := c.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: msgID}}}, nil).Wait()
		if err != nil {
			return err
		}
		_ = c.Logout().Wait()
		if n := len(data.AllSeqNums()); n != 1 {
			return fmt.Errorf("%d messages with Message-ID %s", n, msgID)
		}
		found = data.AllSeqNums()[0]
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("message #%d found after %s", found, time.Since(began).Round(time.Millisecond)), nil
}

// RcptRefused opens an unauthenticated SMTP session and expects RCPT TO to
// be refused with a permanent (5xx) error.
func RcptRefused(addr, from, to string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("check.statex"); err != nil {
		return "", err
	}
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	err = c.Rcpt(to, nil)
	var se *smtp.SMTPError
	switch {
	case err == nil:
		_ = c.Reset()
		return "", fmt.Errorf("RCPT TO:<%s> accepted without authentication", to)
	case errors.As(err, &se) && se.Code >= 500:
		return fmt.Sprintf("RCPT TO:<%s> refused: %d %s", to, se.Code, se.Message), nil
	default:
		return "", fmt.Errorf("RCPT TO:<%s>: %v (want a 5xx refusal)", to, err)
	}
}

// createMailbox adds a mailbox (and the test domain if missing) with
// Postfixadmin's CLI and returns the pod it ran in.
func createMailbox(ctx context.Context, c *Cluster, addr, password string) (string, error) {
	c.mailAdmin.Lock()
	defer c.mailAdmin.Unlock()
	pods, err := c.ServicePods(ctx, "postfixadmin")
	if err != nil {
		return "", err
	}
	pod := pods[0]
	pfa := func(args ...string) (string, error) {
		return c.Exec(ctx, pod, "postfixadmin", append([]string{"php", postfixadminCLI}, args...)...)
	}
	if _, err := pfa("domain", "view", mailDomain); err != nil {
		if _, err := pfa("domain", "add", mailDomain, "--mailboxes", "0", "--aliases", "0", "--active", "1"); err != nil {
			return pod, fmt.Errorf("add domain %s: %w", mailDomain, err)
		}
	}
	if _, err := pfa("mailbox", "add", addr, "--password", password, "--password2", password, "--name", "statex check", "--active", "1"); err != nil {
		return pod, err
	}
	if _, err := pfa("mailbox", "view", addr); err != nil {
		return pod, fmt.Errorf("mailbox %s not visible after add: %w", addr, err)
	}
	return pod, nil
}

// deleteMailbox expunges the mailbox's mail, then deletes it. Expunge
// first: doveadm resolves the user through the same SQL lookup Dovecot
// serves logins from, which the delete removes. (The empty Maildir stays on
// the shared volume; Postfixadmin does not remove directories.)
func deleteMailbox(ctx context.Context, c *Cluster, pod, addr string) error {
	if dovecot, err := c.ServicePods(ctx, "dovecot"); err == nil {
		if _, err := c.Exec(ctx, dovecot[0], "dovecot", "doveadm", "expunge", "-u", addr, "mailbox", "INBOX", "all"); err != nil {
			return fmt.Errorf("expunge %s: %w", addr, err)
		}
	}
	_, err := c.Exec(ctx, pod, "postfixadmin", "php", postfixadminCLI, "mailbox", "delete", addr)
	return err
}
