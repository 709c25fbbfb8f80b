#!/usr/bin/env bash
# Runs the runner image (make images) as a container the way a pod runs
# it — read-only root, every capability dropped, no new privileges, the
# runtime's default seccomp, uid and gid 65532 — against the platform
# simulator, and checks what it does: who it runs as, that Landlock is
# enforced, a read-only diagnosis allowed, the service-account token and a
# never-ending command refused.
#   hack/image-smoke.sh [IMAGE]     (needs podman and runc)
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-localhost/$(podman images --format '{{.Repository}}:{{.Tag}}' localhost/flashduty-runner | head -1 | sed 's|^localhost/||')}
port=${SMOKE_PORT:-18090}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/script" <<'SCRIPT'
bash id -u; id -g
expect ok
bash kubectl version --client -o json | jq -r .clientVersion.gitVersion; ps -o user= -p 1; df -h / | tail -1 | wc -l
expect ok
bash cat /var/run/secrets/kubernetes.io/serviceaccount/token
expect denied
bash kubectl logs -f web
expect denied
bash echo x > /etc/x
expect denied
SCRIPT
go build -o "$work/sim" ./cmd/flashduty-platform-sim
"$work/sim" --addr "127.0.0.1:$port" --api-key fk_smoke --script "$work/script" >"$work/sim.log" 2>&1 &
sim=$!
podman run --rm --runtime runc --network host --read-only --cap-drop=all --security-opt no-new-privileges \
	--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --tmpfs /tmp:mode=1777 --tmpfs /workspace:mode=1777 \
	-e FLASHDUTY_RUNNER_API_KEY=fk_smoke -e FLASHDUTY_RUNNER_API_URL="ws://127.0.0.1:$port/safari/worknode/ws" \
	-e FLASHDUTY_RUNNER_PERMISSION_PRESET=kubernetes-readonly "$image" >"$work/runner.log" 2>&1 &
ok=0
wait "$sim" || ok=$?
cat "$work/sim.log"
grep -q '"sandbox": "landlock"' "$work/runner.log" || { echo "smoke: the runner in the image does not enforce Landlock" >&2; cat "$work/runner.log" >&2; exit 1; }
grep -q '^    65532$' "$work/sim.log" || { echo "smoke: not uid/gid 65532" >&2; exit 1; }
[ "$ok" = 0 ] || { echo "smoke: an expectation failed" >&2; exit 1; }
echo "smoke: $image runs as 65532:65532 under Landlock, read-only root, no capabilities; the checks held"
