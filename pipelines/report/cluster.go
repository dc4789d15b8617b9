package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/statex/infrastructure/pipelines/cluster"
)

// ClusterUpText says what cluster up did: the cluster, its node image, its
// kubeconfig and context, and each image load.
func ClusterUpText(w io.Writer, res *cluster.UpResult) error {
	verb := "ready"
	if res.Created {
		verb = "created and ready"
	}
	if _, err := fmt.Fprintf(w, "cluster %s %s in %.1fs (node image %s, %s)\nkubeconfig: %s\n", res.Name, verb, res.Seconds, res.NodeImage, res.NodeImageSource, res.Kubeconfig); err != nil {
		return err
	}
	if res.MergedInto != "" {
		fmt.Fprintf(w, "context %s merged into %s\n", cluster.ContextName(res.Name), res.MergedInto)
	}
	for _, l := range res.Images {
		fmt.Fprintf(w, "  image %-40s %s\n", l.Image, l.Status)
	}
	return nil
}

// ClusterStatusText is a cluster's health and a table of its nodes.
func ClusterStatusText(w io.Writer, st *cluster.Status) error {
	if !st.Exists {
		_, err := fmt.Fprintf(w, "cluster %s does not exist (statex cluster up creates it)\n", st.Name)
		return err
	}
	health := "healthy"
	if !st.Healthy {
		health = "NOT healthy"
	}
	kubeconfig := st.Kubeconfig
	if kubeconfig == "" {
		kubeconfig = "(none: run statex cluster up)"
	}
	fmt.Fprintf(w, "cluster %s: %s, node image %s\nkubeconfig: %s\n", st.Name, health, st.NodeImage, kubeconfig)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tCONTAINER\tREADY\tVERSION")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", n.Name, n.Role, n.Container, n.Ready, n.KubernetesVersion)
	}
	return tw.Flush()
}

// PreflightText is one line per check of the machine, with its fix.
func PreflightText(w io.Writer, checks []cluster.Check) error {
	for _, c := range checks {
		if _, err := fmt.Fprintf(w, "%-5s %-18s %s\n", c.Status, c.Name, c.Detail); err != nil {
			return err
		}
		if c.Fix != "" {
			fmt.Fprintf(w, "      %-18s fix: %s\n", "", c.Fix)
		}
	}
	return nil
}
