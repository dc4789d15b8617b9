// Command statex is the Statex infrastructure pipeline as a CLI. It is a
// thin skin: flags are parsed here and every verb is a call into a package
// under pipelines/, which the Dagger module and tests call the same way.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes shared by every verb.
const (
	exitOK       = 0
	exitFindings = 1 // the verb ran and found problems (validation errors, failed checks)
	exitUsage    = 2 // bad flags, unreadable input, infrastructure errors
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"render", "render an environment's manifests with kustomize and print their content hash", runRender},
		{"validate", "validate manifests offline: schema, policy and cross-references", runValidate},
		{"cluster", "create, inspect and delete the local kind cluster (up, down, status, logs, preflight)", runCluster},
		{"up", "one command: validate, build images, bring the kind cluster up, deploy", runUp},
		{"deploy", "deploy an environment in stages: apply, wait for readiness, prune, roll back", runDeploy},
		{"check", "check every service at protocol level (replication, queues, mail...)", runCheck},
		{"drill", "rehearse failures (leader/master crash) and measure RTO and RPO against gates", runDrill},
		{"images", "build the base, node and service images with no registry (images build)", runImages},
		{"version", "print the version", func(_ context.Context, _ []string, out, _ io.Writer) int {
			fmt.Fprintln(out, "statex", version)
			return exitOK
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `statex — build, validate and ship the Statex infrastructure to Kubernetes.

Usage:
  statex <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'statex <command> --help' for a command's flags and examples.
Exit codes: 0 success, 1 findings (validation errors), 2 usage or input errors.
`)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "statex: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// newFlags builds a flag set whose --help prints the command's own text.
func newFlags(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("statex "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse returns exitOK for --help (after printing it), exitUsage for bad
// flags, and -1 when the command should go on. Flags may follow positional
// arguments (statex validate FILE --output json), as users expect; "--"
// ends flag parsing. Positional arguments are left in positional.
func parse(fs *flag.FlagSet, args []string) int {
	var positional []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case err != nil:
			return exitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// flag stops at the first non-flag; "--" is consumed by Parse, so
		// everything after it arrives here and stays positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Re-parse nothing: hand the positional arguments back through Args().
	_ = fs.Parse(append([]string{"--"}, positional...))
	return -1
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
