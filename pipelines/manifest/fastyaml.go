package manifest

import (
	"strconv"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// The fast path converts a document written in the block-style subset of
// YAML that Kubernetes manifests are made of straight to JSON, without
// building yaml.v3's node tree: that tree was well over half of the time
// of `statex validate`, and yaml.v3 offers no cheaper way to get values
// with their tags resolved.
//
// It is a filter, not a second YAML implementation. Anything outside the
// subset — anchors, aliases, tags, directives, complex or multi-line keys,
// flow collections spanning lines, escaped line breaks, explicit block
// scalar indentation, tabs outside scalars, CR line ends, odd characters —
// makes it give up, and the document goes through yaml.v3 as before. So
// it never reports an error of its own and never accepts a document
// yaml.v3 rejects; plain scalars are resolved by yaml.v3's own resolver
// (through Node.ShortTag). A differential test over every manifest in the
// repository and a fuzz test hold it to byte-identical output.

// fastMaxDepth is well under maxDepth, so deep documents take the slow
// path and get its error.
const fastMaxDepth = 64

// role says which metadata a mapping feeds, mirroring what newObject reads
// with mapValue (first key wins) and stringMap (last key wins).
type role uint8

const (
	roleNone role = iota
	roleRoot
	roleMetadata
	roleLabels
	roleAnnotations
)

// Bits of fastDoc.seen: a key counts only at its first occurrence.
const (
	seenAPIVersion = 1 << iota
	seenKind
	seenMetadata
	seenName
	seenNamespace
	seenLabels
	seenAnnotations
	seenItems // a List to kubectl whatever its kind: left to the tree path
)

type fastDoc struct {
	data    []byte
	pos     int // start of the current line
	line    int // 1-based line number at pos
	depth   int
	out     []byte
	scratch []byte

	seen                              uint8
	apiVersion, kind, name, namespace string
	labels, annotations               map[string]string

	// With indexing set, every node is recorded in index, so an object
	// with findings gets field lines without yaml.v3's tree.
	indexing       bool
	index          posIndex
	pendingKey     []byte
	pendingKeyLine int
}

// posNode is a node of the position index, in document order; its
// children follow it up to end.
type posNode struct {
	key     []byte // the key, for a mapping's value
	keyLine int32
	line    int32 // where the node starts, as yaml.v3's Node.Line
	end     int32
	kind    yaml.Kind
}

// open records a node starting at line; the key set by the mapping that
// holds it, if any, goes with it.
func (p *fastDoc) open(kind yaml.Kind, line int) int {
	if !p.indexing {
		return -1
	}
	p.index = append(p.index, posNode{key: p.pendingKey, keyLine: int32(p.pendingKeyLine), line: int32(line), kind: kind})
	p.pendingKey = nil
	return len(p.index) - 1
}

func (p *fastDoc) close(n int) {
	if n >= 0 {
		p.index[n].end = int32(len(p.index))
	}
}

// setKey names the next node opened as the value of key (on line). The
// key is copied: an unescaped one lives in scratch.
func (p *fastDoc) setKey(key []byte, line int) {
	if p.indexing {
		p.pendingKey, p.pendingKeyLine = append([]byte(nil), key...), line
	}
}

// scalarValue is what a value parser hands back to the mapping that owns
// it, so metadata can be read without a tree. text may live in scratch:
// it is read before the next value is parsed.
type scalarValue struct {
	isScalar bool
	text     []byte
}

// fastObject returns the object of a single-document chunk, or ok=false
// when the chunk is outside the fast subset (or is not a plain object: a
// List, a document without apiVersion/kind) and must go through yaml.v3.
func fastObject(file string, data []byte, lineBase int) (*Object, bool) {
	if !printableYAML(data) {
		return nil, false
	}
	p := &fastDoc{data: data, line: 1, out: make([]byte, 0, len(data)+len(data)/4)}
	rootLine, ok := p.document()
	if !ok || p.apiVersion == "" || p.kind == "" || p.kind == "List" || p.seen&seenItems != 0 {
		return nil, false
	}
	return &Object{
		APIVersion:  p.apiVersion,
		Kind:        p.kind,
		Name:        p.name,
		Namespace:   p.namespace,
		Labels:      p.labels,
		Annotations: p.annotations,
		JSON:        p.out,
		File:        file,
		Line:        rootLine + lineBase,
		src:         &docSource{data: data, lineBase: lineBase, fast: true},
	}, true
}

// posIndex is the position index of a document the fast path took.
type posIndex []posNode

// fastIndex parses such a document again, recording where every node
// starts.
func fastIndex(data []byte) posIndex {
	p := &fastDoc{data: data, line: 1, indexing: true}
	if _, ok := p.document(); !ok || len(p.index) == 0 {
		return nil
	}
	return p.index
}

// resolve is resolve (object.go) over the index instead of yaml.v3's tree:
// the same rules, so the same lines, as the differential test checks.
func (ix posIndex) resolve(n int, segs []pathSeg, line, depth int) (int, int) {
	if depth > maxDepth || len(segs) == 0 {
		return line, 0
	}
	seg, node := segs[0], ix[n]
	switch {
	case seg.index >= 0 && node.kind == yaml.SequenceNode:
		for c, i := n+1, 0; c < int(node.end); c, i = int(ix[c].end), i+1 {
			if i == seg.index {
				l, d := ix.resolve(c, segs[1:], int(ix[c].line), depth+1)
				return l, d + 1
			}
		}
	case seg.index < 0 && node.kind == yaml.MappingNode:
		found := -1
		for c := n + 1; c < int(node.end); c = int(ix[c].end) {
			if string(ix[c].key) == seg.key {
				found = c // the last of repeated keys, as a decoder keeps
			}
		}
		if found >= 0 {
			l, d := ix.resolve(found, segs[1:], int(ix[found].keyLine), depth+1)
			return l, d + 1
		}
	case seg.index < 0 && node.kind == yaml.SequenceNode:
		bestLine, bestDepth := line, 0
		for c := n + 1; c < int(node.end); c = int(ix[c].end) {
			if l, d := ix.resolve(c, segs, int(ix[c].line), depth+1); d > bestDepth {
				bestLine, bestDepth = l, d
			}
		}
		return bestLine, bestDepth
	}
	return line, 0
}

// printableYAML accepts what yaml.v3's reader accepts as printable, minus
// CR, NEL and the Unicode line and paragraph separators (line breaks to
// YAML, which would shift line numbers) and the byte order mark.
func printableYAML(data []byte) bool {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError || r < 0xa0 || r == 0x2028 || r == 0x2029 ||
			r >= 0xd800 && r < 0xe000 || r == 0xfeff || r > 0xfffd {
			return false
		}
		i += size
	}
	return true
}

