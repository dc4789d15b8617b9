package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// nodeToJSON converts a YAML node to JSON the way kubectl does before it
// sends an object to the API server (sigs.k8s.io/yaml, which follows YAML
// 1.1): an unquoted yes/no/on/off is a boolean there, so `value: yes` on an
// env var fails exactly as it would on a real cluster. Duplicate keys are
// kept, so the strict decoder reports them like the API server does.
func nodeToJSON(n *yaml.Node) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	return appendNode(buf, n, 0)
}

// Limits that keep hostile input (deep nesting, alias bombs) from eating the
// machine: no real object comes near them.
const (
	maxDepth     = 200
	maxJSONBytes = 32 << 20
)

func appendNode(buf []byte, n *yaml.Node, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nesting deeper than %d levels", n.Line, maxDepth)
	}
	if len(buf) > maxJSONBytes {
		return nil, fmt.Errorf("line %d: object larger than %d MiB once aliases are expanded", n.Line, maxJSONBytes>>20)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return append(buf, "null"...), nil
		}
		return appendNode(buf, n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		return appendNode(buf, n.Alias, depth+1)
	case yaml.SequenceNode:
		buf = append(buf, '[')
		for i, c := range n.Content {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendNode(buf, c, depth+1); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case yaml.MappingNode:
		buf = append(buf, '{')
		first := true
		var err error
		buf, err = appendMappingEntries(buf, n, &first, depth)
		if err != nil {
			return nil, err
		}
		return append(buf, '}'), nil
	case yaml.ScalarNode:
		return appendScalar(buf, n), nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func appendMappingEntries(buf []byte, n *yaml.Node, first *bool, depth int) ([]byte, error) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			// "<<: *anchor" merges the anchored mapping(s) in.
			src := v
			for src.Kind == yaml.AliasNode && src.Alias != nil {
				src = src.Alias
			}
			var srcs []*yaml.Node
			if src.Kind == yaml.SequenceNode {
				srcs = src.Content
			} else {
				srcs = []*yaml.Node{src}
			}
			for _, s := range srcs {
				for s.Kind == yaml.AliasNode && s.Alias != nil {
					s = s.Alias
				}
				if s.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("line %d: merge key needs a mapping", k.Line)
				}
				var err error
				if buf, err = appendMappingEntries(buf, s, first, depth+1); err != nil {
					return nil, err
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
		}
		if !*first {
			buf = append(buf, ',')
		}
		*first = false
		buf = appendJSONString(buf, k.Value)
		buf = append(buf, ':')
		var err error
		if buf, err = appendNode(buf, v, depth+1); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

func appendScalar(buf []byte, n *yaml.Node) []byte {
	switch n.ShortTag() {
	case "!!null":
		return append(buf, "null"...)
	case "!!bool":
		if b, ok := parseBool11(n.Value); ok {
			return strconv.AppendBool(buf, b)
		}
	case "!!int":
		v := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(v, 0, 64); err == nil {
			return strconv.AppendInt(buf, i, 10)
		}
		if u, err := strconv.ParseUint(v, 0, 64); err == nil {
			return strconv.AppendUint(buf, u, 10)
		}
	case "!!float":
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.AppendFloat(buf, f, 'g', -1, 64)
		}
	case "!!str":
		// A plain yes/no/on/off. Not true/false: a parsed plain true is
		// !!bool already, so a plain !!str true is a node kustomize built,
		// and yaml.v3 writes it quoted; nor an explicit !!str, which
		// kubectl keeps a string.
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 && !isBool12(n.Value) {
			if b, ok := parseBool11(n.Value); ok {
				return strconv.AppendBool(buf, b)
			}
		}
	}
	return appendJSONString(buf, n.Value)
}

// parseBool11 accepts YAML 1.1 booleans, which kubectl's YAML library uses.
func parseBool11(s string) (bool, bool) {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

// isBool12 is what yaml.v3 (YAML 1.2) itself resolves as a boolean.
func isBool12(s string) bool {
	switch s {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendJSONString takes the fast path's byte slices as well as node
// values, so neither has to be converted.
func appendJSONString[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
