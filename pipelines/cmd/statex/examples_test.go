package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/statex/infrastructure/pipelines/internal/testrepo"
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
	"backup":  "a cluster and its backup site",
	"cluster": "Docker (kind)",
	"images":  "Docker",
}

// unreachable are the verbs whose examples run against a kubeconfig that
// points at a closed loopback port: everything before the cluster (flags,
// arguments, render, validate) runs for real, then exit 2 naming the API
// server is the only right answer.
var unreachable = map[string]bool{"deploy": true, "check": true, "drill": true, "backup": true}

// outputFlags write files: their values are moved under a fresh temporary
// directory (keeping the relative path, whose directories do not exist
// there, as on a fresh clone) so running an example writes nothing into
// the repository.
var outputFlags = map[string]bool{"output-dir": true, "junit": true, "sarif": true, "check-junit": true, "dir": true}

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
	root := testrepo.Root(t)
	examples := docExamples(t, root)
	examples = append(examples, helpExamples(t)...)
	if len(examples) < 40 {
		t.Fatalf("found only %d commands: is the extraction broken?", len(examples))
	}
	kc := deadKubeconfig(t)
	ran := map[string]bool{} // the same command in several places runs once
	for _, ex := range examples {
		t.Run(ex.where+" "+ex.line, func(t *testing.T) {
			if err := checkFlags(ex); err != nil {
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
	for _, name := range verbs() {
		help := helpText(t, name)
		where := "statex " + name + " --help"
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

// verbs are the CLI's own commands (not cobra's help and completion).
func verbs() []string {
	var out []string
	for _, c := range testRoot().Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			out = append(out, c.Name())
		}
	}
	return out
}

func verbOf(name string) (string, bool) {
	if name == "completion" || slices.Contains(verbs(), name) {
		return name, true
	}
	return "", name == "--help" || name == "-h" || name == "help"
}

// testRoot is the command tree, writing nowhere.
func testRoot() *cobra.Command {
	return (&app{stdout: io.Discard, stderr: io.Discard}).rootCommand()
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

// checkFlags parses the example's arguments against the real command's
// flags (names, shorthands and value types, the verb's own and the global
// ones): an unknown command, subcommand or flag, a missing value or a
// value of the wrong type is an error.
func checkFlags(ex example) error {
	args := ex.args
	if asksHelp(args[:1]) {
		return nil
	}
	root := testRoot()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root {
		return fmt.Errorf("%q is not a command", args[0])
	}
	if cmd.HasAvailableSubCommands() {
		if len(rest) > 0 && asksHelp(rest[:1]) {
			return nil
		}
		var subs []string
		for _, c := range cmd.Commands() {
			subs = append(subs, c.Name())
		}
		return fmt.Errorf("%q is not a subcommand of %s (have %v)", strings.Join(rest[:min(1, len(rest))], ""), cmd.Name(), subs)
	}
	fs := pflag.NewFlagSet(cmd.CommandPath(), pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// A placeholder (D, N, FILE) is no value of its type: a pattern's
	// values are taken as text, its flag names still checked.
	loose := placeholders(ex.args)
	mirror := func(f *pflag.Flag) {
		if fs.Lookup(f.Name) != nil {
			return
		}
		switch typ := f.Value.Type(); {
		case typ == "bool":
			fs.BoolP(f.Name, f.Shorthand, false, "")
		case loose:
			fs.StringP(f.Name, f.Shorthand, "", "")
		case typ == "duration":
			fs.DurationP(f.Name, f.Shorthand, 0, "")
		case typ == "int":
			fs.IntP(f.Name, f.Shorthand, 0, "")
		default:
			fs.StringArrayP(f.Name, f.Shorthand, nil, "")
		}
	}
	cmd.Flags().VisitAll(mirror)
	cmd.InheritedFlags().VisitAll(mirror)
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("flags do not parse for %s: %v", cmd.CommandPath(), err)
	}
	return nil
}

// The flag check is a judge: it must fail an example that is wrong.
func TestFlagCheckRejectsWrongExamples(t *testing.T) {
	for line, wantErr := range map[string]bool{
		"statex deploy --env kind --dry-run --output json":   false,
		"statex deploy --env kind --dry-run -o json":         false,
		"statex drill --env kind --max-rto 20s --max-rpo 0s": false,
		"statex images build redis --refresh=false":          false,
		"statex cluster logs --dir out/logs":                 false,
		"statex cluster kubeconfig --internal":               false,
		"statex render --env prod --output-dir out/":         false,
		"statex check --context kind-statex -v 2":            false,
		"statex version -o json":                             false,
		"statex deploy --env kind --dry-rn":                  true, // a typo
		"statex check --env kind --services postgres":        true, // no such flag
		"statex drill --max-rto soon":                        true, // not a duration
		"statex deploy --env":                                true, // no value
		"statex cluster boot":                                true, // no such subcommand
		"statex cluster logs --internal":                     true, // another subcommand's flag
		"statex images --force":                              true,
		"statex bogus":                                       true,
		"statex validate --namespace x":                      true, // not a cluster verb
	} {
		err := checkFlags(newExample("test", found{cmd: line}, "", false))
		if (err != nil) != wantErr {
			t.Errorf("%s: error %v, want an error: %v", line, err, wantErr)
		}
	}
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
