package permission

import (
	"path"
	"strings"
)

// Secret files: what read-only use never reads and shows. The kernel
// sandbox keeps the runner's own files (its configuration) from children
// and from the interpreter's own reads, so they are not named here: the
// stand-alone workspace lives beside them, in ~/.flashduty-runner. These
// are the
// credentials the pod and the host hold for others (kubectl itself must
// read the service-account token, so only the check can keep it from
// other programs).

// secretDirs hold nothing but secrets, at these absolute paths.
var secretDirs = []struct{ dir, what string }{
	{"/var/run/secrets", "the pod's service-account token and mounted secrets"},
	{"/run/secrets", "the pod's service-account token and mounted secrets"},
	{"/var/lib/kubelet/pki", "the kubelet's private keys"},
	{"/var/lib/etcd", "etcd's data, every Secret of the cluster included"},
	{"/etc/ssl/private", "private keys"},
	{"/var/lib/rancher/k3s/server", "the cluster's tokens and keys"},
	{"/etc/rancher/k3s", "a kubeconfig with administrator credentials"},
}

// secretFiles are absolute paths (path.Match patterns) of secret files.
var secretFiles = []struct{ pattern, what string }{
	{"/etc/shadow", "password hashes"},
	{"/etc/gshadow", "password hashes"},
	{"/etc/shadow-", "password hashes"},
	{"/etc/kubernetes/*.conf", "a kubeconfig with cluster credentials"},
	{"/proc/*/environ", "another process's environment"},
	{"/proc/*/task/*/environ", "another process's environment"},
	{"/proc/*/mem", "another process's memory"},
	{"/proc/kcore", "the kernel's memory"},
	{"/dev/mem", "physical memory"},
	{"/dev/kmem", "the kernel's memory"},
}

// safeDevices are the device files that show no other file's data; any
// other (a disk, a partition) may hold every secret of the node.
var safeDevices = map[string]bool{"/dev/null": true, "/dev/zero": true, "/dev/random": true, "/dev/urandom": true,
	"/dev/stdin": true, "/dev/stdout": true, "/dev/stderr": true, "/dev/fd/0": true, "/dev/tty": true}

// secretNames are path elements (or pairs of them) that name credentials
// wherever they are: in a home directory, a workspace, a mount.
var secretNames = []struct{ elems, what string }{
	{".kube", "kubeconfigs"},
	{".aws/credentials", "cloud credentials"},
	{".aws/sso", "cloud credentials"},
	{".config/gcloud", "cloud credentials"},
	{".azure", "cloud credentials"},
	{".docker/config.json", "registry credentials"},
	{".ssh", "SSH keys"},
	{".gnupg", "private keys"},
	{".netrc", "passwords"},
	{".git-credentials", "passwords"},
	{".pgpass", "passwords"},
	{".my.cnf", "passwords"},
	{".vault-token", "a Vault token"},
	{"kubeconfig", "a kubeconfig"},
	{".config/gh", "a GitHub token"},
	{".config/helm/registry", "registry credentials"},
	{".config/containers/auth.json", "registry credentials"},
	{"containers/auth.json", "registry credentials"},
	{".terraform.d/credentials.tfrc.json", "a Terraform token"},
	{".npmrc", "a registry token"},
	{".pypirc", "a registry password"},
	{".cargo/credentials", "a registry token"},
	{".cargo/credentials.toml", "a registry token"},
	{".boto", "cloud credentials"},
	{".s3cfg", "cloud credentials"},
	{"gitlab-secrets.json", "GitLab's secrets"},
	{"letsencrypt/archive", "private keys"},
}

// secretSuffixes are file name endings of credentials.
var secretSuffixes = []struct{ suffix, what string }{
	{".kubeconfig", "a kubeconfig"},
	{".key", "a private key"},
	{"id_rsa", "an SSH key"},
	{"id_ecdsa", "an SSH key"},
	{"id_ed25519", "an SSH key"},
	{"id_dsa", "an SSH key"},
	{"_key", "a private key (an SSH host key)"},
	{".p12", "a key store"},
	{".pfx", "a key store"},
	{".jks", "a key store"},
	{".keystore", "a key store"},
}

// secretPrefixes are file name beginnings of credentials.
var secretPrefixes = []struct{ prefix, what string }{
	{"privkey", "a private key"},
}

// secretPath says what secret a clean path names ("" for none).
func secretPath(p string) string {
	for _, d := range secretDirs {
		if within(p, d.dir) {
			return d.what
		}
	}
	for _, f := range secretFiles {
		if ok, _ := path.Match(f.pattern, p); ok {
			return f.what
		}
	}
	if strings.HasPrefix(p, "/dev/") && !safeDevices[p] && !strings.HasPrefix(p, "/dev/fd/") {
		return "a device, whose raw data may hold any file's"
	}
	elems := "/" + strings.Trim(p, "/") + "/"
	for _, n := range secretNames {
		if strings.Contains(elems, "/"+n.elems+"/") {
			return n.what
		}
	}
	base := path.Base(p)
	for _, s := range secretSuffixes {
		if strings.HasSuffix(base, s.suffix) {
			return s.what
		}
	}
	for _, s := range secretPrefixes {
		if strings.HasPrefix(base, s.prefix) {
			return s.what
		}
	}
	return ""
}

// secretBelow says what secret lies below a directory read recursively:
// one of the absolute secret directories, or any home directory.
func secretBelow(dir string) string {
	if !path.IsAbs(dir) {
		return "" // the workspace: secret names in it are checked by name
	}
	for _, d := range secretDirs {
		if within(d.dir, dir) {
			return d.what
		}
	}
	for _, f := range secretFiles {
		if within(path.Dir(f.pattern), dir) || strings.HasPrefix(f.pattern, dir+"/") {
			return f.what
		}
	}
	if within("/etc/kubernetes/pki", dir) {
		return "the cluster's private keys"
	}
	if dir == "/" || within("/root", dir) || within("/home", dir) {
		return "home directories, with their credentials"
	}
	return ""
}
