package lease

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// kubeconfig is the part of a kubeconfig file the Lease needs: the
// current context's server and credentials. Exec plugins and auth
// providers are not supported: a runner outside a pod that stands by
// uses a token, a client certificate or impersonation.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server     string `yaml:"server"`
			CAData     string `yaml:"certificate-authority-data"`
			CA         string `yaml:"certificate-authority"`
			SkipVerify bool   `yaml:"insecure-skip-tls-verify"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token     string   `yaml:"token"`
			TokenFile string   `yaml:"tokenFile"`
			CertData  string   `yaml:"client-certificate-data"`
			KeyData   string   `yaml:"client-key-data"`
			Cert      string   `yaml:"client-certificate"`
			Key       string   `yaml:"client-key"`
			As        string   `yaml:"as"`
			AsGroups  []string `yaml:"as-groups"`
			Exec      any      `yaml:"exec"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// fromKubeconfig fills the server and an HTTP client from the kubeconfig
// at path (the first file of a KUBECONFIG list).
func fromKubeconfig(path string, o *Options) error {
	path = strings.Split(path, string(os.PathListSeparator))[0]
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("lease: read kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return fmt.Errorf("lease: parse kubeconfig %s: %w", path, err)
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(path), p)
	}
	var clusterName, userName string
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName = c.Context.Cluster, c.Context.User
		}
	}
	if clusterName == "" {
		return fmt.Errorf("lease: kubeconfig %s: no current context", path)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		o.Server = c.Cluster.Server
		tlsCfg.InsecureSkipVerify = c.Cluster.SkipVerify //nolint:gosec // the kubeconfig's own choice
		ca, err := dataOrFile(c.Cluster.CAData, rel(c.Cluster.CA))
		if err != nil {
			return err
		}
		if ca != nil {
			tlsCfg.RootCAs = x509.NewCertPool()
			if !tlsCfg.RootCAs.AppendCertsFromPEM(ca) {
				return fmt.Errorf("lease: kubeconfig %s: no certificate in the cluster's CA", path)
			}
		}
	}
	if o.Server == "" {
		return fmt.Errorf("lease: kubeconfig %s: cluster %q has no server", path, clusterName)
	}
	headers := http.Header{}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		if u.User.Exec != nil {
			return fmt.Errorf("lease: kubeconfig %s: exec credential plugins are not supported for the Lease", path)
		}
		cert, err := dataOrFile(u.User.CertData, rel(u.User.Cert))
		if err != nil {
			return err
		}
		key, err := dataOrFile(u.User.KeyData, rel(u.User.Key))
		if err != nil {
			return err
		}
		if cert != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return fmt.Errorf("lease: kubeconfig %s: client certificate: %w", path, err)
			}
			tlsCfg.Certificates = []tls.Certificate{pair}
		}
		switch {
		case u.User.Token != "":
			headers.Set("Authorization", "Bearer "+u.User.Token)
		case u.User.TokenFile != "":
			o.TokenFile = rel(u.User.TokenFile)
		}
		if u.User.As != "" {
			headers.Set("Impersonate-User", u.User.As)
			for _, g := range u.User.AsGroups {
				headers.Add("Impersonate-Group", g)
			}
		}
	}
	o.Client = &http.Client{Timeout: o.Retry * 3, Transport: &withHeaders{headers: headers,
		next: &http.Transport{TLSClientConfig: tlsCfg}}}
	return nil
}

func dataOrFile(data, file string) ([]byte, error) {
	switch {
	case data != "":
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, errors.New("lease: kubeconfig: bad base64 data")
		}
		return b, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("lease: kubeconfig: %w", err)
		}
		return b, nil
	}
	return nil, nil
}

// withHeaders adds the kubeconfig's credentials to every request.
type withHeaders struct {
	headers http.Header
	next    http.RoundTripper
}

func (w *withHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range w.headers {
		r.Header[k] = v
	}
	return w.next.RoundTrip(r)
}
