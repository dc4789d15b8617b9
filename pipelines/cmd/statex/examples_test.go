package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The READMEs and every verb's --help are the manual: each statex command
// in them must work as written on a fresh clone. Every command's flags are
// parsed against the verb's real flags (an unknown flag, or a value its
// flag does not take, fails). Commands that need nothing but the
// repository are run from its root and must exit 0; deploy, check and
// drill run up to a cluster that refuses connections and must stop there;
// commands that need Docker (up, cluster, images build) are only parsed.

// docs are the READMEs whose commands are checked.
var docs = []string{"README.md", "images/README.md", "manifests/README.md"}

// needs names what a verb needs beyond the repository; commands of these
// verbs are not run to the end (unless they only ask for --help).
var needs = map[string]string{
	"up":      "Docker and a kind cluster",
	"deploy":  "a cluster",
	"check":   "a cluster",
	"drill":   "a cluster",
	"cluster": "Docker (kind)",
	"images":  "Docker",
}

// unreachable are the verbs whose examples run against a kubeconfig that
// points at a closed loopback port: everything before the cluster (flags,
// arguments, render, validate) runs for real, then exit 2 naming the API
// server is the only right answer.
var unreachable = map[string]bool{"deploy": true, "check": true, "drill": true}

// subcommands of the verbs that have them; their flags are the same set.
var subcommands = map[string][]string{
	"cluster": {"up", "down", "status", "logs", "preflight"},
	"images":  {"build"},
}

// outputFlags write files: their values are moved under a fresh temporary
// directory (keeping the relative path, whose directories do not exist
// there, as on a fresh clone) so running an example writes nothing into
// the repository.
var outputFlags = map[string]bool{"o": true, "junit": true, "sarif": true, "check-junit": true, "dir": true}

// example is one statex command found in a README or a --help text.
type example struct {
	where string   // file:line, or "statex VERB --help"
	line  string   // as written, comment removed
	args  []string // after "statex"
	// why is set when the command is parsed only: what it needs, or that
	// it is a usage synopsis with placeholders.
	why string
	// toCluster: run against an API server that refuses connections; the
	// run must get through all its arguments and stop at the cluster.
	toCluster bool
}

func TestDocumentedCommandsWork(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	examples := docExamples(t, root)
	examples = append(examples, helpExamples(t)...)
	if len(examples) < 40 {
		t.Fatalf("found only %d commands: is the extraction broken?", len(examples))
	}
	kc := deadKubeconfig(t)
	flagSets := map[string][]flagSpec{}
	ran := map[string]bool{} // the same command in several places runs once
	for _, ex := range examples {
		t.Run(ex.where+" "+ex.line, func(t *testing.T) {
			if err := checkFlags(t, ex, flagSets); err != nil {
				t.Errorf("%s (%s): %v", ex.line, ex.where, err)
			}
			if ex.why != "" {
				t.Logf("parsed only: needs %s", ex.why)
				return
			}
			if ran[ex.line] {
				t.Logf("ran above")
				return
			}
			ran[ex.line] = true
			if testing.Short() {
				t.Skip("-short: flags checked, command not run")
			}
			if ex.toCluster {
				code, out, errs := runFromRoot(t, root, append(ex.args, "--kubeconfig", kc))
				if code != exitUsage || !strings.Contains(errs, "API server https://127.0.0.1:1 is unreachable") {
					t.Errorf("%s: exit %d, want 2 at the unreachable API server (its arguments should get it there)\nstdout: %.2000s\nstderr: %.2000s", ex.line, code, out, errs)
				}
				return
			}
			code, out, errs := runFromRoot(t, root, ex.args)
			if code != exitOK {
				t.Errorf("%s: exit %d, want 0\nstdout: %.2000s\nstderr: %.2000s", ex.line, code, out, errs)
			}
		})
	}
}