// document parses an optional "---" line and a root block mapping at
// column 0, and returns the line of its first key (yaml.v3's node line).
func (p *fastDoc) document() (int, bool) {
	if hasPrefixAt(p.data, 0, "---") {
		if !p.restIsBlank(3) {
			return 0, false
		}
		p.nextLine(3)
	}
	indent, more, ok := p.peekLine()
	if !ok || !more || indent != 0 || !p.isKeyAt(p.pos) {
		return 0, false
	}
	rootLine := p.line
	if !p.blockMapping(p.pos, 0, roleRoot) {
		return 0, false
	}
	if _, more, ok := p.peekLine(); !ok || more {
		return 0, false
	}
	return rootLine, len(p.out) <= maxJSONBytes
}

// lineEnd is the index of the '\n' ending the line that holds i, or
// len(data).
func (p *fastDoc) lineEnd(i int) int {
	for ; i < len(p.data); i++ {
		if p.data[i] == '\n' {
			return i
		}
	}
	return i
}

// nextLine moves to the start of the line after the one holding i.
func (p *fastDoc) nextLine(i int) {
	end := p.lineEnd(i)
	if end < len(p.data) {
		p.line++
		end++
	}
	p.pos = end
}

// restIsBlank reports whether from i to the end of the line there are only
// spaces and maybe a comment.
func (p *fastDoc) restIsBlank(i int) bool {
	for ; i < len(p.data) && p.data[i] != '\n'; i++ {
		switch p.data[i] {
		case ' ':
		case '#':
			return i == 0 || p.data[i-1] == ' '
		default:
			return false
		}
	}
	return true
}

