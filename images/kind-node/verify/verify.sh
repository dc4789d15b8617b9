#!/bin/bash
# End-to-end checks of a kind cluster made from statex/kind-node (see ../README.md):
# node and CoreDNS Ready, statex/redis:8.0 runs (kind load it first), Service
# DNS + connect from another pod, PVC bound and data kept across a pod restart,
# NetworkPolicy default-deny blocks and an allow policy re-permits.
#   KUBECTL=kubectl CTX=kind-nodetest bash verify.sh
set -u
K="${KUBECTL:-kubectl} --context ${CTX:-kind-nodetest}"
ns="-n nodetest"
pass=0 fail=0
ok()  { echo "PASS: $*"; pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
t0=$(date +%s)
ts() { echo "[+$(( $(date +%s)-t0 ))s]"; }
cli() { $K $ns exec "$1" -- timeout 5 redis-cli -h "$2" -p 6379 "${@:3}" 2>&1; }

$K wait --for=condition=Ready node --all --timeout=120s >/dev/null && ok "node Ready" || bad "node not Ready"
$K -n kube-system wait --for=condition=Ready pod -l k8s-app=kube-dns --timeout=120s >/dev/null && ok "CoreDNS Ready" || bad "CoreDNS not Ready"
$K apply -f "$(dirname "$0")/app.yaml" >/dev/null
$K $ns wait --for=condition=Ready pod -l app=redis --timeout=180s >/dev/null && ok "$(ts) redis pod (statex/redis:8.0) Running+Ready" || bad "redis pod not ready"
$K $ns wait --for=condition=Ready pod/client pod/other --timeout=120s >/dev/null && ok "$(ts) client pods Ready" || bad "client pods not ready"
[[ "$($K $ns get pvc redis-data -o jsonpath='{.status.phase}')" == Bound ]] && ok "PVC Bound ($($K $ns get pvc redis-data -o jsonpath='{.spec.storageClassName} {.spec.volumeName}'))" || bad "PVC not Bound"

# DNS: Service name from another pod
for i in $(seq 1 15); do ip="$($K $ns exec client -- getent hosts redis.nodetest.svc.cluster.local | awk '{print $1}')"; [[ -n "$ip" ]] && break; sleep 1; done
svc="$($K $ns get svc redis -o jsonpath='{.spec.clusterIP}')"
[[ -n "$ip" && "$ip" == "$svc" ]] && ok "DNS: redis.nodetest.svc.cluster.local -> $ip (= ClusterIP)" || bad "DNS gave '$ip', ClusterIP $svc"
# Endpoints reach kube-proxy a moment after the pod turns Ready: retry up to 15 s.
for i in $(seq 1 15); do r="$(cli client redis ping)"; [[ "$r" == PONG ]] && break; sleep 1; done
[[ "$r" == PONG ]] && ok "client -> Service redis:6379 PING -> PONG (attempt $i)" || bad "client cannot reach redis Service: $r"
ext="$($K $ns exec client -- getent hosts kubernetes.default | awk '{print $1}')"
[[ -n "$ext" ]] && ok "DNS: kubernetes.default -> $ext" || bad "kubernetes.default does not resolve"

# PVC data survives a pod restart
cli client redis set statex-key "written-$t0" >/dev/null
cli client redis save >/dev/null
old="$($K $ns get pod -l app=redis -o jsonpath='{.items[0].metadata.name}')"
$K $ns delete pod "$old" --wait=true >/dev/null
$K $ns wait --for=condition=Ready pod -l app=redis --timeout=120s >/dev/null
new="$($K $ns get pod -l app=redis -o jsonpath='{.items[0].metadata.name}')"
# The Service switches to the new pod a moment after it is Ready: retry up to 15 s.
for i in $(seq 1 15); do got="$(cli client redis get statex-key)"; [[ "$got" == "written-$t0" ]] && break; sleep 1; done
[[ "$new" != "$old" && "$got" == "written-$t0" ]] && ok "$(ts) PVC data survived pod restart ($old -> $new, value $got, attempt $i)" || bad "after restart ($old -> $new) got '$got'"

# NetworkPolicy
redis_ip="$($K $ns get pod -l app=redis -o jsonpath='{.items[0].status.podIP}')"
[[ "$(cli other "$redis_ip" ping)" == PONG ]] && ok "no policy: other -> redis pod $redis_ip PONG" || bad "baseline other -> redis failed"
# kube-router applies policy changes asynchronously: poll (up to 30 s) and
# report how long each change took to take effect.
within() { # within SECONDS CONDITION...: poll every second
  local n=$1; shift; local i
  for ((i = 0; i <= n; i++)); do "$@" && { waited=$i; return 0; }; sleep 1; done
  waited=$n; return 1
}
blocked() { [[ "$(cli "$1" "$2" ping)" != PONG ]]; }
open_() { [[ "$(cli "$1" "$2" ping)" == PONG ]]; }
all_blocked() { blocked client "$redis_ip" && blocked other "$redis_ip" && blocked client redis; }
allowed_ok() { open_ client "$redis_ip" && open_ client redis && blocked other "$redis_ip"; }
$K apply -f "$(dirname "$0")/deny.yaml" >/dev/null
if within 30 all_blocked; then
  ok "$(ts) default-deny: client->pod, other->pod, client->Service all blocked after ${waited}s ($(cli other "$redis_ip" ping | head -1))"
else bad "default-deny not enforced within 30s: client '$(cli client "$redis_ip" ping)' other '$(cli other "$redis_ip" ping)'"; fi
$K apply -f "$(dirname "$0")/allow.yaml" >/dev/null
if within 30 allowed_ok; then
  ok "$(ts) allow policy after ${waited}s: client (role=client) -> redis pod and Service PONG; other (role=other) still blocked"
else bad "allow policy: client '$(cli client "$redis_ip" ping)' / '$(cli client redis ping)', other '$(cli other "$redis_ip" ping)'"; fi
$K delete -f "$(dirname "$0")/deny.yaml" -f "$(dirname "$0")/allow.yaml" >/dev/null
if within 30 open_ other "$redis_ip"; then
  ok "$(ts) policies deleted: other -> redis PONG again after ${waited}s"
else bad "other still blocked 30s after deleting the policies"; fi
echo "passed $pass, failed $fail, $(( $(date +%s)-t0 ))s"
[[ $fail == 0 ]]
