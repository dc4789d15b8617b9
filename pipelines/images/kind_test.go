package images

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The repository's own images: the node image is kind-node's tag; every
// service image is loaded, and none of the base, the node or its parts.
func TestForKind(t *testing.T) {
	dir := filepath.Join("..", "..", "images")
	node, load, err := ForKind(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(node, "statex/kind-node:") {
		t.Errorf("node image %q", node)
	}
	specs, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, s := range specs {
		tags[s.Name] = s.Tag
	}
	for _, name := range []string{"postgres", "redis", "rabbitmq", "minio", "roundcube"} {
		if !slices.Contains(load, tags[name]) {
			t.Errorf("%s (%s) not loaded: %v", name, tags[name], load)
		}
	}
	for _, name := range []string{"base", "kind-node", "kind-base", "kind-etcd"} {
		if slices.Contains(load, tags[name]) {
			t.Errorf("%s (%s) would be loaded into the nodes", name, tags[name])
		}
	}
	if _, _, err := ForKind(t.TempDir()); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
}
