#!/usr/bin/env bash
# A real one-node Kubernetes cluster for the end-to-end tier: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy built from the Go module proxy (hack/setup-envtest.sh,
# hack/setup-cluster.sh), containerd, runc and the CNI plugins from Debian,
# and a throwaway PKI. Everything lives under one state directory; `down`
# stops every process it started and puts back what the cluster changed on
# the host (sysctls, iptables and nftables, the CNI bridge, network
# namespaces, mounts, cgroups, directories it created).
#
#   hack/cluster.sh up [IMAGE.oci.tar...]   start, import the images, wait for a Ready node
#   hack/cluster.sh down                    stop and restore; safe to repeat
#   hack/cluster.sh env                     print KUBECONFIG=… and NODE_IP=… for a shell
#   hack/cluster.sh host-state              what down must put back (hack/e2e.sh compares it)
#
# Needs root, cgroups, overlayfs, and the Debian packages containerd runc
# containernetworking-plugins iptables conntrack. CLUSTER_DIR (default
# ${TMPDIR:-/tmp}/flashduty-cluster) holds the state; it is removed by down.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
S=$(realpath -m "${CLUSTER_DIR:-${TMPDIR:-/tmp}/flashduty-cluster}")
NODE=fd-e2e-node
SERVICE_CIDR=10.233.0.0/18
SERVICE_IP=10.233.0.1
POD_CIDR=10.234.0.0/24
BRIDGE=fde2e0
CGROUP_ROOT=flashduty-e2e
APISERVER_PORT=16443

log() { echo "cluster: $*" >&2; }
# sysctl values through /proc/sys, so that procps is not needed.
sysctl_get() { cat "/proc/sys/${1//.//}" 2>/dev/null; }
sysctl_set() { echo "$2" >"/proc/sys/${1//.//}" 2>/dev/null; }
die() {
	log "$*"
	exit 1
}

# What the cluster may change on the host, saved by up and put back by down.
SYSCTLS=(
	net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv6.conf.all.forwarding
	net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
	net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
	net.netfilter.nf_conntrack_tcp_timeout_close_wait
	vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes
)
HOST_DIRS=(/run/containerd /run/netns /var/run/netns /var/lib/cni /var/log/containers /var/log/pods /var/lib/kubelet /var/run/kubernetes /etc/cni /opt/cni)
IPT_TABLES=(filter nat mangle raw security)

