// Package backup is the backup verb: take each service's backup now (a Job
// from its CronJob, exactly what the schedule runs), then find it at the
// environment's backup site and read it back, as the job's own user; or,
// with List, only show what the site holds, judged stale when the newest
// backup is older than its schedule allows. A backup that is missing,
// empty, unreadable or stale is a failure.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statex/infrastructure/pipelines/kube"
	"github.com/statex/infrastructure/pipelines/offsite"
	"github.com/statex/infrastructure/pipelines/poll"
	"github.com/statex/infrastructure/pipelines/target"
	"github.com/statex/infrastructure/pipelines/verdict"
)

// Job is one backup the platform takes: the CronJob that takes it, the
// user it writes as, where under the bucket it writes, and how old its
// newest backup may be (its schedule plus slack).
type Job struct {
	Service, CronJob, User, Prefix string
	MaxAge                         time.Duration
}

// daily is a nightly job's allowance: a day and the run's own time.
const daily = 26 * time.Hour

// Jobs are the platform's backup jobs (PostgreSQL's continuous archive
// comes with pgBackRest).
var Jobs = []Job{
	{"redis", "redis-backup", "redis", "redis/", daily},
	{"rabbitmq", "rabbitmq-backup", "rabbitmq", "rabbitmq/", daily},
	{"grafana", "grafana-backup", "grafana", "grafana/", daily},
	{"mail-db", "mail-db-backup", "mail-db", "mail-db/", daily},
	{"maildir", "mail-maildir-backup", "maildir", "maildir/", daily},
	{"elasticsearch", "elasticsearch-snapshot", "elasticsearch", "elasticsearch/", daily},
}

// Services names the jobs' services, in order.
func Services() []string {
	var out []string
	for _, j := range Jobs {
		out = append(out, j.Service)
	}
	return out
}

// Object is one backup at the site.
type Object struct {
	Key        string  `json:"key"`
	Bytes      int64   `json:"bytes"`
	AgeSeconds float64 `json:"ageSeconds"`
	VersionID  string  `json:"versionId,omitempty"`
}

// Result is one service's backup.
type Result struct {
	Service string          `json:"service"`
	Verdict verdict.Verdict `json:"verdict"`
	Reason  string          `json:"reason,omitempty"`
	Steps   []verdict.Step  `json:"steps"`
	// Backups are what the site holds for the service, newest first.
	Backups []Object `json:"backups"`
	Seconds float64  `json:"seconds"`
}

// Subject and Judged make a Result a verdict.Outcome.
func (r Result) Subject() string         { return r.Service }
func (r Result) Judged() verdict.Verdict { return r.Verdict }

// Report is a backup run over an environment.
type Report = verdict.Report[Result]

// DefaultTimeout bounds one service's backup Job.
const DefaultTimeout = 10 * time.Minute

// Options configure a run.
type Options struct {
	Target *target.Target
	// Services limits the run (empty: all).
	Services []string
	// List only lists and judges what the site holds; nothing is taken.
	List bool
	// Timeout bounds each Job (default DefaultTimeout).
	Timeout  time.Duration
	Progress func(Result)
}

