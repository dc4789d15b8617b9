package deploy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/statex/infrastructure/pipelines/manifest"
)

// SecretAction says what happened to one generated Secret. Values are never
// part of a result: results are printed and uploaded as CI artifacts.
type SecretAction struct {
	Name    string   `json:"name"`
	Action  string   `json:"action"` // created, completed (keys added), unchanged, missing (external)
	NewKeys []string `json:"newKeys,omitempty"`
}

// ManagedByLabel marks Secrets the pipeline generated.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// EnsureSecrets makes every generated Secret exist with every key. Existing
// values are never changed: services stored them at first start (PostgreSQL
// roles, the Erlang cookie), so regenerating would lock them out. With
// external secrets nothing is created; missing ones are an error before
// anything is applied.
func EnsureSecrets(ctx context.Context, cs kubernetes.Interface, namespace string, secrets []manifest.GeneratedSecret, external bool) ([]SecretAction, error) {
	var out []SecretAction
	for _, want := range secrets {
		got, err := cs.CoreV1().Secrets(namespace).Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if external {
				return out, fmt.Errorf("secret %s/%s must be provided by the external store (secrets: external) and is missing", namespace, want.Name)
			}
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: namespace,
					Labels: map[string]string{ManagedByLabel: "statex", "app.kubernetes.io/part-of": "statex"}},
				Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{},
			}
			for _, k := range want.Keys {
				if s.Data[k], err = randomValue(); err != nil {
					return out, err
				}
			}
			if _, err := cs.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				return out, fmt.Errorf("create secret %s: %w", want.Name, err)
			}
			out = append(out, SecretAction{Name: want.Name, Action: "created", NewKeys: slices.Clone(want.Keys)})
		case err != nil:
			return out, fmt.Errorf("read secret %s: %w", want.Name, err)
		default:
			var missing []string
			for _, k := range want.Keys {
				if len(got.Data[k]) == 0 {
					missing = append(missing, k)
				}
			}
			if len(missing) == 0 {
				out = append(out, SecretAction{Name: want.Name, Action: "unchanged"})
				continue
			}
			if external {
				return out, fmt.Errorf("secret %s/%s lacks keys %v (secrets: external)", namespace, want.Name, missing)
			}
			if got.Data == nil {
				got.Data = map[string][]byte{}
			}
			for _, k := range missing {
				if got.Data[k], err = randomValue(); err != nil {
					return out, err
				}
			}
			if _, err := cs.CoreV1().Secrets(namespace).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
				return out, fmt.Errorf("complete secret %s: %w", want.Name, err)
			}
			out = append(out, SecretAction{Name: want.Name, Action: "completed", NewKeys: missing})
		}
	}
	return out, nil
}

// randomValue is 32 bytes from the OS CSPRNG, URL-safe base64 without
// padding: printable, safe in URLs, config files and connection strings.
func randomValue() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random secret value: %w", err)
	}
	return []byte(base64.RawURLEncoding.EncodeToString(b)), nil
}

// PlanSecrets says what EnsureSecrets would do, writing nothing. Without the
// namespace every Secret is to be created.
func PlanSecrets(ctx context.Context, cs kubernetes.Interface, namespace string, secrets []manifest.GeneratedSecret, external, namespaceExists bool) ([]SecretAction, error) {
	var out []SecretAction
	for _, want := range secrets {
		var got *corev1.Secret
		if namespaceExists {
			s, err := cs.CoreV1().Secrets(namespace).Get(ctx, want.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return out, fmt.Errorf("read secret %s: %w", want.Name, err)
			default:
				got = s
			}
		}
		if got == nil {
			if external {
				out = append(out, SecretAction{Name: want.Name, Action: "missing", NewKeys: slices.Clone(want.Keys)})
				continue
			}
			out = append(out, SecretAction{Name: want.Name, Action: "create", NewKeys: slices.Clone(want.Keys)})
			continue
		}
		var missing []string
		for _, k := range want.Keys {
			if len(got.Data[k]) == 0 {
				missing = append(missing, k)
			}
		}
		switch {
		case len(missing) == 0:
			out = append(out, SecretAction{Name: want.Name, Action: "unchanged"})
		case external:
			out = append(out, SecretAction{Name: want.Name, Action: "missing", NewKeys: missing})
		default:
			out = append(out, SecretAction{Name: want.Name, Action: "complete", NewKeys: missing})
		}
	}
	return out, nil
}

// EnsureConfigMaps makes each ConfigMap hold exactly its data: created if
// missing, updated if it differs.
func EnsureConfigMaps(ctx context.Context, cs kubernetes.Interface, namespace string, configMaps map[string]map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(configMaps)) {
		data := configMaps[name]
		got, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
					Labels: map[string]string{ManagedByLabel: "statex", "app.kubernetes.io/part-of": "statex"}},
				Data: data,
			}
			if _, err := cs.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create configmap %s: %w", name, err)
			}
		case err != nil:
			return fmt.Errorf("read configmap %s: %w", name, err)
		case !maps.Equal(got.Data, data):
			got.Data = data
			if _, err := cs.CoreV1().ConfigMaps(namespace).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update configmap %s: %w", name, err)
			}
		}
	}
	return nil
}
