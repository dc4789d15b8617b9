package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// UpstreamNodeImage is kind's published node image for Kubernetes 1.34, the
// version the manifests are validated against.
const UpstreamNodeImage = "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"

// upstreamRegistry is where kindest/node images come from.
const upstreamRegistry = "registry-1.docker.io"

// ResolveNodeImage picks the node image: an explicit override first; then
// an image already on this machine (upstream, then the offline build); then
// upstream if its registry resolves; else it says how to build the offline
// one. Images present locally are preferred so that nothing probes the
// network when it need not: STATEX_OFFLINE=1 forbids the probe altogether.
// The second result says where the image came from.
func ResolveNodeImage(ctx context.Context, override, offline string) (string, string, error) {
	if override != "" {
		return override, "override", nil
	}
	if imagePresent(ctx, UpstreamNodeImage) {
		return UpstreamNodeImage, "upstream (local)", nil
	}
	if offline != "" && imagePresent(ctx, offline) {
		return offline, "offline build", nil
	}
	if os.Getenv("STATEX_OFFLINE") != "1" && registryResolves(ctx) {
		return UpstreamNodeImage, "upstream (registry reachable)", nil
	}
	hint := "statex images build kind-node"
	if offline == "" {
		hint = "add images/kind-node and run statex images build kind-node"
	}
	return "", "", fmt.Errorf("no node image: %s is not on this machine and %s cannot be reached; build the offline one: %s (or pass --node-image)",
		strings.SplitN(UpstreamNodeImage, "@", 2)[0], upstreamRegistry, hint)
}

func imagePresent(ctx context.Context, ref string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).Run() == nil
}

// registryResolves is a cheap reachability hint: a DNS answer, no connection.
func registryResolves(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, upstreamRegistry)
	return err == nil && len(addrs) > 0
}
