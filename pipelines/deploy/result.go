package deploy

import "time"

// Result is what a deploy did, as a value: the CLI prints it, the Dagger
// module returns it, CI renders it as JUnit or a step summary.
type Result struct {
	Env       string `json:"env"`
	Namespace string `json:"namespace"`
	// Hash identifies the rendered set (manifest.Rendered.Hash).
	Hash   string `json:"hash"`
	DryRun bool   `json:"dryRun"`
	// Revision is the release this deploy recorded (0 for a dry run).
	Revision int `json:"revision,omitempty"`
	// Previous is the last successful revision before this one (0: none).
	Previous int `json:"previous,omitempty"`
	// Status is succeeded, failed, rolled-back or planned (dry run).
	Status string `json:"status"`
	// Unchanged is true when the set equals the last successful release and
	// nothing in the cluster had drifted: no object was written.
	Unchanged bool           `json:"unchanged"`
	Secrets   []SecretAction `json:"secrets,omitempty"`
	Stages    []StageResult  `json:"stages"`
	// Pruned lists objects of the previous release that left the set.
	Pruned []Change `json:"pruned,omitempty"`
	// Kept lists objects that left the set but hold data and were not deleted.
	Kept []Change `json:"kept,omitempty"`
	// Drift lists objects whose live state differed from the last release
	// although the manifests did not change them.
	Drift    []string  `json:"drift,omitempty"`
	Failure  *Failure  `json:"failure,omitempty"`
	Rollback *Rollback `json:"rollback,omitempty"`
	Duration Seconds   `json:"durationSeconds"`
	// Warnings are the API server's warnings seen during the deploy, each
	// once (a deprecated API, Pod Security admitted in warn mode).
	Warnings []string `json:"warnings,omitempty"`
}

// StageResult is one stage: what was written and how its workloads ended.
type StageResult struct {
	Name      string           `json:"name"`
	Status    string           `json:"status"` // ready, failed, skipped, planned
	Changes   []Change         `json:"changes"`
	Workloads []WorkloadStatus `json:"workloads,omitempty"`
	Signals   []SignalResult   `json:"signals,omitempty"`
	Duration  Seconds          `json:"durationSeconds"`
}

// Change is one object and what apply (or the dry run) does to it.
type Change struct {
	Object string `json:"object"` // Kind/namespace/name
	Action string `json:"action"` // created, configured, unchanged, deleted, kept
	// Diff is a unified diff of the live and desired object (dry run only;
	// Secret values are masked).
	Diff string `json:"diff,omitempty"`
}

// WorkloadStatus is a workload's last observed readiness.
type WorkloadStatus struct {
	Object  string `json:"object"`
	Service string `json:"service,omitempty"`
	Ready   int    `json:"ready"`
	Desired int    `json:"desired"`
	// Status is ready, progressing, failed or unavailable (image cannot be
	// pulled on an offline cluster: applied, never reported Ready).
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// SignalResult is a service-level readiness signal (beyond pod readiness).
type SignalResult struct {
	Service string  `json:"service"`
	Signal  string  `json:"signal"`
	Status  string  `json:"status"` // passed, failed, skipped
	Detail  string  `json:"detail,omitempty"`
	Seconds Seconds `json:"durationSeconds"`
}

// Failure says which stage failed and why, with what the cluster reported.
type Failure struct {
	Stage   string   `json:"stage"`
	Reason  string   `json:"reason"`
	Objects []string `json:"objects,omitempty"`
	// Events are the warning events of the failing objects and their pods.
	Events []string `json:"events,omitempty"`
	// Logs are the last lines of each failing pod's containers.
	Logs map[string]string `json:"logs,omitempty"`
}

// Rollback is what was restored after a failed stage.
type Rollback struct {
	To       int      `json:"toRevision"`
	Restored []string `json:"restored,omitempty"`
	Deleted  []string `json:"deleted,omitempty"`
	Ready    bool     `json:"ready"`
	Error    string   `json:"error,omitempty"`
}

// Seconds is a duration that marshals as seconds with millisecond precision.
type Seconds float64

func secondsOf(d time.Duration) Seconds {
	return Seconds(float64(d.Milliseconds()) / 1000)
}

// Count returns how many changes of the stages have the given action.
func (r *Result) Count(action string) int {
	n := 0
	for _, s := range r.Stages {
		for _, c := range s.Changes {
			if c.Action == action {
				n++
			}
		}
	}
	return n
}
