package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/pipeline"
	"github.com/statex/infrastructure/pipelines/report"
	"github.com/statex/infrastructure/pipelines/target"
)

const clusterHelp = `Manage the environment's local kind cluster (kind's Go library, Docker).

Usage:
  statex cluster up     [--env kind] [--node-image IMAGE] [--no-load] [--output text|json]
  statex cluster down   [--env kind] [--delete-backups]
  statex cluster status [--env kind] [--output text|json] [--kubeconfig FILE] [--context NAME]
  statex cluster logs   [--env kind] [--dir DIR]
  statex cluster preflight [--output text|json]
  statex cluster kubeconfig [--env kind] [--internal]

up is idempotent: it creates the cluster if missing (starting stopped nodes
otherwise), writes its kubeconfig, waits for nodes, system pods and a
default StorageClass, and loads every locally built service image. On a
healthy cluster it returns in seconds. For an environment whose backup site
is "kind" (manifests/environments.yaml), up also runs the site: a MinIO of
the project's image in container <cluster>-offsite on the kind Docker
network, data in Docker volume <cluster>-offsite-data, root credentials in
~/.config/statex/offsite-<cluster>.env (never printed), with its backup
bucket versioned and object-locked. down keeps the site, so backups
outlive the cluster; down --delete-backups removes it with its data.

The node image is --node-image, else an upstream kindest/node image already
on this machine, else the offline build (statex images build kind-node),
else upstream when its registry resolves. STATEX_OFFLINE=1 never probes.

The kubeconfig goes to ~/.config/statex/kubeconfig-<cluster> (--kubeconfig
to change); later verbs find it there. As kind does, up also merges it into
$KUBECONFIG (else ~/.kube/config) as context kind-<cluster>, made current,
every other context kept; down removes it again. kubeconfig prints it:
with --internal the API server is the control plane's address on the kind
Docker network, for a container on that network (CI's drill step).

Examples:
  statex cluster up
  statex cluster kubeconfig --internal > kubeconfig
  kubectl --context kind-statex get nodes

Exit codes: 0 done (status: healthy), 1 a step failed or the cluster is not
healthy (or does not exist), 2 usage errors, or (status) a cluster whose API
server cannot be reached through its kubeconfig.
`