// peekLine skips blank and comment-only lines and returns the indentation
// of the next line with content, leaving pos at that line's start. more is
// false at the end of the data; ok is false on a tab in the indentation.
func (p *fastDoc) peekLine() (indent int, more, ok bool) {
	for p.pos < len(p.data) {
		i := p.pos
		for i < len(p.data) && p.data[i] == ' ' {
			i++
		}
		if i == len(p.data) {
			return 0, false, true
		}
		switch p.data[i] {
		case '\n', '#':
			p.nextLine(i)
			continue
		case '\t':
			return 0, false, false
		}
		return i - p.pos, true, true
	}
	return 0, false, true
}

func hasPrefixAt(data []byte, i int, prefix string) bool {
	return len(data)-i >= len(prefix) && string(data[i:i+len(prefix)]) == prefix
}

// isDashAt reports whether a block sequence entry starts at i.
func (p *fastDoc) isDashAt(i int) bool {
	return p.data[i] == '-' && (i+1 == len(p.data) || p.data[i+1] == ' ' || p.data[i+1] == '\n')
}

// isKeyAt reports whether the content at i is "key: ..." with a plain or
// quoted key on this line.
func (p *fastDoc) isKeyAt(i int) bool {
	_, _, ok := p.scanKey(i)
	return ok
}

// scanKey reads a mapping key at i and returns it and the index after its
// ':'.
func (p *fastDoc) scanKey(i int) (key []byte, after int, ok bool) {
	d := p.data
	switch c := d[i]; {
	case c == '"' || c == '\'':
		var end int
		key, end, ok = p.quoted(i)
		if !ok {
			return nil, 0, false
		}
		// An unescaped key lives in scratch, which the value reuses.
		key = append([]byte(nil), key...)
		for end < len(d) && d[end] == ' ' {
			end++
		}
		if end < len(d) && d[end] == ':' && (end+1 == len(d) || d[end+1] == ' ' || d[end+1] == '\n') {
			return key, end + 1, true
		}
		return nil, 0, false
	case !plainKeyStart(c):
		return nil, 0, false
	}
	for j := i; j < len(d) && j-i <= 1024; j++ {
		switch d[j] {
		case '\n', '\t':
			return nil, 0, false
		case '#':
			if d[j-1] == ' ' {
				return nil, 0, false
			}
		case ':':
			if j+1 == len(d) || d[j+1] == ' ' || d[j+1] == '\n' {
				key = trimTrailingSpaces(d[i:j])
				if len(key) == 0 || string(key) == "<<" {
					return nil, 0, false
				}
				return key, j + 1, true
			}
		}
	}
	return nil, 0, false
}

// plainKeyStart: keys starting with an indicator (or '-', which could be
// an entry) are left to yaml.v3.
func plainKeyStart(c byte) bool {
	switch c {
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '\n', '\t':
		return false
	}
	return true
}

