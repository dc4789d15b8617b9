package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/images"
	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/report"
)

const clusterHelp = `Manage the environment's local kind cluster (kind's Go library, Docker).

Usage:
  statex cluster up     [--env kind] [--node-image IMAGE] [--no-load] [--output text|json]
  statex cluster down   [--env kind]
  statex cluster status [--env kind] [--output text|json]
  statex cluster logs   [--env kind] [--dir DIR]
  statex cluster preflight [--output text|json]

up is idempotent: it creates the cluster if missing (starting stopped nodes
otherwise), writes its kubeconfig, waits for nodes, system pods and a
default StorageClass, and loads every locally built service image. On a
healthy cluster it returns in seconds.

The node image is --node-image, else an upstream kindest/node image already
on this machine, else the offline build (statex images build kind-node),
else upstream when its registry resolves. STATEX_OFFLINE=1 never probes.

The kubeconfig goes to ~/.config/statex/kubeconfig-<cluster> (--kubeconfig
to change); later verbs find it there.

Exit codes: 0 done (status: healthy), 1 a step failed or the cluster is not
healthy (or does not exist), 2 usage errors, or (status) a cluster whose API
server cannot be reached through its kubeconfig.
`

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, clusterHelp)
		return exitUsage
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, clusterHelp)
		return exitOK
	case "up", "down", "status", "logs", "preflight":
	default:
		fmt.Fprintf(stderr, "statex cluster: unknown subcommand %q\n\n%s", sub, clusterHelp)
		return exitUsage
	}
	fs := newFlags("cluster "+sub, clusterHelp, stderr)
	envName := fs.String("env", "kind", "environment whose kind cluster to manage")
	nodeImage := fs.String("node-image", "", "node image to create the cluster from (default: detected)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig to write/read (default ~/.config/statex/kubeconfig-<cluster>)")
	noLoad := fs.Bool("no-load", false, "do not load the service images into the nodes")
	retain := fs.Bool("retain", false, "up: keep the nodes of a failed create for inspection")
	format := fs.String("output", "text", "text or json")
	dir := fs.String("dir", "", "logs: directory to export into (default out/cluster-logs-<cluster>)")
	timeout := fs.Duration("timeout", 5*time.Minute, "up: how long to wait for readiness")
	root := fs.String("root", "", "repository root (default: found from the working directory)")
	if code := parse(fs, args[1:]); code >= 0 {
		return code
	}
	if sub == "preflight" {
		checks := cluster.Preflight(ctx)
		printChecks(stdout, *format, checks)
		if cluster.Failed(checks) {
			return exitFindings
		}
		return exitOK
	}
	repo, envs, err := loadRepo(*root)
	if err != nil {
		fmt.Fprintln(stderr, "statex cluster:", err)
		return exitUsage
	}
	env, err := envs.Get(*envName)
	if err != nil {
		fmt.Fprintln(stderr, "statex cluster:", err)
		return exitUsage
	}
	if env.Target.Kind == nil {
		fmt.Fprintf(stderr, "statex cluster: environment %q targets kube context %q, not a kind cluster the pipeline manages\n", env.Name, env.Target.Context)
		return exitUsage
	}
	name := env.Target.Kind.Cluster
	progress := func(e cluster.Event) { fmt.Fprintf(stderr, "cluster: %-60s (%.1fs)\n", e.Step, e.Elapsed.Seconds()) }

	switch sub {
	case "up":
		opts := cluster.Options{Name: name, NodeImage: *nodeImage, Kubeconfig: *kubeconfig, ReadyTimeout: *timeout, Retain: *retain, Progress: progress,
			InternalAPI: os.Getenv("STATEX_KIND_API") == "internal"}
		specs, _ := images.Discover(filepath.Join(repo, "images"))
		for _, s := range specs {
			switch {
			case s.Name == "kind-node":
				opts.OfflineNodeImage = s.Tag
			case !*noLoad && s.Kind == images.KindDockerfile && !strings.HasPrefix(s.Name, "kind-"):
				opts.Images = append(opts.Images, s.Tag)
			}
		}
		res, err := cluster.Up(ctx, opts)
		if *format == "json" {
			_ = report.WriteJSON(stdout, res)
		} else if res != nil {
			verb := "ready"
			if res.Created {
				verb = "created and ready"
			}
			fmt.Fprintf(stdout, "cluster %s %s in %.1fs (node image %s, %s)\nkubeconfig: %s\n", res.Name, verb, res.Seconds, res.NodeImage, res.NodeImageSource, res.Kubeconfig)
			for _, l := range res.Images {
				fmt.Fprintf(stdout, "  image %-40s %s\n", l.Image, l.Status)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "statex cluster up:", err)
			return exitFindings
		}
	case "down":
		deleted, err := cluster.Down(ctx, name, *kubeconfig)
		if err != nil {
			fmt.Fprintln(stderr, "statex cluster down:", err)
			return exitFindings
		}
		if deleted {
			fmt.Fprintf(stdout, "cluster %s deleted\n", name)
		} else {
			fmt.Fprintf(stdout, "cluster %s does not exist: nothing to do\n", name)
		}
	case "status":
		st, err := cluster.GetStatus(ctx, name, *kubeconfig)
		if err != nil {
			fmt.Fprintln(stderr, "statex cluster status:", err)
			return exitFindings
		}
		if *format == "json" {
			_ = report.WriteJSON(stdout, st)
		} else {
			printStatus(stdout, st)
		}
		// Nodes "not ready" could mean a stopped node or an API server
		// nobody can reach; the second is not a finding about the nodes.
		if st.Exists && st.Kubeconfig != "" {
			if err := apiReachable(ctx, st.Kubeconfig); err != nil {
				fmt.Fprintln(stderr, "statex cluster status:", err)
				return exitUsage
			}
		}
		if !st.Healthy {
			return exitFindings
		}
	case "logs":
		out := *dir
		if out == "" {
			out = filepath.Join("out", "cluster-logs-"+name)
		}
		if err := cluster.ExportLogs(ctx, name, out); err != nil {
			fmt.Fprintln(stderr, "statex cluster logs:", err)
			return exitFindings
		}
		fmt.Fprintf(stdout, "logs of %s exported to %s\n", name, out)
	}
	return exitOK
}

func printStatus(w io.Writer, st *cluster.Status) {
	if !st.Exists {
		fmt.Fprintf(w, "cluster %s does not exist (statex cluster up creates it)\n", st.Name)
		return
	}
	health := "healthy"
	if !st.Healthy {
		health = "NOT healthy"
	}
	fmt.Fprintf(w, "cluster %s: %s, node image %s\nkubeconfig: %s\n", st.Name, health, st.NodeImage, orNone(st.Kubeconfig))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tCONTAINER\tREADY\tVERSION")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", n.Name, n.Role, n.Container, n.Ready, n.KubernetesVersion)
	}
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none: run statex cluster up)"
	}
	return s
}

func printChecks(w io.Writer, format string, checks []cluster.Check) {
	if format == "json" {
		_ = report.WriteJSON(w, checks)
		return
	}
	for _, c := range checks {
		fmt.Fprintf(w, "%-5s %-18s %s\n", c.Status, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "      %-18s fix: %s\n", "", c.Fix)
		}
	}
}

// apiReachable probes the API server a kubeconfig points at.
func apiReachable(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return kube.Reachable(ctx, cfg)
}
