package manifest

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestImageRepositoryDropsTagAndDigest(t *testing.T) {
	for ref, want := range map[string]string{
		"grafana/grafana:12.2.1":                   "grafana/grafana",
		"grafana/grafana":                          "grafana/grafana",
		"grafana/grafana@sha256:abc":               "grafana/grafana",
		"grafana/grafana:12.2.1@sha256:abc":        "grafana/grafana",
		"registry:5000/team/app:1.0":               "registry:5000/team/app",
		"registry:5000/team/app":                   "registry:5000/team/app",
		"docker.elastic.co/elasticsearch/es:8.1.0": "docker.elastic.co/elasticsearch/es",
	} {
		if got := ImageRepository(ref); got != want {
			t.Errorf("ImageRepository(%q) = %q, want %q", ref, got, want)
		}
	}
}

// The allowance is by repository: any tag of a listed repository, nothing
// else — not a look-alike name, not an unlisted registry's copy.
func TestMayBeUnavailableMatchesListedRepositoriesOnly(t *testing.T) {
	env := &Environment{Name: "offline", UnavailableImages: []string{"grafana/grafana"}}
	for image, want := range map[string]bool{
		"grafana/grafana:12.2.1":            true,
		"grafana/grafana:13.0.0@sha256:abc": true,
		"docker.io/grafana/grafana:12.2.1":  true,
		"grafana/grafana-oss:12.2.1":        false,
		"grafana/loki:3.5.8":                false,
		"mirror:5000/grafana/grafana:12.2":  false,
		"statex/redis:8.0":                  false,
	} {
		if got := env.MayBeUnavailable(image); got != want {
			t.Errorf("MayBeUnavailable(%q) = %v, want %v", image, got, want)
		}
	}
	if (&Environment{Name: "online"}).MayBeUnavailable("grafana/grafana:12.2.1") {
		t.Error("an environment listing nothing tolerated an image")
	}
}

func TestLoadEnvironmentsRejectsBadUnavailableImages(t *testing.T) {
	head := "apiVersion: statex.io/v1alpha1\nkind: Environments\nnamespace: demo\nkubernetesVersion: \"1.34\"\nenvironments:\n  - name: x\n    overlay: o\n    target: {context: c}\n"
	for name, c := range map[string]struct{ list, want string }{
		// A tagged entry would never match and silently excuse nothing.
		"tagged":    {`[grafana/grafana:12.2.1]`, `unavailableImages[0] "grafana/grafana:12.2.1": want an image repository`},
		"digest":    {`["grafana/grafana@sha256:abc"]`, "want an image repository"},
		"empty":     {`[""]`, "want an image repository"},
		"duplicate": {`[grafana/loki, grafana/loki]`, `"grafana/loki" listed twice`},
	} {
		t.Run(name, func(t *testing.T) {
			root := writeTree(t, map[string]string{EnvironmentsFile: head + "    unavailableImages: " + c.list + "\n"})
			_, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want it to mention %q", err, c.want)
			}
		})
	}
	root := writeTree(t, map[string]string{EnvironmentsFile: head + "    unavailableImages: [registry:5000/team/app, grafana/loki]\n"})
	if _, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile)); err != nil {
		t.Errorf("repositories (one with a registry port): %v", err)
	}
}

// Only kind (offline, no registry) may run without an image; every other
// environment pulls everything, so there an unpullable image fails.
func TestOnlyKindMayRunWithoutImages(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs.Environments {
		if got := len(env.UnavailableImages) > 0; got != (env.Name == "kind") {
			t.Errorf("%s: unavailableImages %v", env.Name, env.UnavailableImages)
		}
	}
}

// fullEnvironments sets every string field of the environments file, one
// per line, so each can be broken on its own.
const fullEnvironments = `apiVersion: statex.io/v1alpha1
kind: Environments
namespace: demo
kubernetesVersion: "1.34"
promotion: [dev]
generatedSecrets:
  - name: creds
    keys:
      - password
environments:
  - name: dev
    description: a description
    overlay: overlays/dev
    namespace: demo-dev
    target:
      kind:
        cluster: demo
    gates:
      - validate
    secrets: generate
    ttl: 72h
    unavailableImages:
      - grafana/loki
  - name: remote
    overlay: overlays/remote
    target:
      context: somewhere
    backup:
      site: external
      endpoint: https://s3.example.net
      region: eu-west-1
      bucket: demo-backups
      replicaBucket: demo-objects
      credentialsSecret: backup-credentials
      retention: 168h
      retentionMode: compliance
`