func (a *app) clusterCommand() *cobra.Command {
	group := a.group("cluster", "create, inspect and delete the local kind cluster (up, down, status, logs, preflight, kubeconfig)", clusterHelp)
	var envName string
	sub := func(use, short string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Long: clusterHelp, Args: cobra.NoArgs}
		if use != "preflight" {
			a.addEnv(c, &envName, defaultEnv, "environment whose kind cluster to manage")
		}
		group.AddCommand(c)
		return c
	}

	var (
		nodeImage, kubeconfig, format, dir string
		noLoad, retain, internal           bool
		timeout                            time.Duration
	)
	statexKubeconfig := func(c *cobra.Command) {
		c.Flags().StringVar(&kubeconfig, "kubeconfig", "", "the cluster's own kubeconfig, to write/read (default ~/.config/statex/kubeconfig-<cluster>)")
	}

	up := sub("up", "create the cluster (or start it), wait for readiness, load the images, merge its kubeconfig")
	up.Flags().StringVar(&nodeImage, "node-image", "", "node image to create the cluster from (default: detected)")
	up.Flags().BoolVar(&noLoad, "no-load", false, "do not load the service images into the nodes")
	up.Flags().BoolVar(&retain, "retain", false, "keep the nodes of a failed create for inspection")
	up.Flags().DurationVar(&timeout, "timeout", clusterTimeout, "how long to wait for readiness")
	statexKubeconfig(up)
	addOutput(up, &format, formatText, []string{formatText, formatJSON}, "output format")
	up.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		if err := checkOutput(format, []string{formatText, formatJSON}); err != nil {
			return 0, err
		}
		t, code := a.kindTarget(envName, kubeconfig)
		if code >= 0 {
			return code, nil
		}
		res, err := pipeline.Cluster(cmd.Context(), t, pipeline.ClusterOptions{NodeImage: nodeImage, NoLoad: noLoad, Retain: retain,
			ReadyTimeout: timeout, Progress: report.ClusterProgress(a.stderr), Warn: a.warn})
		if format == formatJSON {
			_ = report.WriteJSON(a.stdout, res)
		} else if res != nil {
			_ = report.ClusterUpText(a.stdout, res)
		}
		if err != nil {
			fmt.Fprintln(a.stderr, "statex cluster up:", err)
			return exitFindings, nil
		}
		return exitOK, nil
	})

	down := sub("down", "delete the cluster, its kubeconfig and its context in $KUBECONFIG (the backup site stays)")
	statexKubeconfig(down)
	var deleteBackups bool
	down.Flags().BoolVar(&deleteBackups, "delete-backups", false, "also remove the backup site with every backup it holds (they are kept by default: they must outlive the cluster)")
	down.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		t, code := a.kindTarget(envName, kubeconfig)
		if code >= 0 {
			return code, nil
		}
		name := t.Kind.Cluster
		deleted, siteDeleted, err := pipeline.ClusterDown(cmd.Context(), t, deleteBackups)
		if deleted {
			fmt.Fprintf(a.stdout, "cluster %s deleted\n", name)
		} else if err == nil {
			fmt.Fprintf(a.stdout, "cluster %s does not exist: nothing to do\n", name)
		}
		if err != nil {
			return a.stepFailed("cluster down", err), nil
		}
		switch {
		case siteDeleted:
			fmt.Fprintf(a.stdout, "backup site %s deleted, with its backups\n", t.Backup.Offsite.Container)
		case t.Backup != nil && t.Backup.Offsite != nil:
			fmt.Fprintf(a.stdout, "backup site %s kept (--delete-backups removes it)\n", t.Backup.Offsite.Container)
		}
		return exitOK, nil
	})

	status := sub("status", "report the cluster's nodes and whether its API server answers")
	var statusFormat string
	addOutput(status, &statusFormat, formatText, []string{formatText, formatJSON}, "output format")
	kf := a.addKubeFlags(status)
	status.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		if err := checkOutput(statusFormat, []string{formatText, formatJSON}); err != nil {
			return 0, err
		}
		t, err := a.resolve(envName, kf)
		if err != nil {
			fmt.Fprintln(a.stderr, "statex cluster status:", err)
			return exitUsage, nil
		}
		st, err := pipeline.ClusterStatus(cmd.Context(), t)
		if st != nil {
			if statusFormat == formatJSON {
				_ = report.WriteJSON(a.stdout, st)
			} else {
				_ = report.ClusterStatusText(a.stdout, st)
			}
		}
		if err != nil {
			return a.stepFailed("cluster status", err), nil
		}
		return exitOK, nil
	})

	logs := sub("logs", "export the nodes' logs (journal, containerd, kubelet, pods)")
	logs.Flags().StringVar(&dir, "dir", "", "directory to export into (default out/cluster-logs-<cluster>)")
	_ = logs.MarkFlagDirname("dir")
	logs.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		t, code := a.kindTarget(envName, "")
		if code >= 0 {
			return code, nil
		}
		name := t.Kind.Cluster
		out := dir
		if out == "" {
			out = filepath.Join("out", "cluster-logs-"+name)
		}
		if err := cluster.ExportLogs(cmd.Context(), name, out); err != nil {
			fmt.Fprintln(a.stderr, "statex cluster logs:", err)
			return exitFindings, nil
		}
		fmt.Fprintf(a.stdout, "logs of %s exported to %s\n", name, out)
		return exitOK, nil
	})

	preflight := sub("preflight", "check that this machine can run kind (Docker, cgroups, limits)")
	var preflightFormat string
	addOutput(preflight, &preflightFormat, formatText, []string{formatText, formatJSON}, "output format")
	preflight.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		if err := checkOutput(preflightFormat, []string{formatText, formatJSON}); err != nil {
			return 0, err
		}
		checks := cluster.Preflight(cmd.Context())
		if preflightFormat == formatJSON {
			_ = report.WriteJSON(a.stdout, checks)
		} else {
			_ = report.PreflightText(a.stdout, checks)
		}
		if cluster.Failed(checks) {
			return exitFindings, nil
		}
		return exitOK, nil
	})

	kc := sub("kubeconfig", "print the cluster's kubeconfig (--internal: for a container on the kind network)")
	kc.Flags().BoolVar(&internal, "internal", false, "the API server at the control plane's address on the kind Docker network, not this host's port")
	kc.RunE = a.verb(func(cmd *cobra.Command, _ []string) (int, error) {
		t, code := a.kindTarget(envName, "")
		if code >= 0 {
			return code, nil
		}
		name := t.Kind.Cluster
		cfg, err := cluster.Kubeconfig(cmd.Context(), name, internal)
		if err != nil {
			fmt.Fprintf(a.stderr, "statex cluster kubeconfig: cluster %s: %v\n", name, err)
			return exitFindings, nil
		}
		fmt.Fprint(a.stdout, cfg)
		return exitOK, nil
	})
	return group
}

// kindTarget resolves an environment whose kind cluster the verb manages,
// with the cluster's own kubeconfig at kubeconfig when given; code is
// exitUsage (after saying why) for an environment that has no kind
// cluster, -1 to go on.
func (a *app) kindTarget(envName, kubeconfig string) (*target.Target, int) {
	repo, err := a.repo()
	if err == nil {
		var t *target.Target
		if t, err = repo.Resolve(envName, target.Kubectl{Kubeconfig: kubeconfig, Warnings: a.warnings}); err == nil {
			return t, notKind(a.stderr, t)
		}
	}
	fmt.Fprintln(a.stderr, "statex cluster:", err)
	return nil, exitUsage
}

// notKind says why a target without a kind cluster cannot be managed and
// returns exitUsage, or -1 for a kind target.
func notKind(stderr io.Writer, t *target.Target) int {
	if t.Kind != nil {
		return -1
	}
	fmt.Fprintf(stderr, "statex cluster: environment %q targets kube context %q, not a kind cluster the pipeline manages\n", t.Name, t.Context)
	return exitUsage
}