func trimTrailingSpaces(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// blockMapping parses a block mapping whose first key is at i, in column
// indent; later keys are at the start of lines.
func (p *fastDoc) blockMapping(i, indent int, r role) bool {
	if p.depth++; p.depth > fastMaxDepth {
		return false
	}
	defer func() { p.depth-- }()
	node := p.open(yaml.MappingNode, p.line)
	defer p.close(node)
	var m map[string]string
	if r == roleLabels || r == roleAnnotations {
		m = make(map[string]string)
		if r == roleLabels {
			p.labels = m
		} else {
			p.annotations = m
		}
	}
	p.out = append(p.out, '{')
	for first := true; ; first = false {
		key, after, ok := p.scanKey(i)
		if !ok {
			return false
		}
		if !first {
			p.out = append(p.out, ',')
		}
		p.out = appendJSONString(p.out, key)
		p.out = append(p.out, ':')
		childRole, field := p.claim(r, key)
		p.setKey(key, p.line)
		v, ok := p.mappingValue(after, indent, childRole)
		if !ok {
			return false
		}
		if field != nil && v.isScalar {
			*field = string(v.text)
		}
		if m != nil {
			if v.isScalar {
				m[string(key)] = string(v.text)
			} else {
				m[string(key)] = ""
			}
		}
		next, more, ok := p.peekLine()
		if !ok {
			return false
		}
		if !more || next < indent {
			break
		}
		if next > indent || p.isDashAt(p.pos+next) {
			return false
		}
		i = p.pos + next
	}
	p.out = append(p.out, '}')
	return true
}

// claim marks a key of a metadata-bearing mapping as seen and says where
// its value goes: a string field, or a child mapping's role.
func (p *fastDoc) claim(r role, key []byte) (role, *string) {
	if r == roleNone {
		return roleNone, nil
	}
	once := func(bit uint8) bool {
		if p.seen&bit != 0 {
			return false
		}
		p.seen |= bit
		return true
	}
	switch r {
	case roleRoot:
		switch string(key) {
		case "apiVersion":
			if once(seenAPIVersion) {
				return roleNone, &p.apiVersion
			}
		case "kind":
			if once(seenKind) {
				return roleNone, &p.kind
			}
		case "metadata":
			if once(seenMetadata) {
				return roleMetadata, nil
			}
		case "items":
			p.seen |= seenItems
		}
	case roleMetadata:
		switch string(key) {
		case "name":
			if once(seenName) {
				return roleNone, &p.name
			}
		case "namespace":
			if once(seenNamespace) {
				return roleNone, &p.namespace
			}
		case "labels":
			if once(seenLabels) {
				return roleLabels, nil
			}
		case "annotations":
			if once(seenAnnotations) {
				return roleAnnotations, nil
			}
		}
	}
	return roleNone, nil
}

// mappingValue parses the value after "key:" at i, for a mapping in column
// indent. A value on the next lines is a more indented block, or a
// sequence in the same column.
func (p *fastDoc) mappingValue(i, indent int, r role) (scalarValue, bool) {
	keyLine := p.line
	for i < len(p.data) && p.data[i] == ' ' {
		i++
	}
	if !p.restIsBlank(i) {
		return p.inlineValue(i, indent, r)
	}
	p.nextLine(i)
	next, more, ok := p.peekLine()
	if !ok {
		return scalarValue{}, false
	}
	switch {
	case more && next > indent && p.isDashAt(p.pos+next):
		return scalarValue{}, r == roleNone && p.blockSequence(next)
	case more && next > indent && p.isKeyAt(p.pos+next):
		return scalarValue{}, p.blockMapping(p.pos+next, next, r)
	case more && next > indent:
		return scalarValue{}, false // a scalar starting on the next line
	case more && next == indent && p.isDashAt(p.pos+next):
		return scalarValue{}, r == roleNone && p.blockSequence(next)
	}
	// An empty value: yaml.v3 places its null at the ':'.
	p.close(p.open(yaml.ScalarNode, keyLine))
	p.out = append(p.out, "null"...)
	return scalarValue{isScalar: true}, true
}

// blockSequence parses the entries of a block sequence in column indent,
// starting at the current line.
func (p *fastDoc) blockSequence(indent int) bool {
	if p.depth++; p.depth > fastMaxDepth {
		return false
	}
	defer func() { p.depth-- }()
	node := p.open(yaml.SequenceNode, p.line)
	defer p.close(node)
	p.out = append(p.out, '[')
	for first := true; ; first = false {
		if !first {
			p.out = append(p.out, ',')
		}
		dashLine := p.line
		i := p.pos + indent + 1
		for i < len(p.data) && p.data[i] == ' ' {
			i++
		}
		switch {
		case p.restIsBlank(i):
			p.nextLine(i)
			next, more, ok := p.peekLine()
			if !ok {
				return false
			}
			switch {
			case more && next > indent && p.isDashAt(p.pos+next):
				if !p.blockSequence(next) {
					return false
				}
			case more && next > indent && p.isKeyAt(p.pos+next):
				if !p.blockMapping(p.pos+next, next, roleNone) {
					return false
				}
			case more && next > indent:
				return false
			default:
				p.close(p.open(yaml.ScalarNode, dashLine))
				p.out = append(p.out, "null"...)
			}
		case p.isDashAt(i):
			return false // "- - x": a compact nested sequence
		case p.isKeyAt(i):
			if !p.blockMapping(i, i-p.pos, roleNone) {
				return false
			}
		default:
			if _, ok := p.inlineValue(i, indent, roleNone); !ok {
				return false
			}
		}
		next, more, ok := p.peekLine()
		if !ok {
			return false
		}
		if !more || next < indent || next == indent && !p.isDashAt(p.pos+next) {
			break
		}
		if next > indent {
			return false
		}
	}
	p.out = append(p.out, ']')
	return true
}

// inlineValue parses a value that starts on the current line at i, of a
// node whose collection is in column indent, and moves to the next line.
// Lines after it must not be more indented: that would be a continuation
// (or an error), both left to yaml.v3.
func (p *fastDoc) inlineValue(i, indent int, r role) (scalarValue, bool) {
	var v scalarValue
	d := p.data
	switch c := d[i]; c {
	case '|', '>':
		p.close(p.open(yaml.ScalarNode, p.line))
		return p.blockScalar(i, indent)
	case '"', '\'':
		p.close(p.open(yaml.ScalarNode, p.line))
		text, end, ok := p.quotedScalar(i, indent)
		if !ok || !p.restIsBlank(end) {
			return v, false
		}
		p.out = appendJSONString(p.out, text)
		v = scalarValue{isScalar: true, text: text}
		p.nextLine(end)
	case '[', '{':
		if r != roleNone {
			// Of flow metadata, only an empty mapping is mirrored here:
			// yaml.v3's tree gives it an empty (not nil) map.
			if !hasPrefixAt(d, i, "{}") || !p.restIsBlank(i+2) {
				return v, false
			}
			switch r {
			case roleLabels:
				p.labels = map[string]string{}
			case roleAnnotations:
				p.annotations = map[string]string{}
			}
		}
		end, ok := p.flowNode(i)
		if !ok || !p.restIsBlank(end) {
			return v, false
		}
		p.nextLine(end)
	case '&', '*', '!', '%', '@', '`', ',', ']', '}', '#':
		return v, false
	default:
		if (c == '-' || c == '?' || c == ':') && (i+1 == len(d) || d[i+1] == ' ' || d[i+1] == '\n') {
			return v, false
		}
		p.close(p.open(yaml.ScalarNode, p.line))
		text, ok := p.plainScalar(i, indent)
		if !ok {
			return v, false
		}
		p.appendPlain(text)
		v = scalarValue{isScalar: true, text: text}
	}
	next, more, ok := p.peekLine()
	if !ok || more && next > indent {
		return v, false
	}
	return v, true
}

// plainLine returns the end of a plain scalar's text on the line from i
// (before a comment) and whether a comment ended it; ok is false where
// yaml.v3 would read a mapping value or a tab.
func (p *fastDoc) plainLine(i int) (end int, comment, ok bool) {
	d := p.data
	for end = i; end < len(d) && d[end] != '\n'; end++ {
		switch d[end] {
		case '\t':
			return 0, false, false
		case ':':
			if end+1 == len(d) || d[end+1] == ' ' || d[end+1] == '\n' {
				return 0, false, false
			}
		case '#':
			if end > i && d[end-1] == ' ' {
				return end, true, true
			}
		}
	}
	return end, false, true
}

// plainScalar reads a plain scalar starting at i, in a collection at
// column indent, with the more indented lines that continue it, folded as
// YAML folds them: a line break becomes a space, n empty lines n newlines.
// It leaves pos at the line after the scalar.
func (p *fastDoc) plainScalar(i, indent int) ([]byte, bool) {
	d := p.data
	end, comment, ok := p.plainLine(i)
	if !ok {
		return nil, false
	}
	text := trimTrailingSpaces(d[i:end])
	p.nextLine(end)
	if comment {
		return text, true
	}
	folded := false
	for p.pos < len(d) {
		pos, line := p.pos, p.line
		breaks, col := 0, 0
		for {
			col = 0
			for p.pos+col < len(d) && d[p.pos+col] == ' ' {
				col++
			}
			if at := p.pos + col; at < len(d) && d[at] == '\n' {
				breaks++
				p.nextLine(at)
				continue
			}
			break
		}
		at := p.pos + col
		if at == len(d) || d[at] == '#' || col <= indent {
			// Not a continuation: the empty lines belong to no one.
			p.pos, p.line = pos, line
			break
		}
		end, comment, ok := p.plainLine(at)
		if !ok || d[at] == '\t' {
			return nil, false
		}
		if !folded {
			text = append(p.scratch[:0], text...)
			folded = true
		}
		if breaks == 0 {
			text = append(text, ' ')
		}
		for ; breaks > 0; breaks-- {
			text = append(text, '\n')
		}
		text = append(text, trimTrailingSpaces(d[at:end])...)
		p.nextLine(end)
		if comment {
			break
		}
	}
	if folded {
		p.scratch = text
	}
	return text, true
}

// quotedScalar reads a quoted scalar value at i, which may go on over more
// indented lines (folded like a plain scalar), and returns its value and
// the index after the closing quote, leaving pos at that quote's line.
func (p *fastDoc) quotedScalar(i, indent int) ([]byte, int, bool) {
	if text, end, ok := p.quoted(i); ok {
		return text, end, true
	}
	return p.quotedLines(i, indent)
}

// quotedLines decodes a quoted scalar with its escapes into scratch; with
// indent < 0 it must close on its line.
func (p *fastDoc) quotedLines(i, indent int) ([]byte, int, bool) {
	d := p.data
	q := d[i]
	s := p.scratch[:0]
	spaces := 0 // literal blanks not yet known to be inside the line
	for j := i + 1; j < len(d); {
		c := d[j]
		switch {
		case c == '\t':
			return nil, 0, false
		case c == ' ':
			spaces++
			j++
			continue
		case c == '\n':
			if indent < 0 {
				return nil, 0, false
			}
			// The line's trailing blanks go; empty lines count.
			spaces = 0
			breaks := 0
			p.nextLine(j)
			for {
				col := 0
				for p.pos+col < len(d) && d[p.pos+col] == ' ' {
					col++
				}
				at := p.pos + col
				if at < len(d) && d[at] == '\n' {
					breaks++
					p.nextLine(at)
					continue
				}
				if at == len(d) || d[at] == '\t' || col <= indent {
					return nil, 0, false
				}
				j = at
				break
			}
			if breaks == 0 {
				s = append(s, ' ')
			}
			for ; breaks > 0; breaks-- {
				s = append(s, '\n')
			}
			continue
		}
		for ; spaces > 0; spaces-- {
			s = append(s, ' ')
		}
		switch {
		case c == q && q == '\'' && j+1 < len(d) && d[j+1] == '\'':
			s = append(s, '\'')
			j += 2
		case c == q:
			p.scratch = s
			return s, j + 1, true
		case c == '\\' && q == '"':
			var ok bool
			if s, j, ok = appendEscape(s, d, j); !ok {
				return nil, 0, false
			}
		default:
			s = append(s, c)
			j++
		}
	}
	return nil, 0, false
}

// appendPlain writes a plain scalar as JSON, resolved as yaml.v3 resolves
// it. Only scalars starting with one of these bytes can be anything but a
// string (null, bool, int, float, merge key, YAML 1.1 booleans).
func (p *fastDoc) appendPlain(text []byte) {
	if len(text) > 0 {
		switch text[0] {
		case '+', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
			'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~', '<', '.':
		default:
			p.out = appendJSONString(p.out, text)
			return
		}
	}
	n := yaml.Node{Kind: yaml.ScalarNode, Value: string(text)}
	p.out = appendScalar(p.out, &n)
}

// quoted reads a single- or double-quoted scalar that closes on its line
// and returns its value and the index after the closing quote.
func (p *fastDoc) quoted(i int) ([]byte, int, bool) {
	d := p.data
	q := d[i]
	// Without escapes the value is a slice of the input.
	for j := i + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '\n' || c == '\t':
			return nil, 0, false
		case c == q && (q == '"' || j+1 == len(d) || d[j+1] != '\''):
			return d[i+1 : j], j + 1, true
		case c == q || c == '\\' && q == '"':
			return p.quotedLines(i, -1)
		}
	}
	return nil, 0, false
}

