package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/statex/infrastructure/pipelines/backup"
	"github.com/statex/infrastructure/pipelines/report"
)

const backupHelp = `Take every service's backup now and prove it: a Job from the service's
CronJob (exactly what the schedule runs), then its backup found at the
environment's backup site and read back whole, as the job's own user (key
from Secret backup-credentials). With --list nothing is taken: what the
site holds is listed, newest first with size and age, and a service whose
newest backup is missing, empty or older than its schedule allows FAILs.

The backup site is the environment's backup: in manifests/environments.yaml
(kind: the MinIO beside the cluster that 'statex cluster up' runs).

Services:
%s
Usage:
  statex backup [--env ENV] [SERVICE…] [--list] [--output text|json|markdown] [--junit FILE]
                [--timeout D] [--kubeconfig FILE] [--context NAME]

Examples:
  statex backup --env kind
  statex backup --env kind redis rabbitmq -o json
  statex backup --env kind --list

Exit codes: 0 every backup passed (or was skipped with its reason), 1 a
backup failed, 2 usage errors, a report file that cannot be written, an
unreachable cluster or backup site.
`

func backupServices() string {
	var b strings.Builder
	for _, j := range backup.Jobs {
		fmt.Fprintf(&b, "  %-14s CronJob %s, as backup-%s under %s\n", j.Service, j.CronJob, j.User, j.Prefix)
	}
	return b.String()
}

func (a *app) backupCommand() *cobra.Command {
	var (
		envName, format, junit string
		list, gh               bool
		timeout                time.Duration
	)
	cmd := &cobra.Command{
		Use: "backup [SERVICE…]", Short: "take backups now, find them at the backup site and read them back (--list: only list and judge)",
		Long:              fmt.Sprintf(backupHelp, backupServices()),
		ValidArgsFunction: completeNames(backup.Services),
	}
	fl := cmd.Flags()
	a.addEnv(cmd, &envName, defaultEnv, "environment whose backups to take")
	addOutput(cmd, &format, formatText, reportFormats, "report format on stdout")
	fl.StringVar(&junit, "junit", "", "also write a JUnit XML report to FILE")
	fl.BoolVar(&list, "list", false, "take nothing: list what the site holds and judge it (missing, empty or stale FAILs)")
	fl.DurationVar(&timeout, "timeout", backup.DefaultTimeout, "how long one service's backup Job may take")
	fl.BoolVar(&gh, "github", os.Getenv("GITHUB_ACTIONS") == "true", "write a GitHub Actions step summary")
	kube := a.addKubeFlags(cmd)
	cmd.RunE = a.verb(func(cmd *cobra.Command, args []string) (int, error) {
		if err := checkOutput(format, reportFormats); err != nil {
			return 0, err
		}
		for _, s := range args {
			if !slices.Contains(backup.Services(), s) {
				return 0, usagef("no backup for service %q (have: %s)", s, strings.Join(backup.Services(), ", "))
			}
		}
		if code := preflightReports("backup", a.stderr, reportFile{"junit", junit}); code >= 0 {
			return code, nil
		}
		t, err := a.resolve(envName, kube)
		if err != nil {
			fmt.Fprintln(a.stderr, "statex backup:", err)
			return exitUsage, nil
		}
		rep, err := backup.Run(cmd.Context(), backup.Options{Target: t, Services: args, List: list, Timeout: timeout,
			Progress: report.BackupProgress(a.stderr)})
		if err != nil {
			fmt.Fprintln(a.stderr, "statex backup:", err)
			return exitUsage, nil
		}
		rep.Warnings = a.warnings.list()
		return a.emitVerdicts("backup", format, junit, gh, verdictReport{
			value:    rep,
			text:     func(w io.Writer, st report.Style) error { return report.BackupText(w, rep, st) },
			markdown: func() string { return report.BackupMarkdown(rep) },
			junit:    func(w io.Writer) error { return report.BackupJUnit(w, rep) },
			failed:   rep.FailedSubjects(),
		}, a.stdout), nil
	})
	return cmd
}
