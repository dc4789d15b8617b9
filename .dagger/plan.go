package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// What each verb function runs, as data (a plan): the steps before the
// verb, the verb's execs and where their output goes (the report directory,
// report.go). Validate's plan is a pure function of its arguments and is
// cached; the plans below it run fresh.
//
// Fresh runs for the functions that touch a live cluster or the host's
// Docker (Up, Deploy, Test, Drill, and every verb added later that does).
//
// A v0.19.11 engine caches a function call for 7 days on its inputs, so a
// second `dagger call deploy` returned the first report without running.
// `+cache="never"` makes the function body run again, but a WithExec whose
// inputs did not change is still served from the layer cache. So each of
// these functions also sets STATEX_CALL_ID, unique per call, right before its
// execs. What comes before it (the Go build, package installs) stays cached.
//
// What a function runs is assembled here as data (a plan) and only turned
// into Dagger API calls by Statex.run, so tests check the order and the
// per-call inputs without an engine.

// callIDEnv is the per-call input set before every uncached exec.
const callIDEnv = "STATEX_CALL_ID"

// newCallID returns an ID no other call shares: the clock alone can repeat
// across machines or coarse clocks, the random part alone says nothing in a
// trace.
func newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24 (it crashes instead)
	return fmt.Sprintf("%d-%s", time.Now().UnixNano(), hex.EncodeToString(b[:]))
}

type opKind int

const (
	opExec       opKind = iota // WithExec(args), must succeed
	opEnv                      // WithEnvVariable(name, value)
	opKubeconfig               // WithMountedSecret(kubeconfigPath, kubeconfig)
	opDocker                   // WithUnixSocket(dockerSocketPath, docker)
	opReportDir                // WithDirectory(reportDir, reportSkeleton())
)

// op is one container step, in order.
type op struct {
	kind        opKind
	name, value string   // opEnv
	args        []string // opExec
}

func execOp(args ...string) op    { return op{kind: opExec, args: args} }
func envOp(name, value string) op { return op{kind: opEnv, name: name, value: value} }

// verbExec is one run of the statex CLI: any exit code is a result (the
// Report carries it); stdout and stderr are redirected into files.
type verbExec struct {
	args           []string
	stdout, stderr string // absolute paths in the container
}

// plan is everything a verb function runs.
type plan struct {
	callID string // "" for a cached (pure) plan
	// join runs first, in its own small container (dockerCLIImage): it puts
	// this engine's container on kind's network. Empty: no join.
	join []op
	// cli are the steps on the CLI container (built from source) before
	// the verbs.
	cli []op
	// verbs run in order on the container cli leaves; each after the last.
	verbs []verbExec
	what  string
	// report is the report file an error quotes under --fail-on-error: the
	// one that went to stdout (Validate: the text).
	report   string
	insecure bool // the verbs need InsecureRootCapabilities
}

// stderrDiscard takes the stderr of Validate's repeat runs (the first run's
// is the log): outside the report directory, never returned.
const stderrDiscard = "/statex-stderr-repeat"

// validatePlan runs the validator once per stdout format (text, JSON,
// Markdown); the first run also writes JUnit and SARIF. Rendering is cached
// in the container between runs (the CLI's render cache), so the repeats
// cost little. No call ID: the result is a pure function of the source and
// the arguments, so the engine's cache answering a repeat call is right.
func validatePlan(env string) (plan, error) {
	var runs []verbExec
	for _, f := range []struct{ format, stdout, stderr string }{
		{"json", reportJSON, reportPath(reportLog)},
		{"text", reportText, stderrDiscard},
		{"markdown", reportMarkdown, stderrDiscard},
	} {
		args, err := validateArgs(env, f.format)
		if err != nil {
			return plan{}, err
		}
		if len(runs) == 0 {
			args = append(args, "--junit", reportPath(reportJUnit), "--sarif", reportPath(reportSARIF))
		}
		runs = append(runs, verbExec{args: args, stdout: reportPath(f.stdout), stderr: f.stderr})
	}
	return plan{
		cli:    []op{{kind: opReportDir}},
		verbs:  runs,
		what:   "validate --env " + env,
		report: reportText,
	}, nil
}

