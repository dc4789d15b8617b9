package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDependsFileOrdersRecipeAfterItsImages(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base/TAG", "x/base:1\n")
	write("base/build.sh", "true\n")
	write("comp/TAG", "x/comp:1\n")
	write("comp/Dockerfile", "FROM x/base:1\n")
	write("node/TAG", "x/node:1\n")
	write("node/build.sh", "true\n")
	write("node/DEPENDS", "# images imported into the node\ncomp\n\nbase  # also\n")
	specs, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	order, err := Order(specs, []string{"node"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range order {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "base,comp,node" {
		t.Errorf("order = %v, want base,comp,node", names)
	}
	write("node/DEPENDS", "missing\n")
	if _, err := Discover(dir); err == nil || !strings.Contains(err.Error(), `node/DEPENDS names "missing"`) {
		t.Errorf("unknown dependency: %v", err)
	}
}
