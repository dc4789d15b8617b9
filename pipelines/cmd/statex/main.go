// Command statex is the Statex infrastructure pipeline as a CLI. It is a
// thin skin: flags are parsed here (cobra, kubectl's conventions) and every
// verb is a call into a package under pipelines/, which the Dagger module
// and tests call the same way.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by every verb.
const (
	exitOK       = 0
	exitFindings = 1 // the verb ran and found problems (validation errors, failed checks)
	exitUsage    = 2 // bad flags, unreadable input, infrastructure errors
)

// version is set at build time with -ldflags "-X main.version=…"; "dev"
// falls back to what the Go build recorded (statex version).
var version = "dev"

// app is one invocation: where it writes, what the verb's exit code was,
// and the logger -v set up.
type app struct {
	stdout, stderr io.Writer
	code           int
	verbosity      int
	root           string // --root
	log            *slog.Logger
	warnings       *apiWarnings
}

// usageError is a command line the verb cannot run: run prints it with a
// pointer to --help and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	a.setupLogging() // before flags are parsed: a verb may log while parsing
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		// Flags, arguments and unknown commands (cobra's errors) and the
		// verbs' own usage errors: one line, then where the help is.
		path := "statex"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", path, err, path)
		return exitUsage
	}
	return a.code
}

// verb adapts a verb to cobra: its exit code is kept for run, a usage error
// goes back to cobra (and so to run, which prints it).
func (a *app) verb(fn func(cmd *cobra.Command, args []string) (int, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		code, err := fn(cmd, args)
		if err != nil {
			return err
		}
		a.code = code
		return nil
	}
}

func (a *app) rootCommand() *cobra.Command {
	// Verbs in pipeline order (render → … → drill), not alphabetical.
	cobra.EnableCommandSorting = false
	root := &cobra.Command{
		Use:           "statex",
		Short:         "build, validate and ship the Statex infrastructure to Kubernetes",
		SilenceErrors: true, // run prints errors, once, on stderr
		SilenceUsage:  true,
		// No arguments: the overview on stderr and exit 2, as for any
		// command line that does nothing.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				usage(a.stderr, cmd)
				a.code = exitUsage
			}
			return nil
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.verbosity < 0 {
				return usagef("-v %d: want 0 or more", a.verbosity)
			}
			a.setupLogging()
			return nil
		},
	}
	root.PersistentFlags().IntVarP(&a.verbosity, "verbosity", "v", 0, "log level N, as kubectl's -v: client-go's and controller-runtime's logs at V(N) and below (0: warnings, errors and their info lines)")
	root.PersistentFlags().StringVar(&a.root, "root", "", "repository root (default: $STATEX_ROOT, else found from the working directory)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { help(c.OutOrStdout(), c) })
	root.AddCommand(
		a.renderCommand(),
		a.validateCommand(),
		a.clusterCommand(),
		a.upCommand(),
		a.deployCommand(),
		a.checkCommand(),
		a.drillCommand(),
		a.backupCommand(),
		a.imagesCommand(),
		a.versionCommand(),
	)
	return root
}

// usage is the overview: every verb with its summary.
func usage(w io.Writer, root *cobra.Command) {
	fmt.Fprint(w, `statex — build, validate and ship the Statex infrastructure to Kubernetes.

Usage:
  statex <command> [flags]

Commands:
`)
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			fmt.Fprintf(w, "  %-10s %s\n", c.Name(), c.Short)
		}
	}
	fmt.Fprint(w, `
Global flags:
`+root.PersistentFlags().FlagUsages()+`
Run 'statex <command> --help' for a command's flags and examples.
Shell completion: statex completion bash|zsh|fish --help.
Exit codes: 0 success, 1 findings (validation errors, failed checks), 2 usage
or input errors, or an unreachable cluster.
`)
}

// help prints a command's manual (its Long text, which has the Usage and
// Examples sections) and its flags, on stdout.
func help(w io.Writer, c *cobra.Command) {
	if !c.HasParent() {
		usage(w, c)
		return
	}
	text := c.Long
	if text == "" {
		text = c.Short
	}
	fmt.Fprintln(w, strings.TrimRight(text, "\n"))
	if !strings.Contains(text, "Usage:") {
		fmt.Fprintf(w, "\nUsage:\n  %s\n", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-12s %s\n", s.Name(), s.Short)
			}
		}
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprint(w, "\nFlags:\n"+c.LocalFlags().FlagUsages())
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprint(w, "\nGlobal flags:\n"+c.InheritedFlags().FlagUsages())
	}
}

// group is a command that only holds subcommands (cluster, images): alone
// it prints its help on stderr and exits 2; an unknown subcommand is a
// usage error.
func (a *app) group(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				var names []string
				for _, s := range cmd.Commands() {
					if s.IsAvailableCommand() {
						names = append(names, s.Name())
					}
				}
				return usagef("unknown subcommand %q (have: %s)", args[0], strings.Join(names, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			help(a.stderr, cmd)
			a.code = exitUsage
			return nil
		},
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