// Run takes (or, with List, lists) the backups and judges them; an error
// means nothing could be judged (no target, an unreachable cluster).
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	for _, s := range opts.Services {
		if !slices.Contains(Services(), s) {
			return nil, fmt.Errorf("no backup for service %q (have: %s)", s, strings.Join(Services(), ", "))
		}
	}
	t := opts.Target
	if t == nil {
		return nil, errors.New("backup: a target is required")
	}
	if t.Backup == nil {
		return nil, fmt.Errorf("environment %s declares no backup target (backup: in manifests/environments.yaml)", t.Name)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	cfg, err := t.RESTConfig()
	if err != nil {
		return nil, err
	}
	if err := kube.Reachable(ctx, cfg); err != nil {
		return nil, err
	}
	c, err := kube.NewCluster(cfg, t.Namespace)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	site, err := siteEndpoint(ctx, t)
	if err != nil {
		return nil, err
	}
	rep := &Report{Env: t.Name, Namespace: t.Namespace, RunID: verdict.NewRunID()}
	for _, job := range Jobs {
		if len(opts.Services) > 0 && !slices.Contains(opts.Services, job.Service) {
			continue
		}
		r := runJob(ctx, c, t, job, site, rep.RunID, opts)
		r.Reason = c.Scrubber().String(r.Reason)
		verdict.Scrub(r.Steps, c.Scrubber().String)
		rep.Add(r)
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	rep.Seconds = verdict.Seconds(time.Since(start))
	return rep, nil
}

// siteAccess is how this machine reaches the site: a kind site through
// the port it publishes here (or, from a container on the kind network,
// STATEX_KIND_API=internal, by its name there), over TLS trusting the
// site's own CA; an external one at its URL.
type siteAccess struct {
	hostport  string
	secure    bool
	transport http.RoundTripper // nil: the system's roots
}

func siteEndpoint(ctx context.Context, t *target.Target) (siteAccess, error) {
	if site := t.Backup.Offsite; site != nil {
		tr, err := site.TLS.Transport()
		if err != nil {
			return siteAccess{}, fmt.Errorf("backup site %s: %w (statex cluster up --env %s makes it)", site.Container, err, t.Name)
		}
		if t.Kind != nil && t.Kind.InternalAPI {
			u, err := url.Parse(site.Endpoint())
			if err != nil {
				return siteAccess{}, err
			}
			return siteAccess{u.Host, true, tr}, nil
		}
		addr, err := site.HostEndpoint(ctx)
		if err != nil {
			return siteAccess{}, fmt.Errorf("backup site %s: %w (statex cluster up --env %s starts it)", site.Container, err, t.Name)
		}
		return siteAccess{addr, true, tr}, nil
	}
	u, err := url.Parse(t.Backup.Endpoint)
	if err != nil {
		return siteAccess{}, err
	}
	return siteAccess{hostport: u.Host, secure: u.Scheme == "https"}, nil
}

func runJob(ctx context.Context, c *kube.Cluster, t *target.Target, job Job, site siteAccess, runID string, opts Options) Result {
	start := time.Now()
	res := Result{Service: job.Service}
	var steps verdict.Steps
	var mc *minio.Client
	steps.Do("the job's own key at the site (Secret "+t.Backup.CredentialsSecret+")", func() (string, error) {
		key, err := c.Secret(ctx, t.Backup.CredentialsSecret, job.User)
		if err != nil {
			return "", err
		}
		mc, err = minio.New(site.hostport, &minio.Options{Creds: credentials.NewStaticV4(offsite.User(job.User), key, ""), Secure: site.secure, Transport: site.transport, Region: t.Backup.RegionOf()})
		return "user " + offsite.User(job.User), err
	})
	since := time.Time{}
	if !opts.List {
		since = start.Add(-time.Second)
		var name string
		steps.Do("a Job from CronJob "+job.CronJob, func() (string, error) {
			var err error
			name, err = createJob(ctx, c, job.CronJob, runID)
			return "job " + name, err
		})
		if name != "" {
			defer func() {
				bg := metav1.DeletePropagationBackground
				_ = c.CS.BatchV1().Jobs(c.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &bg})
			}()
		}
		var skip string
		steps.Do("the Job completes", func() (string, error) {
			ev, reason, err := waitJob(ctx, c, t, name, opts.Timeout)
			skip = reason
			return ev, err
		})
		if skip != "" {
			res.Steps, res.Verdict, res.Reason, res.Seconds = steps.List(), verdict.Skipped, skip, verdict.Seconds(time.Since(start))
			return res
		}
	}
	steps.Do("its backups are at the site ("+t.Backup.Bucket+"/"+job.Prefix+")", func() (string, error) {
		objs, err := list(ctx, mc, t.Backup.Bucket, job.Prefix)
		res.Backups = objs
		if err != nil {
			return "", err
		}
		return judgeNewest(objs, since, job.MaxAge, time.Now())
	})
	steps.Test("the newest backup reads back whole", func() (string, error) {
		return readBack(ctx, mc, t.Backup.Bucket, res.Backups[0])
	})
	res.Steps, res.Verdict, res.Seconds = steps.List(), steps.Verdict(), verdict.Seconds(time.Since(start))
	return res
}

// createJob starts a Job from the CronJob's template, as its schedule
// would.
func createJob(ctx context.Context, c *kube.Cluster, cronJob, runID string) (string, error) {
	cj, err := c.CS.BatchV1().CronJobs(c.Namespace).Get(ctx, cronJob, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("cronjob %s: %w", cronJob, err)
	}
	name := fmt.Sprintf("%s-%s", cronJob, runID)
	if len(name) > 63 {
		name = name[:63]
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: strings.TrimRight(name, "-"), Namespace: c.Namespace,
			Labels: cj.Spec.JobTemplate.Labels, Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "statex backup"}},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	if _, err := c.CS.BatchV1().Jobs(c.Namespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return "", err
	}
	return job.Name, nil
}