// runFromRoot runs the CLI in-process the way a user at the repository
// root would, with no STATEX_ROOT, output files redirected to a temporary
// directory, and outside GitHub Actions.
func runFromRoot(t *testing.T, root string, args []string) (int, string, string) {
	t.Helper()
	t.Chdir(root)
	t.Setenv("STATEX_ROOT", "")
	t.Setenv("GITHUB_ACTIONS", "")
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	tmp := t.TempDir()
	args = append([]string(nil), args...)
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || !outputFlags[name] {
			continue
		}
		if hasValue {
			args[i] = "--" + name + "=" + filepath.Join(tmp, value)
		} else if i+1 < len(args) {
			args[i+1] = filepath.Join(tmp, args[i+1])
			i++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

var (
	fenceRE  = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	inlineRE = regexp.MustCompile("`(statex\\s[^`]+)`")
)

// docExamples finds statex commands in the READMEs: every line of a fenced
// block that runs statex (as "statex …" or "go run ./pipelines/cmd/statex
// …"), and every inline code span that is a statex command.
func docExamples(t *testing.T, root string) []example {
	t.Helper()
	var out []example
	for _, doc := range docs {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, m := range fenceRE.FindAllStringSubmatchIndex(text, -1) {
			first := strings.Count(text[:m[2]], "\n") + 1
			for i, line := range strings.Split(text[m[2]:m[3]], "\n") {
				for _, cmd := range commandsIn(line, true) {
					out = append(out, newExample(fmt.Sprintf("%s:%d", doc, first+i), cmd, "", false))
				}
			}
		}
		prose := fenceRE.ReplaceAllStringFunc(text, func(s string) string {
			return strings.Repeat("\n", strings.Count(s, "\n")) // keep line numbers
		})
		for _, m := range inlineRE.FindAllStringSubmatchIndex(prose, -1) {
			span := strings.Join(strings.Fields(prose[m[2]:m[3]]), " ")
			if strings.ContainsAny(span, "<>") { // `statex <verb> --help`: a pattern
				continue
			}
			line := strings.Count(prose[:m[2]], "\n") + 1
			for _, cmd := range commandsIn(span, true) {
				out = append(out, newExample(fmt.Sprintf("%s:%d", doc, line), cmd, "", true))
			}
		}
	}
	return out
}

// helpExamples finds the commands of every verb's --help: the Examples
// section is run like a README's, the Usage synopsis (placeholders,
// [optional] parts) only parsed.
func helpExamples(t *testing.T) []example {
	t.Helper()
	var out []example
	for _, c := range commands() {
		if c.name == "version" {
			continue
		}
		help := helpText(t, c.name)
		where := "statex " + c.name + " --help"
		section := ""
		var usage []string
		for _, line := range strings.Split(help, "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case !strings.HasPrefix(line, " ") && strings.HasSuffix(trimmed, ":"):
				section = trimmed
				continue
			case trimmed == "":
				if section == "Usage:" || section == "Examples:" {
					section = ""
				}
				continue
			}
			switch section {
			case "Examples:":
				for _, cmd := range commandsIn(line, true) {
					out = append(out, newExample(where, cmd, "", false))
				}
			case "Usage:":
				// A synopsis may continue on the next, indented line.
				if strings.HasPrefix(trimmed, "statex ") || len(usage) == 0 {
					usage = append(usage, trimmed)
				} else {
					usage[len(usage)-1] += " " + trimmed
				}
			}
		}
		if len(usage) == 0 {
			t.Errorf("%s has no Usage section", where)
		}
		for _, u := range usage {
			for _, cmd := range commandsIn(synopsis(u), false) {
				out = append(out, newExample(where, cmd, "nothing: a synopsis with placeholders", false))
			}
		}
	}
	return out
}

func helpText(t *testing.T, verb string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{verb, "--help"}, &out, &errb); code != exitOK {
		t.Fatalf("statex %s --help: exit %d: %s", verb, code, errb.String())
	}
	return out.String() + errb.String()
}

// synopsis turns a usage line into a command whose flags can be parsed:
// optional parts are kept, repetition marks and alternatives dropped.
func synopsis(u string) string {
	u = strings.NewReplacer("[", " ", "]", " ", "…", " ").Replace(u)
	return strings.Join(strings.Fields(u), " ")
}

// found is a statex command on a line; piped when it reads or feeds a
// pipe (it needs the other command too).
type found struct {
	cmd   string
	piped bool
}

// commandsIn returns the statex commands on a line, as written, without a
// trailing comment. With pipes, a "|" token separates commands.
func commandsIn(line string, pipes bool) []found {
	var out []found
	segs := splitUnquoted(stripComment(line), pipes)
	for _, seg := range segs {
		seg = strings.TrimSpace(seg)
		if rest, ok := strings.CutPrefix(seg, "go run ./pipelines/cmd/statex "); ok {
			seg = "statex " + rest
		}
		fields := tokens(seg)
		if len(fields) < 2 || fields[0] != "statex" {
			continue
		}
		if _, ok := verbOf(fields[1]); !ok {
			continue // "statex" as a word in prose
		}
		out = append(out, found{cmd: seg, piped: len(segs) > 1})
	}
	return out
}

func verbOf(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, name == "--help" || name == "-h" || name == "help"
}

// newExample classifies a command; inline, it may be a verb's name in
// prose ("`statex deploy` and `statex up`"), not a command to run.
func newExample(where string, f found, why string, inline bool) example {
	args := tokens(f.cmd)[1:]
	ex := example{where: where, line: f.cmd, args: args, why: why}
	if ex.why == "" && f.piped {
		ex.why = "the other side of its pipe"
	}
	if ex.why == "" && placeholders(args) {
		ex.why = "nothing: a pattern with placeholders"
	}
	if ex.why == "" && !asksHelp(args) {
		if n, ok := needs[args[0]]; ok {
			ex.why = n
		}
		if strings.Contains(f.cmd, "$") {
			ex.why = "a value from the shell"
		}
	}
	if ex.why == needs[args[0]] && unreachable[args[0]] && !(inline && len(args) == 1) {
		ex.why, ex.toCluster = "", true
	}
	return ex
}

var placeholderRE = regexp.MustCompile(`^[A-Z][A-Z_]+(…|\.\.\.)?$`)