// appendEscape applies the double-quoted escape at d[j] ('\\') as yaml.v3
// does and returns the index after it; an escaped line break is refused.
func appendEscape(s, d []byte, j int) ([]byte, int, bool) {
	if j+1 >= len(d) {
		return nil, 0, false
	}
	j++
	digits := 0
	switch d[j] {
	case '0':
		s = append(s, 0)
	case 'a':
		s = append(s, '\a')
	case 'b':
		s = append(s, '\b')
	case 't':
		s = append(s, '\t')
	case 'n':
		s = append(s, '\n')
	case 'v':
		s = append(s, '\v')
	case 'f':
		s = append(s, '\f')
	case 'r':
		s = append(s, '\r')
	case 'e':
		s = append(s, 0x1b)
	case ' ', '"', '\'', '\\':
		s = append(s, d[j])
	case 'N':
		s = utf8.AppendRune(s, 0x85)
	case '_':
		s = utf8.AppendRune(s, 0xa0)
	case 'L':
		s = utf8.AppendRune(s, 0x2028)
	case 'P':
		s = utf8.AppendRune(s, 0x2029)
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	default:
		return nil, 0, false
	}
	if digits > 0 {
		if j+digits >= len(d) {
			return nil, 0, false
		}
		v, err := strconv.ParseUint(string(d[j+1:j+1+digits]), 16, 32)
		if err != nil || v >= 0xd800 && v <= 0xdfff || v > 0x10ffff {
			return nil, 0, false
		}
		s = utf8.AppendRune(s, rune(v))
		j += digits
	}
	return s, j + 1, true
}

