package pipeline

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/statex/infrastructure/pipelines/cluster"
	"github.com/statex/infrastructure/pipelines/deploy"
	"github.com/statex/infrastructure/pipelines/manifest"
	"github.com/statex/infrastructure/pipelines/offsite"
	"github.com/statex/infrastructure/pipelines/target"
)

// StepBackupSite names the step that runs and sets up a kind
// environment's backup site.
const StepBackupSite = "backup-site"

// BackupSite starts a kind target's backup site beside its cluster (its
// container joins the kind Docker network, which the cluster made) and
// makes its buckets. A target without a site of the pipeline's is left
// alone.
func BackupSite(ctx context.Context, t *target.Target) error {
	if t.Backup == nil || t.Backup.Offsite == nil {
		return nil
	}
	site := t.Backup.Offsite
	// The site may have been removed since cluster up (docker rm): bring
	// it back before registering.
	if err := site.Start(ctx); err != nil {
		return err
	}
	if err := site.Start(ctx); err != nil {
		return &Error{Step: StepBackupSite, Findings: true, Err: err}
	}
	if err := offsite.EnsureBuckets(ctx, site.Exec(), &t.Backup.Backup); err != nil {
		return &Error{Step: StepBackupSite, Findings: true, Err: fmt.Errorf("%s: %w", site.Container, err)}
	}
	return nil
}

// Deploy deploys a validated set and then, for a target whose backup site
// the pipeline runs, gives each backup job its user at the site with the
// key deploy keeps in the credentials Secret (made once; made again with
// the namespace). A dry run, or a deploy that failed, registers nothing.
func Deploy(ctx context.Context, t *target.Target, opts deploy.Options) (*deploy.Result, error) {
	opts.Target = t
	if t.Backup != nil && t.Backup.Offsite != nil && !opts.DryRun {
		// The site's CA goes into the namespace (ConfigMap backup-ca)
		// before any backup client starts. Only files here: nothing runs
		// before deploy has reached the cluster.
		site := t.Backup.Offsite
		ca, err := site.CA()
		if err != nil {
			return nil, &Error{Step: StepBackupSite, Findings: true, Err: err}
		}
		if opts.RuntimeConfigMaps == nil {
			opts.RuntimeConfigMaps = map[string]map[string]string{}
		}
		opts.RuntimeConfigMaps[manifest.BackupCAConfigMap] = map[string]string{"ca.crt": string(ca)}
	}
	res, err := deploy.Deploy(ctx, opts)
	if err != nil || opts.DryRun || t.Backup == nil || t.Backup.Offsite == nil {
		return res, err
	}
	if err := registerBackupJobs(ctx, t); err != nil {
		return res, &Error{Step: StepBackupSite, Findings: true, Err: err}
	}
	if opts.Progress != nil {
		opts.Progress(deploy.Event{Stage: StepBackupSite, Message: fmt.Sprintf("%d backup jobs have their own user at %s", len(offsite.Jobs)+1, t.Backup.Offsite.Container)})
	}
	return res, nil
}

func registerBackupJobs(ctx context.Context, t *target.Target) error {
	cfg, err := t.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	sec, err := cs.CoreV1().Secrets(t.Namespace).Get(ctx, t.Backup.CredentialsSecret, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("backup credentials: %w", err)
	}
	keys := map[string]string{}
	for k, v := range sec.Data {
		keys[k] = string(v)
	}
	site := t.Backup.Offsite
	// The site may have been removed since cluster up (docker rm): bring
	// it back before registering.
	if err := site.Start(ctx); err != nil {
		return err
	}
	if err := offsite.EnsureBuckets(ctx, site.Exec(), &t.Backup.Backup); err != nil {
		return err
	}
	return offsite.EnsureJobs(ctx, site.Exec(), &t.Backup.Backup, keys)
}

// ClusterDown deletes a kind target's cluster. Its backup site stays (it
// is the other site: backups must outlive the cluster) unless
// deleteBackups, which removes the site with its data and credentials.
// It reports whether there was a cluster, and a site, to delete.
func ClusterDown(ctx context.Context, t *target.Target, deleteBackups bool) (clusterDeleted, siteDeleted bool, err error) {
	if t.Kind == nil {
		return false, false, &Error{Step: StepCluster, Err: fmt.Errorf("environment %q targets kube context %q, not a kind cluster the pipeline manages", t.Name, t.Context)}
	}
	clusterDeleted, err = cluster.Down(ctx, t.Kind.Cluster, t.Kind.Kubeconfig)
	if err != nil {
		return clusterDeleted, false, &Error{Step: StepCluster, Findings: true, Err: err}
	}
	if deleteBackups && t.Backup != nil && t.Backup.Offsite != nil {
		if err := t.Backup.Offsite.Remove(ctx, true); err != nil {
			return clusterDeleted, false, &Error{Step: StepBackupSite, Findings: true, Err: err}
		}
		siteDeleted = true
	}
	return clusterDeleted, siteDeleted, nil
}
