package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kind "sigs.k8s.io/kind/pkg/cluster"
)

// ContextName is the kubeconfig context (and cluster and user entry) of a
// kind cluster, as kind names it.
func ContextName(cluster string) string { return "kind-" + cluster }

// UserKubeconfig is where kubectl looks: $KUBECONFIG (a list; entries are
// changed in the file that holds them, new ones go to the first file that
// exists, else the last), else ~/.kube/config. The same rules kind follows
// when it merges a cluster in.
func UserKubeconfig() clientcmd.ConfigAccess { return clientcmd.NewDefaultPathOptions() }

// MergeKubeconfig merges the kubeconfig kind wrote for a cluster (the file
// at from) into the user's kubeconfig, the way kind create cluster does:
// the cluster, user and context entries named kind-<cluster> are added or
// replaced, every other entry is kept, and the current context becomes
// the cluster's. Nothing is written when the entries are already there
// (a second cluster up changes nothing). kind's library only merges a live
// cluster's config (Provider.ExportKubeConfig reads it from the node);
// clientcmd.ModifyConfig is kubectl's own merge, with its file locks.
func MergeKubeconfig(from string, into clientcmd.ConfigAccess) error {
	src, err := clientcmd.LoadFromFile(from)
	if err != nil {
		return fmt.Errorf("read kubeconfig %s: %w", from, err)
	}
	dst, err := into.GetStartingConfig()
	if err != nil {
		return fmt.Errorf("read kubeconfig %s: %w", into.GetDefaultFilename(), err)
	}
	// An entry keeps the file it came from; a new one goes to the default
	// file (LocationOfOrigin "" tells ModifyConfig so, and the source file
	// must never be written).
	for name, c := range src.Clusters {
		c = c.DeepCopy()
		c.LocationOfOrigin = origin(dst.Clusters[name])
		dst.Clusters[name] = c
	}
	for name, u := range src.AuthInfos {
		u = u.DeepCopy()
		u.LocationOfOrigin = ""
		if old, ok := dst.AuthInfos[name]; ok {
			u.LocationOfOrigin = old.LocationOfOrigin
		}
		dst.AuthInfos[name] = u
	}
	for name, c := range src.Contexts {
		c = c.DeepCopy()
		c.LocationOfOrigin = ""
		if old, ok := dst.Contexts[name]; ok {
			c.LocationOfOrigin = old.LocationOfOrigin
		}
		dst.Contexts[name] = c
	}
	if src.CurrentContext != "" {
		dst.CurrentContext = src.CurrentContext
	}
	if err := clientcmd.ModifyConfig(into, *dst, false); err != nil {
		return fmt.Errorf("merge kubeconfig into %s: %w", into.GetDefaultFilename(), err)
	}
	return nil
}

func origin(c *clientcmdapi.Cluster) string {
	if c == nil {
		return ""
	}
	return c.LocationOfOrigin
}

// RemoveKubeconfig takes a kind cluster's entries out of the user's
// kubeconfig, as kind delete cluster does, leaving every other entry; the
// current context is unset when it was the cluster's. Removing what is
// not there changes nothing.
func RemoveKubeconfig(cluster string, from clientcmd.ConfigAccess) error {
	cfg, err := from.GetStartingConfig()
	if err != nil {
		return fmt.Errorf("read kubeconfig %s: %w", from.GetDefaultFilename(), err)
	}
	key := ContextName(cluster)
	delete(cfg.Clusters, key)
	delete(cfg.AuthInfos, key)
	delete(cfg.Contexts, key)
	if cfg.CurrentContext == key {
		cfg.CurrentContext = ""
	}
	if err := clientcmd.ModifyConfig(from, *cfg, false); err != nil {
		return fmt.Errorf("remove %s from kubeconfig %s: %w", key, from.GetDefaultFilename(), err)
	}
	return nil
}

// Kubeconfig is a running cluster's kubeconfig as kind makes it: the API
// server at the port published on this host, or with internal at the
// control-plane container's address on the kind Docker network (for a
// container on that network: the Dagger module's, a CI step's).
func Kubeconfig(ctx context.Context, name string, internal bool) (string, error) {
	p := provider(nil, time.Now())
	return kubeconfigOf(ctx, p, name, internal)
}

// kubeconfigOf reads the kubeconfig from the cluster. The internal one
// names the control-plane container, which only Docker's embedded DNS
// resolves, so the name is replaced by the container's IP on the kind
// network (the API server certificate carries that IP).
func kubeconfigOf(ctx context.Context, p *kind.Provider, name string, internal bool) (string, error) {
	cfg, err := p.KubeConfig(name, internal)
	if err != nil || !internal {
		return cfg, err
	}
	host := name + "-control-plane"
	out, err := exec.CommandContext(ctx, "docker", "inspect", "-f", `{{with index .NetworkSettings.Networks "kind"}}{{.IPAddress}}{{end}}`, host).Output()
	ip := strings.TrimSpace(string(out))
	if err != nil || ip == "" {
		return "", fmt.Errorf("address of %s on the kind network: %v", host, err)
	}
	return strings.ReplaceAll(cfg, "https://"+host+":", "https://"+ip+":"), nil
}