preflight() {
	local missing=()
	[[ $(id -u) == 0 ]] || die "must run as root (the kubelet, containerd and CNI manage cgroups, mounts and network namespaces)"
	for t in containerd containerd-shim-runc-v2 runc ctr iptables iptables-save iptables-restore openssl ip mount; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=("CNI plugins in /usr/lib/cni")
	((${#missing[@]} == 0)) || die "missing ${missing[*]} (apt-get install containerd runc containernetworking-plugins iptables conntrack openssl iproute2)"
	[[ -d /sys/fs/cgroup ]] && [[ -n "$(ls /sys/fs/cgroup 2>/dev/null)" ]] || die "no cgroup filesystem at /sys/fs/cgroup: the kubelet cannot run pods here"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || die "the kernel has no overlayfs: containerd's overlayfs snapshotter cannot unpack images"
	[[ -e /proc/sys/net/ipv4/ip_forward ]] || die "/proc/sys is not writable or not there: CNI cannot enable forwarding"
}

node_ip() {
	local ip
	ip=$(ip -4 route get 192.0.2.200 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
	[[ -n "$ip" ]] || ip=$(ip -4 -o addr show scope global | awk '{sub("/.*","",$4); print $4; exit}')
	[[ -n "$ip" ]] || die "no IPv4 address other than loopback: pods reach the API server and the platform at the node's address"
	echo "$ip"
}

netns_list() { ls /run/netns 2>/dev/null | sort || true; }

# host_state prints what the cluster may change on the host and must put
# back, in a form that compares across time (no packet counters).
host_state() {
	local k v d
	for k in "${SYSCTLS[@]}"; do
		v=$(sysctl_get "$k") && printf 'sysctl %s=%s\n' "$k" "$v"
	done
	{ iptables-save 2>/dev/null || true; } | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//; s/^/iptables /'
	{ ip6tables-save 2>/dev/null || true; } | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//; s/^/ip6tables /'
	if command -v nft >/dev/null; then { nft list tables 2>/dev/null || true; } | sed 's/^/nft /'; fi
	ip -o link show | awk -F': ' '{sub("@.*", "", $2); print "link " $2}'
	awk '{print "mount " $5}' /proc/self/mountinfo | sort
	netns_list | sed 's/^/netns /'
	cgroup_dirs | sed 's/^/cgroup /'
	for d in "${HOST_DIRS[@]}"; do [[ -e "$d" ]] && echo "dir $d"; done
	# Processes that name the state directory (pgrep leaves itself out).
	{ pgrep -f -- "$S" || true; } | sed 's/^/process /'
}

save_host() {
	local h=$S/host
	mkdir -p "$h"
	: >"$h/sysctl"
	for k in "${SYSCTLS[@]}"; do
		v=$(sysctl_get "$k") && printf '%s=%s\n' "$k" "$v" >>"$h/sysctl"
	done
	: >"$h/dirs"
	for d in "${HOST_DIRS[@]}"; do
		[[ -e "$d" ]] || echo "$d" >>"$h/dirs"
	done
	netns_list >"$h/netns"
	iptables-save >"$h/iptables" 2>/dev/null || true
	ip6tables-save >"$h/ip6tables" 2>/dev/null || true
	if command -v nft >/dev/null; then nft list tables 2>/dev/null | sort >"$h/nft" || true; fi
}

restore_host() {
	local h=$S/host
	[[ -d "$h" ]] || return 0
	for fam in ip ip6; do
		local save=${fam}tables-save restore=${fam}tables-restore cmd=${fam}tables
		command -v "$save" >/dev/null || continue
		for t in "${IPT_TABLES[@]}"; do
			# A table the host did not use is emptied; the ones it did are
			# put back exactly as saved.
			if ! grep -q "^\*$t$" "$h/${fam}tables" 2>/dev/null && "$cmd" -w -t "$t" -S >/dev/null 2>&1; then
				"$cmd" -w -t "$t" -F 2>/dev/null || true
				"$cmd" -w -t "$t" -X 2>/dev/null || true
			fi
		done
		[[ -s "$h/${fam}tables" ]] && "$restore" -w <"$h/${fam}tables" 2>/dev/null || true
	done
	if [[ -f "$h/nft" ]] && command -v nft >/dev/null; then
		{ nft list tables 2>/dev/null || true; } | sort | comm -13 "$h/nft" - | while read -r _ fam name; do
			nft delete table "$fam" "$name" 2>/dev/null || true
		done
	fi
	while IFS='=' read -r k v; do
		[[ "$(sysctl_get "$k")" == "$v" ]] || sysctl_set "$k" "$v" || log "could not restore $k=$v"
	done <"$h/sysctl"
	ip link del "$BRIDGE" 2>/dev/null || true
	netns_list | comm -13 "$h/netns" - | while read -r ns; do
		umount "/run/netns/$ns" 2>/dev/null || umount -l "/run/netns/$ns" 2>/dev/null || true
		rm -f "/run/netns/$ns"
	done
	while read -r d; do
		[[ -n "$d" ]] && rm -rf "$d"
	done <"$h/dirs"
}

# stop_pid FILE: TERM, then KILL after a grace period.
stop_pid() {
	local f=$1 pid
	[[ -f "$f" ]] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$S" ]]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

# The pod cgroups live under one root of ours in every hierarchy.
cgroup_dirs() {
	find /sys/fs/cgroup -maxdepth 2 -type d -name "$CGROUP_ROOT" 2>/dev/null || true
}

kill_pods() {
	local d pids
	for _ in $(seq 20); do
		pids=$(cgroup_dirs | while read -r d; do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u)
		[[ -n "$pids" ]] || return 0
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		sleep 0.3
	done
	log "processes left in the pod cgroups: $pids"
}

down() {
	[[ -d "$S" ]] || return 0
	for c in kube-proxy kubelet kube-scheduler kube-controller-manager; do stop_pid "$S/run/$c.pid"; done
	kill_pods
	# The shims containerd started for our pods (they outlive containerd).
	pgrep -f "containerd-shim-runc-v2 .*-address $S/containerd/containerd.sock" | xargs -r kill -9 2>/dev/null || true
	for c in containerd kube-apiserver etcd; do stop_pid "$S/run/$c.pid"; done
	# Mounts under the state directory, deepest first.
	awk -v s="$S" '$5 == s || index($5, s "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
	done
	cgroup_dirs | while read -r d; do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	restore_host
	rm -rf "$S"
	log "stopped; host settings restored"
}

# cert NAME CN ORG SANS: a key and a certificate signed by the cluster CA.
cert() {
	local name=$1 cn=$2 org=$3 sans=$4 p=$S/pki
	openssl ecparam -name prime256v1 -genkey -noout -out "$p/$name.key" 2>/dev/null
	openssl req -new -key "$p/$name.key" -subj "/CN=$cn${org:+/O=$org}" -out "$p/$name.csr" 2>/dev/null
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=serverAuth,clientAuth"
		[[ -n "$sans" ]] && echo "subjectAltName=$sans"
	} >"$p/$name.ext"
	openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 2 \
		-extfile "$p/$name.ext" -out "$p/$name.crt" 2>/dev/null
	rm -f "$p/$name.csr" "$p/$name.ext"
}

kubeconfig() {
	local name=$1
	cat >"$S/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://$NODE_IP:$APISERVER_PORT", certificate-authority: "$S/pki/ca.crt"}
users:
- name: $name
  user: {client-certificate: "$S/pki/$name.crt", client-key: "$S/pki/$name.key"}
contexts:
- name: e2e
  context: {cluster: e2e, user: $name}
current-context: e2e
EOF
}

pki() {
	local p=$S/pki
	mkdir -p "$p"
	openssl ecparam -name prime256v1 -genkey -noout -out "$p/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$p/ca.key" -subj "/CN=flashduty-e2e-ca" -days 2 -out "$p/ca.crt" 2>/dev/null
	openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
	openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
	cert apiserver kube-apiserver "" "IP:$NODE_IP,IP:127.0.0.1,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters ""
	cert admin e2e-admin system:masters ""
	cert controller-manager system:kube-controller-manager "" ""
	cert scheduler system:kube-scheduler "" ""
	cert kubelet "system:node:$NODE" system:nodes "IP:$NODE_IP,DNS:$NODE"
	cert kube-proxy system:kube-proxy "" ""
	for k in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$k"; done
}

# start NAME COMMAND...: in the background, logging to $S/logs/NAME.log.
start() {
	local name=$1
	shift
	(cd "$S" && exec setsid "$@" >"$S/logs/$name.log" 2>&1 </dev/null) &
	echo $! >"$S/run/$name.pid"
}

# wait_for WHAT SECONDS COMMAND...
wait_for() {
	local what=$1 secs=$2
	shift 2
	for _ in $(seq $((secs * 2))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	for f in "$S"/logs/*.log; do
		log "--- last lines of $f"
		tail -n 15 "$f" >&2
	done
	die "$what did not come up in ${secs}s"
}

alive() {
	local c
	for c in "$@"; do
		kill -0 "$(cat "$S/run/$c.pid")" 2>/dev/null || {
			log "--- $c exited:"
			tail -n 30 "$S/logs/$c.log" >&2
			die "$c exited"
		}
	done
}

configs() {
	mkdir -p "$S/cni/net.d" "$S/cni/ipam" "$S/containerd" "$S/kubelet" "$S/pods-log"
	cat >"$S/cni/net.d/10-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "e2e",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$S/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
EOF
	cat >"$S/containerd/config.toml" <<EOF
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
[grpc]
  address = "$S/containerd/containerd.sock"
[ttrpc]
  address = "$S/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$S/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # Without it every sandbox fails here ("can't get final child's PID
  # from pipe"): root cannot raise oom_score_adj in this environment.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$S/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$S/cni/net.d"
EOF
	cat >"$S/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 and hybrid hosts are refused by default since 1.35.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$S/containerd/containerd.sock
address: $NODE_IP
port: 10350
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10348
tlsCertFile: $S/pki/kubelet.crt
tlsPrivateKeyFile: $S/pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $S/pki/ca.crt}
authorization: {mode: AlwaysAllow}
podLogsDir: $S/pods-log
failSwapOn: false
# A test node never evicts or collects the images it was given.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
protectKernelDefaults: false
serializeImagePulls: false
EOF
	cat >"$S/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $S/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10356
metricsBindAddress: 127.0.0.1:10349
iptables: {localhostNodePorts: false}
# Leave the host's conntrack table and timeouts as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

pause_image() {
	local ctx
	ctx=$(mktemp -d)
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/pause" ./hack/pause
	# A one-layer OCI image archive, written by hand: the layer is a tar
	# of /pause, the config says to run it.
	(
		cd "$ctx"
		mkdir -p rootfs oci/blobs/sha256
		cp pause rootfs/pause
		tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C rootfs -cf layer.tar pause
		local layer diffid size config csize manifest msize
		layer=$(sha256sum layer.tar | cut -d' ' -f1)
		size=$(stat -c %s layer.tar)
		mv layer.tar "oci/blobs/sha256/$layer"
		printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
			"$(go env GOARCH)" "$layer" >config.json
		config=$(sha256sum config.json | cut -d' ' -f1)
		csize=$(stat -c %s config.json)
		mv config.json "oci/blobs/sha256/$config"
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
			"$config" "$csize" "$layer" "$size" >manifest.json
		manifest=$(sha256sum manifest.json | cut -d' ' -f1)
		msize=$(stat -c %s manifest.json)
		mv manifest.json "oci/blobs/sha256/$manifest"
		printf '{"imageLayoutVersion":"1.0.0"}' >oci/oci-layout
		printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"registry.k8s.io/pause:3.10","org.opencontainers.image.ref.name":"3.10"}}]}' \
			"$manifest" "$msize" >oci/index.json
		tar -C oci -cf pause.oci.tar oci-layout index.json blobs
	)
	cp "$ctx/pause.oci.tar" "$S/pause.oci.tar"
	rm -rf "$ctx"
}

node_ready() {
	[[ "$("$@" get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

up() {
	preflight
	if [[ -d "$S" ]]; then
		log "a cluster state directory is left at $S; stopping it first"
		down
	fi
	# The bridge, the ports and the cgroup root are fixed: one cluster at a time.
	if ip link show "$BRIDGE" >/dev/null 2>&1 || curl -fsS -m 2 http://127.0.0.1:12379/health >/dev/null 2>&1; then
		die "another one-node cluster is running here (its bridge $BRIDGE or etcd on 127.0.0.1:12379): stop it with its CLUSTER_DIR and hack/cluster.sh down"
	fi
	local envtest bins
	envtest=$(K8S_VERSION=$K8S_VERSION ETCD_VERSION=$ETCD_VERSION hack/setup-envtest.sh)
	bins=$(K8S_VERSION=$K8S_VERSION hack/setup-cluster.sh)
	mkdir -p "$S/run" "$S/logs"
	# A start that fails at any point (a command, or die) leaves nothing.
	trap 'rc=$?; if ((rc != 0)); then log "start failed; cleaning up"; down; fi' EXIT
	NODE_IP=$(node_ip)
	save_host
	pki
	configs
	pause_image
	printf 'KUBECONFIG=%s\nNODE_IP=%s\nCLUSTER_DIR=%s\nCONTAINERD_ADDRESS=%s\n' \
		"$S/admin.kubeconfig" "$NODE_IP" "$S" "$S/containerd/containerd.sock" >"$S/env"

	start etcd "$envtest/etcd" --name e2e --data-dir "$S/etcd" \
		--listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
		--listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
		--initial-cluster e2e=http://127.0.0.1:12380 --listen-metrics-urls http://127.0.0.1:12381
	start containerd containerd --config "$S/containerd/config.toml"
	start kube-apiserver "$envtest/kube-apiserver" --etcd-servers http://127.0.0.1:12379 \
		--bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
		--cert-dir "$S/pki" --tls-cert-file "$S/pki/apiserver.crt" --tls-private-key-file "$S/pki/apiserver.key" \
		--client-ca-file "$S/pki/ca.crt" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
		--service-cluster-ip-range "$SERVICE_CIDR" --service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$S/pki/sa.pub" --service-account-signing-key-file "$S/pki/sa.key" \
		--kubelet-client-certificate "$S/pki/apiserver-kubelet-client.crt" --kubelet-client-key "$S/pki/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types InternalIP,Hostname
	wait_for etcd 30 curl -fsS http://127.0.0.1:12379/health
	wait_for kube-apiserver 90 "$envtest/kubectl" --kubeconfig "$S/admin.kubeconfig" get --raw /readyz
	start kube-controller-manager "$bins/kube-controller-manager" --kubeconfig "$S/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$S/controller-manager.kubeconfig" --authorization-kubeconfig "$S/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 10357 --cert-dir "$S/pki/kcm" --leader-elect=false \
		--controllers '*,-nodeipam' --use-service-account-credentials \
		--service-account-private-key-file "$S/pki/sa.key" --root-ca-file "$S/pki/ca.crt" \
		--cluster-signing-cert-file "$S/pki/ca.crt" --cluster-signing-key-file "$S/pki/ca.key"
	start kube-scheduler "$bins/kube-scheduler" --kubeconfig "$S/scheduler.kubeconfig" \
		--authentication-kubeconfig "$S/scheduler.kubeconfig" --authorization-kubeconfig "$S/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 10359 --cert-dir "$S/pki/scheduler" --leader-elect=false
	wait_for containerd 30 ctr --address "$S/containerd/containerd.sock" version
	ctr --address "$S/containerd/containerd.sock" -n k8s.io images import "$S/pause.oci.tar" >/dev/null
	local img
	for img in "$@"; do
		ctr --address "$S/containerd/containerd.sock" -n k8s.io images import "$img" >/dev/null
		log "imported $img"
	done
	# The kubelet wants its cgroup root to exist in every hierarchy.
	for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[[ -f "$d/cgroup.procs" ]] && mkdir -p "$d$CGROUP_ROOT"
	done
	start kubelet "$bins/kubelet" --config "$S/kubelet/config.yaml" --kubeconfig "$S/kubelet.kubeconfig" \
		--root-dir "$S/kubelet" --cert-dir "$S/pki/kubelet" --hostname-override "$NODE" --node-ip "$NODE_IP"
	start kube-proxy "$bins/kube-proxy" --config "$S/kube-proxy.yaml"
	local k=("$envtest/kubectl" --kubeconfig "$S/admin.kubeconfig")
	wait_for "a Ready node" 120 node_ready "${k[@]}"
	wait_for "the default service account" 60 "${k[@]}" -n default get serviceaccount default
	alive etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy
	trap - EXIT
	log "up: node $NODE Ready at $NODE_IP; $(printf 'KUBECONFIG=%s' "$S/admin.kubeconfig")"
}

case "${1:-}" in
up)
	shift
	up "$@"
	;;
down)
	[[ $(id -u) == 0 ]] || die "must run as root"
	down
	;;
env)
	[[ -f "$S/env" ]] || die "no cluster is up (hack/cluster.sh up)"
	cat "$S/env"
	;;
host-state)
	host_state
	;;
*)
	die "usage: hack/cluster.sh up [IMAGE.oci.tar...] | down | env | host-state"
	;;
esac
