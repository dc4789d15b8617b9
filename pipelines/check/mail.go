package check

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/poll"
	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Mail, end to end: a mailbox created through mail management
// (Postfixadmin), a message submitted on 587 with STARTTLS + AUTH, delivered
// by Postfix over LMTP to Dovecot and found by Message-ID over IMAP on each
// Dovecot replica; relaying for an outside domain without auth refused; after
// the mailbox is deleted, delivery to it refused with 5xx.
//
// Mail TLS is self-signed per pod until an internal CA exists, so the
// certificate is not verified (its subject is recorded as evidence).

func checkMail(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	local := "check-" + strings.ReplaceAll(e.RunID, "t", "")
	addr := local + "@" + service.MailDomain
	password := "Pw-" + e.RunID
	msgID := "<" + e.RunID + "@check.statex>"
	var adminPod string
	s.Do("create a mailbox through Postfixadmin", func() (string, error) {
		var err error
		adminPod, err = createMailbox(ctx, e, addr, password)
		return addr + " on " + adminPod, err
	})
	var postfixPods, dovecotPods []string
	s.Do("find the Postfix and Dovecot replicas", func() (string, error) {
		var err error
		if postfixPods, err = c.ServicePods(ctx, service.PostfixService); err != nil {
			return "", err
		}
		if dovecotPods, err = c.ServicePods(ctx, service.DovecotService); err != nil {
			return "", err
		}
		if len(postfixPods) < 2 || len(dovecotPods) < 2 {
			return "", fmt.Errorf("%d Postfix and %d Dovecot pods ready, want 2 each", len(postfixPods), len(dovecotPods))
		}
		return strings.Join(append(slices.Clone(postfixPods), dovecotPods...), ", "), nil
	})
	for _, pod := range postfixPods {
		s.Test("relay to an outside domain without auth is refused on "+pod, func() (string, error) {
			fwd, err := c.Forward(ctx, pod, service.SMTPPort)
			if err != nil {
				return "", err
			}
			return service.RcptRefused(fwd, "probe@example.org", "someone@example.net")
		})
	}
	s.Do("submit on 587 with STARTTLS and AUTH", func() (string, error) {
		fwd, err := c.Forward(ctx, postfixPods[0], service.SubmissionPort)
		if err != nil {
			return "", err
		}
		ev, err := service.Submit(fwd, addr, password, addr, msgID, "statex check "+e.RunID)
		return postfixPods[0] + ": " + ev, err
	})
	for _, pod := range dovecotPods {
		s.Test("IMAP on "+pod+" finds the message by Message-ID", func() (string, error) {
			fwd, err := c.Forward(ctx, pod, service.IMAPPort)
			if err != nil {
				return "", err
			}
			return service.FindByMessageID(ctx, fwd, service.InsecureTLS(), addr, password, msgID, 60*time.Second)
		})
	}
	deleted := false
	s.Do("delete the mailbox (and its mail)", func() (string, error) {
		if err := service.DeleteMailbox(ctx, c, adminPod, addr); err != nil {
			return "", err
		}
		deleted = true
		return addr + " deleted", nil
	})
	s.Do("delivery to the deleted mailbox is refused with 5xx", func() (string, error) {
		fwd, err := c.Forward(ctx, postfixPods[0], service.SMTPPort)
		if err != nil {
			return "", err
		}
		var last error
		var ev string
		// Postfix's proxymap may keep the table connection's answer for
		// a moment; a bounded retry avoids a flake, a stale 250 fails.
		err = poll.Until(ctx, 20*time.Second, time.Second, func() error {
			ev, last = service.RcptRefused(fwd, "probe@example.org", addr)
			return last
		})
		return ev, err
	})
	s.Always("clean up", func() (string, error) {
		if deleted || adminPod == "" {
			return "nothing left", nil
		}
		return addr + " deleted", service.DeleteMailbox(ctx, c, adminPod, addr)
	})
	return finish("mail", &s, start)
}

// createMailbox creates a test mailbox, one at a time: concurrent checks
// (mail, Roundcube) would race to create the shared test domain.
func createMailbox(ctx context.Context, e *Env, addr, password string) (string, error) {
	e.mailAdmin.Lock()
	defer e.mailAdmin.Unlock()
	return service.CreateMailbox(ctx, e.Cluster, addr, password)
}
