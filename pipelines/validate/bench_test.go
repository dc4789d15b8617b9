package validate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
	"github.com/statex/infrastructure/pipelines/manifest"
)

// generatedSet builds n objects shaped like the platform's: per app a
// hardened StatefulSet, its Services, ConfigMap, ServiceAccount, PDB and
// NetworkPolicy, so every layer (including selector matching) does work.
func generatedSet(n int) ([]byte, Options) {
	base, err := os.ReadFile("testdata/clean/statefulset.yaml")
	if err != nil {
		panic(err)
	}
	objs, errs := manifest.ParseDocuments("statefulset.yaml", base)
	if len(errs) > 0 || len(objs) == 0 {
		panic(fmt.Sprint("testdata/clean/statefulset.yaml: ", errs))
	}
	var buf bytes.Buffer
	opts := Options{DefaultNamespace: "demo"}
	for app := 0; app*len(objs) < n; app++ {
		name := fmt.Sprintf("app%05d", app)
		buf.Write(bytes.ReplaceAll(base, []byte("demo"), []byte(name)))
		buf.WriteString("\n---\n")
		opts.GeneratedSecrets = append(opts.GeneratedSecrets, manifest.GeneratedSecret{Name: name + "-credentials", Keys: []string{"password"}})
	}
	return buf.Bytes(), opts
}

// benchmarkValidate measures the full pass: YAML parse with positions,
// strict decoding, object rules, policy and cross-references.
func benchmarkValidate(b *testing.B, data []byte, opts Options) {
	ctx := context.Background()
	var objects int
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		objs, errs := manifest.ParseDocuments("bench.yaml", data)
		if len(errs) > 0 {
			b.Fatal(errs[0])
		}
		rep, err := Validate(ctx, &manifest.Set{Objects: objs}, opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Errors > 0 {
			b.Fatalf("benchmark set is not clean: %+v", rep.Findings[0])
		}
		objects = rep.Objects
	}
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkValidate(b *testing.B) {
	b.Run("generated-10000", func(b *testing.B) {
		data, opts := generatedSet(10000)
		benchmarkValidate(b, data, opts)
	})
	b.Run("rendered-kind", func(b *testing.B) {
		envs := testrepo.Environments(b)
		benchmarkValidate(b, testrepo.Rendered(b, "kind").YAML, Options{DefaultNamespace: envs.NamespaceOf(testrepo.Env(b, "kind")), GeneratedSecrets: envs.GeneratedSecrets})
	})
}
