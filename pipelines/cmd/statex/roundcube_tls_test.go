package main

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
)

// Prod's Roundcube verifies the IMAP and SMTP certificates against the CA
// prod supplies in Secret mail-tls, and refuses to start without it; the
// other environments run self-signed mail TLS and do not verify.
func TestProdRoundcubeVerifiesMailTLS(t *testing.T) {
	for _, env := range testrepo.Environments(t).Environments {
		var d appsv1.Deployment
		for _, o := range testrepo.OfKind(testrepo.Rendered(t, env.Name).Objects, "Deployment") {
			if o.Name == "roundcube" {
				if err := json.Unmarshal(o.JSON, &d); err != nil {
					t.Fatal(err)
				}
			}
		}
		spec := d.Spec.Template.Spec
		if len(spec.Containers) == 0 {
			t.Fatalf("%s: no roundcube Deployment", env.Name)
		}
		vars := map[string]string{}
		for _, e := range spec.Containers[0].Env {
			vars[e.Name] = e.Value
		}
		if env.Name != "prod" {
			if vars["ROUNDCUBE_TLS_VERIFY"] != "false" {
				t.Errorf("%s: ROUNDCUBE_TLS_VERIFY=%q with self-signed mail certificates", env.Name, vars["ROUNDCUBE_TLS_VERIFY"])
			}
			continue
		}
		if vars["ROUNDCUBE_TLS_VERIFY"] != "true" || vars["ROUNDCUBE_TLS_CA_FILE"] != "/etc/roundcube/mail-ca/ca.crt" {
			t.Errorf("prod: verify %q, CA file %q", vars["ROUNDCUBE_TLS_VERIFY"], vars["ROUNDCUBE_TLS_CA_FILE"])
		}
		var ca *corev1.Volume
		for i, v := range spec.Volumes {
			if v.Name == "mail-ca" {
				ca = &spec.Volumes[i]
			}
		}
		if ca == nil || ca.Secret == nil || ca.Secret.SecretName != "mail-tls" || len(ca.Secret.Items) != 1 || ca.Secret.Items[0].Key != "ca.crt" {
			t.Fatalf("prod: the CA volume is not mail-tls's ca.crt alone: %+v", ca)
		}
		required := false
		for _, c := range spec.InitContainers {
			for _, m := range c.VolumeMounts {
				required = required || (c.Name == "require-mail-ca" && m.Name == "mail-ca")
			}
		}
		if !required {
			t.Error("prod: nothing stops Roundcube from starting without the CA")
		}
	}
}