// A bare YAML number, boolean or date where the file wants a string is
// refused with its line and the quoted fix: sigs.k8s.io/yaml would read
// kubernetesVersion: 1.30 as "1.3" without a word.
func TestLoadEnvironmentsRefusesNonStringScalars(t *testing.T) {
	root := writeTree(t, map[string]string{EnvironmentsFile: fullEnvironments})
	if _, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile)); err != nil {
		t.Fatalf("the clean file: %v", err)
	}
	cases := []struct {
		field      string // as walkStrings names it (indices as [])
		line       int
		old, value string
		want       string
	}{
		{"apiVersion", 1, "statex.io/v1alpha1", "1", `apiVersion: 1 is an integer`},
		{"kind", 2, "Environments", "yes", `kind: yes is a boolean in YAML 1.1`},
		{"namespace", 3, "demo", "0x1F", `it would be read as "31"`},
		{"kubernetesVersion", 4, `"1.34"`, "1.30", `kubernetesVersion: 1.30 is a number, not a string (it would be read as "1.3"); quote it: kubernetesVersion: "1.30"`},
		{"promotion[]", 5, "[dev]", "[1.0]", `promotion[0]: 1.0 is a number`},
		{"generatedSecrets[].name", 7, "creds", "2024-01-01", `generatedSecrets[0].name: 2024-01-01 is a timestamp`},
		{"generatedSecrets[].keys[]", 9, "password", "on", `generatedSecrets[0].keys[0]: on is a boolean in YAML 1.1, which sigs.k8s.io/yaml reads, not a string (it would be read as "true"); quote it: "on"`},
		{"environments[].name", 11, "dev", "010", `it would be read as "8"`},
		{"environments[].description", 12, "a description", "1e3", `environments[0].description: 1e3 is a number`},
		{"environments[].overlay", 13, "overlays/dev", "no", `environments[0].overlay: no is a boolean`},
		{"environments[].namespace", 14, "demo-dev", "true", `environments[0].namespace: true is a boolean`},
		{"environments[].target.kind.cluster", 17, "demo", "1_000", `environments[0].target.kind.cluster: 1_000`},
		{"environments[].gates[]", 19, "validate", "off", `environments[0].gates[0]: off is a boolean`},
		{"environments[].secrets", 20, "generate", "Y", `environments[0].secrets: Y is a boolean in YAML 1.1`},
		{"environments[].ttl", 21, "72h", "72", `environments[0].ttl: 72 is an integer`},
		{"environments[].unavailableImages[]", 23, "grafana/loki", "3.5", `environments[0].unavailableImages[0]: 3.5 is a number`},
		{"environments[].target.context", 27, "somewhere", "{a: b}", `environments[1].target.context: want a string, found a mapping`},
		{"environments[].backup.site", 29, "external", "no", `environments[1].backup.site: no is a boolean`},
		{"environments[].backup.endpoint", 30, "https://s3.example.net", "[x]", `environments[1].backup.endpoint: want a string, found a list`},
		{"environments[].backup.region", 31, "eu-west-1", "1", `environments[1].backup.region: 1 is an integer`},
		{"environments[].backup.bucket", 32, "demo-backups", "2.5", `environments[1].backup.bucket: 2.5 is a number`},
		{"environments[].backup.replicaBucket", 33, "demo-objects", "off", `environments[1].backup.replicaBucket: off is a boolean`},
		{"environments[].backup.credentialsSecret", 34, "backup-credentials", "10", `environments[1].backup.credentialsSecret: 10 is an integer`},
		{"environments[].backup.retention", 35, "168h", "7", `environments[1].backup.retention: 7 is an integer`},
		{"environments[].backup.retentionMode", 36, "compliance", "on", `environments[1].backup.retentionMode: on is a boolean`},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.field] = true
		t.Run(c.field, func(t *testing.T) {
			lines := strings.Split(fullEnvironments, "\n")
			if !strings.Contains(lines[c.line-1], c.old) {
				t.Fatalf("line %d is %q, not %q", c.line, lines[c.line-1], c.old)
			}
			lines[c.line-1] = strings.Replace(lines[c.line-1], c.old, c.value, 1)
			root := writeTree(t, map[string]string{EnvironmentsFile: strings.Join(lines, "\n")})
			_, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
			at := fmt.Sprintf("environments.yaml:%d: ", c.line)
			if err == nil || !strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v\nwant it to contain %q and %q", err, at, c.want)
			}
		})
	}
	// Every string the file holds is covered: a field added later gets
	// the same protection (walkStrings finds it by type) and must get a
	// case here.
	var fields []string
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Pointer:
			walk(typ.Elem(), path)
		case reflect.Slice:
			walk(typ.Elem(), path+"[]")
		case reflect.String:
			fields = append(fields, path)
		case reflect.Struct:
			for i := range typ.NumField() {
				name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
				if name == "" || name == "-" {
					continue
				}
				if path != "" {
					name = path + "." + name
				}
				walk(typ.Field(i).Type, name)
			}
		}
	}
	walk(reflect.TypeFor[Environments](), "")
	for _, f := range fields {
		if !covered[f] {
			t.Errorf("string field %s has no case", f)
		}
	}
}

