package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/poll"
)

// Mail: Postfix (SMTP 25, submission 587) delivers over LMTP to Dovecot
// (IMAP 1143); mailboxes are managed with Postfixadmin on the shared
// PostgreSQL (manifests/base/mail). Mail TLS is self-signed per pod until
// an internal CA exists, so clients do not verify the certificate.
const (
	PostfixService      = "postfix"
	DovecotService      = "dovecot"
	PostfixadminService = "postfixadmin"
	SMTPPort            = 25
	SubmissionPort      = 587
	IMAPPort            = 1143
	// MailDomain is the domain test mailboxes are created in.
	MailDomain      = "statex.test"
	postfixadminCLI = "/usr/share/postfixadmin/scripts/postfixadmin-cli.php"
)

// InsecureTLS accepts the per-pod self-signed certificates (see above).
func InsecureTLS() *tls.Config {
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
	c, err := smtp.NewClientStartTLS(conn, InsecureTLS())
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
	err := poll.Until(ctx, timeout, time.Second, func() error {
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

// CreateMailbox adds a mailbox (and the test domain if missing) with
// Postfixadmin's CLI and returns the pod it ran in. Concurrent callers
// would race to create the domain: callers serialise.
func CreateMailbox(ctx context.Context, c *kube.Cluster, addr, password string) (string, error) {
	pods, err := c.ServicePods(ctx, PostfixadminService)
	if err != nil {
		return "", err
	}
	pod := pods[0]
	pfa := func(args ...string) (string, error) {
		return c.Exec(ctx, pod, "postfixadmin", append([]string{"php", postfixadminCLI}, args...)...)
	}
	if _, err := pfa("domain", "view", MailDomain); err != nil {
		if _, err := pfa("domain", "add", MailDomain, "--mailboxes", "0", "--aliases", "0", "--active", "1"); err != nil {
			return pod, fmt.Errorf("add domain %s: %w", MailDomain, err)
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

// DeleteMailbox expunges the mailbox's mail, then deletes it. Expunge
// first: doveadm resolves the user through the same SQL lookup Dovecot
// serves logins from, which the delete removes. (The empty Maildir stays on
// the shared volume; Postfixadmin does not remove directories.)
func DeleteMailbox(ctx context.Context, c *kube.Cluster, pod, addr string) error {
	if dovecot, err := c.ServicePods(ctx, DovecotService); err == nil {
		if _, err := c.Exec(ctx, dovecot[0], "dovecot", "doveadm", "expunge", "-u", addr, "mailbox", "INBOX", "all"); err != nil {
			return fmt.Errorf("expunge %s: %w", addr, err)
		}
	}
	_, err := c.Exec(ctx, pod, "postfixadmin", "php", postfixadminCLI, "mailbox", "delete", addr)
	return err
}