// flowNode reads a flow collection or scalar that ends on this line and
// returns the index after it. Plain scalars here may not hold ':' or
// '#', which keeps flow mappings and comments out of their way.
func (p *fastDoc) flowNode(i int) (int, bool) {
	if i >= len(p.data) {
		return 0, false
	}
	if p.depth++; p.depth > fastMaxDepth {
		return 0, false
	}
	defer func() { p.depth-- }()
	d := p.data
	skip := func(j int) int {
		for j < len(d) && d[j] == ' ' {
			j++
		}
		return j
	}
	switch d[i] {
	case '[', '{':
		closer, kind := byte(']'), yaml.SequenceNode
		if d[i] == '{' {
			closer, kind = '}', yaml.MappingNode
		}
		node := p.open(kind, p.line)
		defer p.close(node)
		p.out = append(p.out, d[i])
		j := skip(i + 1)
		if j < len(d) && d[j] == closer {
			p.out = append(p.out, closer)
			return j + 1, true
		}
		for {
			if j >= len(d) {
				return 0, false
			}
			if closer == '}' {
				key, end, ok := p.flowScalar(j, true)
				if !ok || key == nil {
					return 0, false
				}
				p.setKey(key, p.line)
				j = end
				if j >= len(d) || d[j] != ':' || j+1 >= len(d) || d[j+1] != ' ' {
					return 0, false
				}
				p.out = append(p.out, ':')
				j = skip(j + 1)
			}
			end, ok := p.flowNode(j)
			if !ok {
				return 0, false
			}
			j = skip(end)
			if j >= len(d) {
				return 0, false
			}
			switch d[j] {
			case ',':
				p.out = append(p.out, ',')
				j = skip(j + 1)
				if j < len(d) && (d[j] == ']' || d[j] == '}') {
					return 0, false // trailing comma
				}
			case closer:
				p.out = append(p.out, closer)
				return j + 1, true
			default:
				return 0, false
			}
		}
	}
	p.close(p.open(yaml.ScalarNode, p.line))
	_, end, ok := p.flowScalar(i, false)
	return end, ok
}

