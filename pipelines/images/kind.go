package images

import "strings"

// KindNodeImage is the name of the image directory that builds the kind
// node image offline.
const KindNodeImage = "kind-node"

// ForKind says which of the images in dir a kind cluster uses: the node
// image the offline build makes (its tag; "" when dir has none), and the
// service images to load into the nodes. The kind-* images are the node's
// own parts (baked into the node image), not workloads, so they are never
// loaded.
func ForKind(dir string) (nodeImage string, load []string, err error) {
	specs, err := Discover(dir)
	if err != nil {
		return "", nil, err
	}
	for _, s := range specs {
		switch {
		case s.Name == KindNodeImage:
			nodeImage = s.Tag
		case s.Kind == KindDockerfile && !strings.HasPrefix(s.Name, "kind-"):
			load = append(load, s.Tag)
		}
	}
	return nodeImage, load, nil
}