// placeholders: a word in capitals (PATH…, ENV) stands for the reader's own.
func placeholders(args []string) bool {
	return slices.ContainsFunc(args, placeholderRE.MatchString)
}

func asksHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" || a == "help" {
			return true
		}
	}
	return false
}

// flagSpec is one flag of a verb, as its --help lists it.
type flagSpec struct{ name, kind string }

// checkFlags parses the example's arguments with a flag set rebuilt from
// the verb's own --help listing (names and value types), through the CLI's
// own parse: an unknown flag or subcommand, a missing value or a value of
// the wrong type is an error.
func checkFlags(t *testing.T, ex example, cache map[string][]flagSpec) error {
	t.Helper()
	args := ex.args
	verb := args[0]
	if asksHelp(args[:1]) {
		return nil
	}
	key := verb
	rest := args[1:]
	if subs, ok := subcommands[verb]; ok {
		if len(rest) > 0 && asksHelp(rest[:1]) {
			return nil
		}
		if len(rest) == 0 || !slices.Contains(subs, rest[0]) {
			return fmt.Errorf("%q is not a subcommand of %s (have %v)", strings.Join(rest[:min(1, len(rest))], ""), verb, subs)
		}
		key, rest = verb+" "+rest[0], rest[1:]
	}
	specs, ok := cache[key]
	if !ok {
		specs = listedFlags(t, key)
		cache[key] = specs
	}
	fs := flag.NewFlagSet(key, flag.ContinueOnError)
	var msg bytes.Buffer
	fs.SetOutput(&msg)
	// A placeholder (D, N, FILE) is no value of its type: a pattern's
	// values are taken as text, its flag names still checked.
	loose := placeholders(ex.args)
	for _, f := range specs {
		switch {
		case f.kind == "":
			fs.Bool(f.name, false, "")
		case loose:
			fs.String(f.name, "", "")
		case f.kind == "duration":
			fs.Duration(f.name, 0, "")
		case f.kind == "int" || f.kind == "number":
			fs.Int(f.name, 0, "")
		default:
			fs.String(f.name, "", "")
		}
	}
	if code := parse(fs, rest); code != -1 {
		return fmt.Errorf("flags do not parse for statex %s: %s", key, strings.TrimSpace(strings.SplitN(msg.String(), "\n", 2)[0]))
	}
	return nil
}

// The flag check is a judge: it must fail an example that is wrong.
func TestFlagCheckRejectsWrongExamples(t *testing.T) {
	cache := map[string][]flagSpec{}
	for line, wantErr := range map[string]bool{
		"statex deploy --env kind --dry-run --output json":   false,
		"statex drill --env kind --max-rto 20s --max-rpo 0s": false,
		"statex images build redis --refresh=false":          false,
		"statex cluster logs --dir out/logs":                 false,
		"statex render --env prod -o out/":                   false,
		"statex deploy --env kind --dry-rn":                  true, // a typo
		"statex check --env kind --services postgres":        true, // no such flag
		"statex drill --max-rto soon":                        true, // not a duration
		"statex deploy --env":                                true, // no value
		"statex cluster boot":                                true, // no such subcommand
		"statex images --force":                              true,
	} {
		err := checkFlags(t, newExample("test", found{cmd: line}, "", false), cache)
		if (err != nil) != wantErr {
			t.Errorf("%s: error %v, want an error: %v", line, err, wantErr)
		}
	}
}

// listedFlags reads a verb's flags from its --help (flag.PrintDefaults:
// "  -name type", the usage on the next line; one-letter names have it
// after a tab). No type means a boolean.
func listedFlags(t *testing.T, key string) []flagSpec {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), append(strings.Fields(key), "--help"), &out, &errb); code != exitOK {
		t.Fatalf("statex %s --help: exit %d", key, code)
	}
	var specs []flagSpec
	for _, line := range strings.Split(out.String()+errb.String(), "\n") {
		if !strings.HasPrefix(line, "  -") {
			continue
		}
		head, _, _ := strings.Cut(line, "\t")
		f := strings.Fields(head)
		spec := flagSpec{name: strings.TrimPrefix(f[0], "-")}
		if len(f) > 1 {
			spec.kind = f[1]
		}
		specs = append(specs, spec)
	}
	if len(specs) == 0 {
		t.Fatalf("statex %s --help lists no flags", key)
	}
	return specs
}

// stripComment cuts a shell comment (" #…" outside quotes).
func stripComment(line string) string {
	quote := rune(0)
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// splitUnquoted splits at " | " outside quotes when pipes is set.
func splitUnquoted(line string, pipes bool) []string {
	if !pipes {
		return []string{line}
	}
	var out []string
	quote, start := rune(0), 0
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '|' && (i == 0 || line[i-1] == ' ') && (i+1 == len(line) || line[i+1] == ' '):
			out = append(out, line[start:i])
			start = i + 1
		}
	}
	return append(out, line[start:])
}

// tokens splits like a POSIX shell for what the docs use: words, single
// and double quotes.
func tokens(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
