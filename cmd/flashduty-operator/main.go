// Command flashduty-operator reconciles FlashdutyRunner resources into
// runner Deployments.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/controllers"
)

// Set by -ldflags.
var version = "dev"

// DefaultRunnerImage is used when a FlashdutyRunner names no image.
const DefaultRunnerImage = "ghcr.io/flashcatcloud/flashduty-runner-k8s/runner:latest"

func main() {
	var (
		metricsAddr, probeAddr, watchNamespace, runnerImage string
		leaderElect, secureMetrics, enableHTTP2             bool
		apiHosts, bindable, clusterName                     string
		tenancy                                             controllers.Tenancy
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "metrics address (:8443 for HTTPS, :8080 for HTTP, 0 to disable)")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "health probe address")
	flag.BoolVar(&leaderElect, "leader-elect", false, "elect a leader (for more than one operator replica)")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "serve metrics over HTTPS with authentication and authorization")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "serve metrics over HTTP/2 (off: HTTP/2 stream-reset attacks)")
	flag.StringVar(&watchNamespace, "watch-namespace", "", "only reconcile FlashdutyRunners in this namespace and the runner-set namespace (default all)")
	flag.StringVar(&runnerImage, "runner-image", DefaultRunnerImage, "runner image for FlashdutyRunners that name none")
	flag.StringVar(&clusterName, "cluster-name", "", "prefix registered runner names with this cluster's name and add a cluster:<name> label (for fleets)")
	flag.StringVar(&apiHosts, "allowed-api-hosts", controllers.DefaultAPIHosts, "comma-separated platform hosts (host or host:port) a runner's apiURL may name; * allows any")
	flag.BoolVar(&tenancy.AllowInsecureAPIURL, "allow-insecure-api-url", false, "allow ws:// apiURLs (the API key then travels unencrypted: tests and demos only)")
	flag.StringVar(&bindable, "bindable-cluster-roles", "", "comma-separated ClusterRoles that spec.rbac.clusterRoles may name (the operator's RBAC must hold bind on them)")
	flag.BoolVar(&tenancy.AllowClusterView, "allow-cluster-view", false, "allow the cluster-view RBAC preset (a ClusterRoleBinding to view for each such runner)")
	flag.StringVar(&tenancy.RunnerSetNamespace, "runner-set-namespace", os.Getenv("POD_NAMESPACE"), "the only namespace whose runner-set ConfigMaps are honoured (default: the operator's own, from POD_NAMESPACE; empty honours none)")
	flag.BoolVar(&tenancy.CrossNamespaceRunnerSets, "cross-namespace-runner-sets", false, "let runner sets create runners in namespaces labelled "+controllers.LabelAcceptRunnerSets+"=true")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	tenancy.AllowedAPIHosts = splitList(apiHosts)
	tenancy.BindableClusterRoles = splitList(bindable)
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(fdv1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	cacheOpts := cache.Options{
		// Only the operator's own Deployments are cached in full.
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}: {Label: labels.SelectorFromSet(labels.Set{controllers.LabelManagedBy: controllers.ManagedBy})},
			// Only the runners' own cluster bindings, not every one.
			&rbacv1.ClusterRoleBinding{}: {Label: labels.SelectorFromSet(labels.Set{controllers.LabelManagedBy: controllers.ManagedBy})},
		},
	}
	if watchNamespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{watchNamespace: {}}
		if ns := tenancy.RunnerSetNamespace; ns != "" {
			// The runner sets live in the operator's namespace, and so do
			// their runners: watched too, or they would silently vanish.
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "flashduty-operator.flashduty.flashcat.cloud",
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOpts,
	})
	if err != nil {
		log.Error(err, "unable to create the manager")
		os.Exit(1)
	}
	if err := controllers.Setup(mgr, controllers.Options{RunnerImage: runnerImage, ClusterName: clusterName, Tenancy: tenancy}); err != nil {
		log.Error(err, "unable to set up the controllers")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))
	log.Info("starting", "version", version, "watch_namespace", watchNamespace, "runner_image", runnerImage,
		"allowed_api_hosts", tenancy.AllowedAPIHosts, "bindable_cluster_roles", tenancy.BindableClusterRoles,
		"allow_cluster_view", tenancy.AllowClusterView, "runner_set_namespace", tenancy.RunnerSetNamespace)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "flashduty-operator stopped")
}

// splitList reads a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