// flowScalar writes one scalar inside a flow collection (a key always as
// a string, as yaml.v3's keys are) and returns its text and the index
// after it.
func (p *fastDoc) flowScalar(i int, key bool) ([]byte, int, bool) {
	d := p.data
	if i >= len(d) {
		return nil, 0, false
	}
	if d[i] == '"' || d[i] == '\'' {
		text, end, ok := p.quoted(i)
		if !ok {
			return nil, 0, false
		}
		p.out = appendJSONString(p.out, text)
		return text, end, true
	}
	switch d[i] {
	case '&', '*', '!', '%', '@', '`', ',', '[', ']', '{', '}', '?', ':', '#', '-', '|', '>', ' ', '\n':
		return nil, 0, false
	}
	end := i
scan:
	for end < len(d) {
		switch d[end] {
		case ',', ']', '}':
			break scan
		case ':':
			if key {
				break scan
			}
			return nil, 0, false
		case '\n', '\t', '#', '[', '{', '"', '\'':
			return nil, 0, false
		}
		end++
	}
	text := trimTrailingSpaces(d[i:end])
	if key {
		if len(text) == 0 || string(text) == "<<" {
			return nil, 0, false
		}
		p.out = appendJSONString(p.out, text)
	} else {
		p.appendPlain(text)
	}
	return text, end, true
}