// Quoted values, block scalars and null stay as they were.
func TestLoadEnvironmentsKeepsQuotedStrings(t *testing.T) {
	in := strings.Replace(fullEnvironments, "description: a description", "description: >-\n      1.30", 1)
	in = strings.Replace(in, "ttl: 72h", "ttl: '72h'", 1)
	in = strings.Replace(in, "namespace: demo-dev", "namespace:", 1)
	root := writeTree(t, map[string]string{EnvironmentsFile: in})
	envs, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	if e := envs.Environments[0]; e.Description != "1.30" || e.TTL != "72h" || e.Namespace != "" || envs.KubernetesVersion != "1.34" {
		t.Errorf("read %+v", e)
	}
}

// A backup target is refused with the environment, the field and the fix
// for each way it can be wrong; a good one loads.
func TestLoadEnvironmentsChecksTheBackupTarget(t *testing.T) {
	load := func(kindBackup, remoteBackup string) error {
		text := strings.Replace(fullEnvironments, "    unavailableImages:\n      - grafana/loki\n", "    unavailableImages:\n      - grafana/loki\n"+kindBackup, 1)
		i := strings.Index(text, "    backup:\n      site: external")
		text = text[:i] + remoteBackup
		root := writeTree(t, map[string]string{EnvironmentsFile: text})
		_, err := LoadEnvironments(filepath.Join(root, EnvironmentsFile))
		return err
	}
	const kindSite = "    backup:\n      site: kind\n      bucket: demo-backups\n      replicaBucket: demo-objects\n      credentialsSecret: backup-credentials\n      retention: 24h\n"
	const external = "    backup:\n      site: external\n      endpoint: https://s3.example.net\n      bucket: demo-backups\n      replicaBucket: demo-objects\n      credentialsSecret: backup-credentials\n      retention: 168h\n"
	if err := load(kindSite, external); err != nil {
		t.Fatalf("good targets: %v", err)
	}
	for _, tc := range []struct{ name, kind, remote, want string }{
		{"kind site on a context target", "", strings.Replace(external, "site: external", "site: kind", 1),
			`environment "remote": backup.site: kind runs beside a kind cluster only, and this environment targets context "somewhere"`},
		{"kind site with an endpoint", strings.Replace(kindSite, "site: kind\n", "site: kind\n      endpoint: http://x:9000\n", 1), external,
			`environment "dev": backup.endpoint: the pipeline runs a kind site itself`},
		{"external over http", "", strings.Replace(external, "https://", "http://", 1), `must be reached over https`},
		{"external without endpoint", "", strings.Replace(external, "      endpoint: https://s3.example.net\n", "", 1), `backup.endpoint: required for an external site`},
		{"endpoint with a path", "", strings.Replace(external, "s3.example.net", "s3.example.net/bucket", 1), `want a URL with a host and no path`},
		{"unknown site", "", strings.Replace(external, "site: external", "site: cloud", 1), `backup.site "cloud": want kind or external`},
		{"bad bucket", "", strings.Replace(external, "bucket: demo-backups", "bucket: Demo_Backups", 1), `backup.bucket "Demo_Backups": want an S3 bucket name`},
		{"same buckets", "", strings.Replace(external, "replicaBucket: demo-objects", "replicaBucket: demo-backups", 1), `replicaBucket: must differ from bucket`},
		{"no credentials", "", strings.Replace(external, "      credentialsSecret: backup-credentials\n", "", 1), `backup.credentialsSecret: required`},
		{"retention in hours", "", strings.Replace(external, "168h", "36h", 1), `backup.retention "36h": want whole days of at least 24h`},
		{"retention unreadable", "", strings.Replace(external, "168h", "a week", 1), `backup.retention "a week": want a duration`},
		{"unknown mode", "", external + "      retentionMode: strict\n", `backup.retentionMode "strict": want governance or compliance`},
	} {
		if err := load(tc.kind, tc.remote); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v\nwant %q", tc.name, err, tc.want)
		}
	}
}
