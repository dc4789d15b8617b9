package check

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/statex/infrastructure/pipelines/service"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Roundcube: the login form carries a CSRF token; logging in with a test
// mailbox works on one replica, and the session it got works on the other
// (sessions live in the shared PostgreSQL, both pods share des_key).

func checkRoundcube(ctx context.Context, e *Env) Result {
	start := time.Now()
	var s verdict.Steps
	c := e.Cluster
	addr := "rc-" + strings.ReplaceAll(e.RunID, "t", "") + "@" + service.MailDomain
	password := "Pw-" + e.RunID
	var adminPod string
	var pods []string
	s.Do("create a test mailbox through Postfixadmin", func() (string, error) {
		var err error
		adminPod, err = createMailbox(ctx, e, addr, password)
		return addr, err
	})
	var bases []string
	s.Do("reach both Roundcube replicas", func() (string, error) {
		var err error
		if pods, err = c.ServicePods(ctx, service.RoundcubeService); err != nil {
			return "", err
		}
		if len(pods) < 2 {
			return "", fmt.Errorf("%d ready Roundcube pods, want 2", len(pods))
		}
		for _, p := range pods[:2] {
			fwd, err := c.Forward(ctx, p, service.RoundcubePort)
			if err != nil {
				return "", err
			}
			bases = append(bases, "http://"+fwd)
		}
		return strings.Join(pods[:2], ", "), nil
	})
	rc := service.NewWebmailClient()
	s.Do("login form carries a CSRF token", func() (string, error) {
		n, err := rc.Token(ctx, bases[0])
		return fmt.Sprintf("token of %d chars from %s", n, pods[0]), err
	})
	s.Do("a login with a wrong password is refused", func() (string, error) {
		return rc.LoginRefused(ctx, bases[0], addr, "wrong-"+password)
	})
	s.Do("login with the test mailbox on "+nth(pods, 0), func() (string, error) {
		return rc.Login(ctx, bases[0], addr, password)
	})
	s.Do("the session works on the other replica "+nth(pods, 1), func() (string, error) {
		return rc.LoggedIn(ctx, bases[1])
	})
	s.Always("delete the test mailbox", func() (string, error) {
		if adminPod == "" {
			return "nothing created", nil
		}
		return addr + " deleted", service.DeleteMailbox(ctx, c, adminPod, addr)
	})
	return finish("roundcube", &s, start)
}

func nth(list []string, i int) string {
	if i < len(list) {
		return list[i]
	}
	return "?"
}