// blockScalar reads a literal (|) or folded (>) scalar whose header is at
// i, for a node in a collection at column indent, following yaml.v3's
// scanner step by step (line folding, chomping, indentation detection).
func (p *fastDoc) blockScalar(i, indent int) (scalarValue, bool) {
	d := p.data
	literal := d[i] == '|'
	j := i + 1
	chomp := 0
	if j < len(d) && (d[j] == '-' || d[j] == '+') {
		chomp = -1
		if d[j] == '+' {
			chomp = 1
		}
		j++
	}
	if j < len(d) && d[j] >= '0' && d[j] <= '9' {
		return scalarValue{}, false // explicit indentation: rare, left to yaml.v3
	}
	if !p.restIsBlank(j) {
		return scalarValue{}, false
	}
	p.nextLine(j)

	// Leading empty lines and the first content line fix the indentation.
	trailingBreaks := 0
	maxIndent := 0
	col := 0
	for {
		col = 0
		for p.pos+col < len(d) && d[p.pos+col] == ' ' {
			col++
		}
		maxIndent = max(maxIndent, col)
		at := p.pos + col
		if at < len(d) && d[at] == '\t' {
			return scalarValue{}, false
		}
		if at < len(d) && d[at] == '\n' {
			trailingBreaks++
			p.nextLine(at)
			continue
		}
		break
	}
	contentIndent := max(maxIndent, indent+1, 1)
	if p.pos+col >= len(d) || col != contentIndent {
		return scalarValue{}, false // empty or oddly indented: left to yaml.v3
	}

	s := p.scratch[:0]
	leadingBreak, leadingBlank := false, false
	for col == contentIndent && p.pos+col < len(d) {
		at := p.pos + col
		trailingBlank := d[at] == ' ' || d[at] == '\t'
		if !literal && !leadingBlank && !trailingBlank && leadingBreak {
			if trailingBreaks == 0 {
				s = append(s, ' ')
			}
		} else if leadingBreak {
			s = append(s, '\n')
		}
		leadingBreak = false
		for ; trailingBreaks > 0; trailingBreaks-- {
			s = append(s, '\n')
		}
		leadingBlank = trailingBlank
		end := p.lineEnd(at)
		s = append(s, d[at:end]...)
		if end == len(d) {
			p.pos = end
			break
		}
		leadingBreak = true
		p.nextLine(end)
		// Empty lines, then the next line's indentation up to the content
		// column.
		for {
			col = 0
			for col < contentIndent && p.pos+col < len(d) && d[p.pos+col] == ' ' {
				col++
			}
			at := p.pos + col
			if col < contentIndent && at < len(d) && d[at] == '\t' {
				return scalarValue{}, false
			}
			if at < len(d) && d[at] == '\n' {
				trailingBreaks++
				p.nextLine(at)
				continue
			}
			break
		}
	}
	if chomp != -1 && leadingBreak {
		s = append(s, '\n')
	}
	if chomp == 1 {
		for ; trailingBreaks > 0; trailingBreaks-- {
			s = append(s, '\n')
		}
	}
	p.scratch = s
	p.out = appendJSONString(p.out, s)
	next, more, ok := p.peekLine()
	if !ok || more && next > indent {
		return scalarValue{}, false
	}
	return scalarValue{isScalar: true, text: s}, true
}
