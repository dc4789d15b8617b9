package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Fresh runs for the functions that touch a live cluster or the host's
// Docker (Up, Deploy, Test, Drill).
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
)

// op is one container step, in order.
type op struct {
	kind        opKind
	name, value string   // opEnv
	args        []string // opExec
}

func execOp(args ...string) op    { return op{kind: opExec, args: args} }
func envOp(name, value string) op { return op{kind: opEnv, name: name, value: value} }

// plan is everything a cluster function runs.
type plan struct {
	callID string
	// join runs first, in its own small container (dockerCLIImage): it puts
	// this engine's container on kind's network. Empty: no join.
	join []op
	// cli are the steps on the CLI container (built from source) before
	// the verb.
	cli []op
	// verb is the statex invocation; any exit code, mapped by verbResult.
	verb     []string
	what     string
	insecure bool // the verb needs InsecureRootCapabilities
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
	return plan{
		callID: callID,
		join:   joinOps(callID, joinCreate),
		cli: []op{
			installUpTools,
			{kind: opDocker},
			envOp("STATEX_KIND_API", "internal"),
			envOp(callIDEnv, callID),
		},
		verb:     args,
		what:     "up --env " + env,
		insecure: true, // kind nodes and debootstrap need real root
	}, nil
}

func deployPlan(callID, env, format string, dryRun, joinKind bool) (plan, error) {
	args, err := deployArgs(env, kubeconfigPath, format, dryRun)
	if err != nil {
		return plan{}, err
	}
	return kubePlan(callID, "deploy --env "+env, args, joinKind), nil
}

func testPlan(callID, env, format string, joinKind bool) (plan, error) {
	args, err := checkArgs(env, kubeconfigPath, format)
	if err != nil {
		return plan{}, err
	}
	return kubePlan(callID, "check --env "+env, args, joinKind), nil
}

func drillPlan(callID, env, format string, scenarios []string, joinKind bool) (plan, error) {
	args, err := drillArgs(env, kubeconfigPath, format, scenarios)
	if err != nil {
		return plan{}, err
	}
	return kubePlan(callID, "drill --env "+env, args, joinKind), nil
}

// kubePlan runs a verb against the cluster of a mounted kubeconfig. With
// joinKind (a Docker socket was given), the engine joins kind's network
// first; the network must exist already (no cluster, nothing to reach).
func kubePlan(callID, what string, verb []string, joinKind bool) plan {
	p := plan{
		callID: callID,
		cli:    []op{{kind: opKubeconfig}, envOp(callIDEnv, callID)},
		verb:   verb,
		what:   what,
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