// stepSummaryEnv is where the CLI writes its Markdown step summary
// (--github); pointed into the report directory.
const stepSummaryEnv = "GITHUB_STEP_SUMMARY"

// clusterVerb is the one run of a cluster verb: stdout in its format, stderr
// as the log.
func clusterVerb(args []string, format string) (verbExec, string) {
	out := reportText
	if format == "json" {
		out = reportJSON
	}
	return verbExec{args: args, stdout: reportPath(out), stderr: reportPath(reportLog)}, out
}

// reportSteps prepare the report directory for a cluster verb.
func reportSteps() []op {
	return []op{{kind: opReportDir}, envOp(stepSummaryEnv, reportPath(reportMarkdown))}
}

// installUpTools installs what `statex up` drives: the Docker CLI (kind and
// the image builder call it) and debootstrap (the Debian base image). Placed
// before the call ID so the install layer is reused across calls.
var installUpTools = execOp("sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null")

// upPlan: `statex up` on the host's Docker. The join creates kind's network
// if missing (the cluster may not exist yet; kind reuses the network), and
// STATEX_KIND_API=internal makes the CLI write a kubeconfig for the control
// plane's address on that network.
func upPlan(callID, env, format string) (plan, error) {
	args, err := upArgs(env, format)
	if err != nil {
		return plan{}, err
	}
	verb, report := clusterVerb(args, format)
	cli := append([]op{installUpTools}, reportSteps()...)
	return plan{
		callID: callID,
		join:   joinOps(callID, joinCreate),
		cli: append(cli,
			op{kind: opDocker},
			envOp("STATEX_KIND_API", "internal"),
			envOp(callIDEnv, callID),
		),
		verbs:    []verbExec{verb},
		what:     "up --env " + env,
		report:   report,
		insecure: true, // kind nodes and debootstrap need real root
	}, nil
}

func deployPlan(callID, env, format string, dryRun, joinKind bool) (plan, error) {
	args, err := deployArgs(env, kubeconfigPath, format, dryRun)
	if err != nil {
		return plan{}, err
	}
	return kubePlan(callID, "deploy --env "+env, args, format, joinKind), nil
}

func testPlan(callID, env, format string, joinKind bool) (plan, error) {
	args, err := checkArgs(env, kubeconfigPath, format)
	if err != nil {
		return plan{}, err
	}
	return kubePlan(callID, "check --env "+env, args, format, joinKind), nil
}

func drillPlan(callID, env, format string, scenarios []string, joinKind bool) (plan, error) {
	args, err := drillArgs(env, kubeconfigPath, format, scenarios)
	if err != nil {
		return plan{}, err
	}
	return kubePlan(callID, "drill --env "+env, args, format, joinKind), nil
}

// backupPlan is Backup's: statex backup against the mounted kubeconfig.
// The backup site of a kind environment is reached by its name on the kind
// network, so a kind target needs the join (and STATEX_KIND_API=internal).
func backupPlan(callID, env, format string, services []string, list, joinKind bool) (plan, error) {
	args, err := backupArgs(env, kubeconfigPath, format, services, list)
	if err != nil {
		return plan{}, err
	}
	p := kubePlan(callID, "backup --env "+env, args, format, joinKind)
	if joinKind {
		p.cli = append(p.cli, envOp("STATEX_KIND_API", "internal"))
	}
	return p, nil
}

// kubePlan runs a verb against the cluster of a mounted kubeconfig. With
// joinKind (a Docker socket was given), the engine joins kind's network
// first; the network must exist already (no cluster, nothing to reach).
func kubePlan(callID, what string, args []string, format string, joinKind bool) plan {
	verb, report := clusterVerb(args, format)
	p := plan{
		callID: callID,
		cli:    append(reportSteps(), op{kind: opKubeconfig}, envOp(callIDEnv, callID)),
		verbs:  []verbExec{verb},
		what:   what,
		report: report,
	}
	if joinKind {
		p.join = joinOps(callID, joinRequire)
	}
	return p
}

// joinOps runs the kind network join with the host's Docker socket; the call
// ID makes it run on every call (the engine container may have been
// disconnected, or the network recreated, since the last one).
func joinOps(callID string, mode joinMode) []op {
	return []op{
		{kind: opDocker},
		envOp(callIDEnv, callID),
		execOp(joinArgs(callID, mode)...),
	}
}
