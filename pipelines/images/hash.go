package images

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// hashVersion changes when the meaning of the inputs changes, so every image rebuilds.
const hashVersion = "statex-images/v1"

// LabelInputHash is the image label that records an image's input hash.
const LabelInputHash = "statex.io/input-hash"

// Inputs are what an image's content depends on besides its directory.
type Inputs struct {
	Parents   map[string]string // dependency name -> image ID it was built FROM
	BuildArgs map[string]string // build arguments (or recipe environment) passed to the build
	Extra     map[string]string // anything else that changes the output (e.g. "go" -> go version)
}

// InputHash returns "sha256:<hex>" over the files under dir (relative paths,
// executable bit, contents; symlinks by target; the bin/ output directory,
// *.md documentation and editor/VCS debris excluded) and the given inputs. It does not depend on file
// times, directory order or map order.
func InputHash(dir string, in Inputs) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", dir, err)
	}
	sort.Strings(files)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", hashVersion)
	for _, rel := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "link %q %q\n", rel, target)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "file %q %t %d\n", rel, fi.Mode()&0o111 != 0, fi.Size())
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		}
	}
	writeMap(h, "parent", in.Parents)
	writeMap(h, "arg", in.BuildArgs)
	writeMap(h, "extra", in.Extra)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func writeMap(w io.Writer, kind string, m map[string]string) {
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(w, "%s %q %q\n", kind, k, m[k])
	}
}

// ignored reports whether a path (slash-separated, relative to the image
// directory) is not an input: Go build output, VCS and editor debris.
func ignored(rel string, isDir bool) bool {
	base := rel[strings.LastIndex(rel, "/")+1:]
	if isDir {
		return rel == "bin" || base == ".git"
	}
	// Documentation is not copied into images; editing it must not rebuild.
	return strings.HasSuffix(base, ".md") || strings.HasSuffix(base, "~") || strings.HasSuffix(base, ".swp") || base == ".DS_Store"
}

// Action is what Build does with one image.
type Action string

const (
	ActionBuild Action = "build"
	ActionSkip  Action = "skip"
)

// Decide returns ActionSkip when the existing image's labels carry the same
// input hash and force is false; otherwise ActionBuild with the reason.
func Decide(existingLabels map[string]string, exists bool, hash string, force bool) (Action, string) {
	switch {
	case force:
		return ActionBuild, "forced"
	case !exists:
		return ActionBuild, "no image"
	case existingLabels[LabelInputHash] == "":
		return ActionBuild, "image has no " + LabelInputHash + " label"
	case existingLabels[LabelInputHash] != hash:
		return ActionBuild, "inputs changed"
	}
	return ActionSkip, "up to date"
}