// waitJob waits for the Job to succeed. A pod that cannot pull an image
// the environment may run without is a skip (reason), never a pass; any
// other failure carries the pod's last log lines.
func waitJob(ctx context.Context, c *kube.Cluster, t *target.Target, name string, timeout time.Duration) (evidence, skip string, err error) {
	var last string
	err = poll.Until(ctx, timeout, 2*time.Second, func() error {
		j, err := c.CS.BatchV1().Jobs(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pods, err := c.CS.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if image, why := pullFailure(&p); image != "" {
				if t.Images.MayBeUnavailable(image) {
					skip = fmt.Sprintf("image %s cannot be pulled, and environment %s may run without it", image, t.Name)
					return poll.Stop(nil)
				}
				return poll.Stop(fmt.Errorf("pod %s: image %s cannot be pulled: %s", p.Name, image, why))
			}
			last = p.Name
		}
		// The conditions, not the counts: between a failed pod and its
		// retry nothing is active, yet the Job has not failed.
		for _, cond := range j.Status.Conditions {
			if cond.Status != corev1.ConditionTrue {
				continue
			}
			switch cond.Type {
			case batchv1.JobComplete:
				return nil
			case batchv1.JobFailed:
				return poll.Stop(fmt.Errorf("job %s failed (%s: %s): %s", name, cond.Reason, cond.Message, kube.LogTail(ctx, c.CS, c.Namespace, last, "", 20)))
			}
		}
		return fmt.Errorf("job %s: %d active, %d failed", name, j.Status.Active, j.Status.Failed)
	})
	if skip != "" {
		return "", skip, nil
	}
	if err != nil {
		return "", "", err
	}
	return "pod " + last + " succeeded", "", nil
}

// pullFailure is the image a pod waits on and why, if it cannot pull one.
func pullFailure(p *corev1.Pod) (image, why string) {
	for _, st := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		if w := st.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "ErrImageNeverPull") {
			return st.Image, w.Reason
		}
	}
	return "", ""
}

// list is every backup under prefix, newest first; a delete marker's
// version is not a backup.
func list(ctx context.Context, mc *minio.Client, bucket, prefix string) ([]Object, error) {
	var out []Object
	now := time.Now()
	for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return out, fmt.Errorf("list %s/%s: %w", bucket, prefix, o.Err)
		}
		out = append(out, Object{Key: o.Key, Bytes: o.Size, AgeSeconds: now.Sub(o.LastModified).Round(time.Second).Seconds(), VersionID: o.VersionID})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].AgeSeconds < out[j].AgeSeconds })
	return out, nil
}

// judgeNewest passes when the newest backup is not empty and is new
// enough: taken after since (a backup just taken), or younger than maxAge.
func judgeNewest(objs []Object, since time.Time, maxAge time.Duration, now time.Time) (string, error) {
	if len(objs) == 0 {
		return "", errors.New("no backup at all")
	}
	n := objs[0]
	age := time.Duration(n.AgeSeconds) * time.Second
	ev := fmt.Sprintf("%d backups; newest %s, %d bytes, %s old", len(objs), n.Key, n.Bytes, age)
	switch {
	case n.Bytes == 0:
		return ev, fmt.Errorf("the newest backup %s is empty", n.Key)
	case !since.IsZero() && now.Add(-age).Before(since):
		return ev, fmt.Errorf("the newest backup %s is %s old: the Job did not write one", n.Key, age)
	case since.IsZero() && age > maxAge:
		return ev, fmt.Errorf("the newest backup %s is %s old, more than its schedule allows (%s)", n.Key, age, maxAge)
	}
	return ev, nil
}

// readBack reads the object whole and checks its size.
func readBack(ctx context.Context, mc *minio.Client, bucket string, o Object) (string, error) {
	obj, err := mc.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{VersionID: o.VersionID})
	if err != nil {
		return "", err
	}
	defer obj.Close()
	n, err := io.Copy(io.Discard, obj)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", o.Key, err)
	}
	if n != o.Bytes {
		return "", fmt.Errorf("read %d bytes of %s, the site lists %d", n, o.Key, o.Bytes)
	}
	return fmt.Sprintf("%s: %d bytes", o.Key, n), nil
}
