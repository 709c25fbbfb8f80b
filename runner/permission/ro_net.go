package permission

import (
	"net/url"
	"strings"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/egress"
)

// Read-only use of network diagnosis tools: name lookups, reachability,
// sockets and routes, HTTP fetches that send nothing and write nothing
// outside the workspace, TLS inspection.

func addNet(add roAdd) {
	add("dig", roProgram{posix: false, opts: "-4 -6 -b= -c= -m -p= -q= -r -t= -u -x= -y= -h -v", reads: "-f=",
		refuse: map[string]string{"-k=": "signs queries with a key file"}, operands: opsText})
	add("nslookup", roProgram{anyOption: true, operands: opsText})
	add("host", roProgram{opts: "-a -A -c= -C -d -l -m= -N= -r -R= -s -t= -T -U -v -V -w -W= -4 -6", operands: opsText})
	add("ping ping6", roProgram{opts: "-4 -6 -c= -i= -I= -n -q -s= -t= -W= -w= -D -O -v -a -A -l= -M= -Q= -S= -T= -p= -B -b -d -L -r -R -U",
		needs: "-c -w", bound: "give -c N", operands: opsText, refuse: map[string]string{"-f": "floods the network"}})
	add("traceroute traceroute6 tcptraceroute", roProgram{opts: "-4 -6 -I --icmp -T --tcp -U --udp -n -m= --max-hops= -f= --first= -q= --queries= -w= --wait= -p= --port= -s= --source= -i= --interface= -N= --sim-queries= -z= --sendwait= -A --as-path-lookups -e --extensions -F --dont-fragment",
		operands: opsText})
	add("tracepath tracepath6", roProgram{opts: "-4 -6 -n -b -l= -m= -p=", operands: opsText})
	add("mtr", roProgram{opts: "-r --report -w --report-wide -c= --report-cycles= -n --no-dns -b --show-ips -4 -6 -T --tcp -u --udp -P= --port= -i= --interval= -j --json -C --csv -x --xml -z --aslookup -s= --psize= -m= --max-ttl= -Z= --timeout=",
		needs: "-r --report -w --report-wide -j --json -C --csv -x --xml", bound: "use mtr -r -c N", operands: opsText})
	add("nc ncat netcat", roProgram{opts: "-z -v -vv -n -w= -4 -6 -u", needs: "-z", bound: "use nc -z HOST PORT to test a port", operands: opsText})
	add("ss", roProgram{anyOption: true, reads: "-F= --filter=", operands: opsText,
		refuse: map[string]string{"-K --kill": "closes sockets", "-D= --diag=": "writes raw socket data to a file", "-E --events": "runs until stopped"}})
	add("netstat", roProgram{anyOption: true, operands: opsText, never: "-c --continuous", bound: "use netstat without -c"})
	add("ifconfig", roProgram{opts: "-a -s -v", operands: opsText, most: 1})
	add("route", roProgram{opts: "-n --numeric -e --extend -v --verbose -F --fib -C --cache -4 -6 -A=", operands: opsNone})
	add("arp", roProgram{opts: "-a -n --numeric -e -v --verbose -i= --device= -H= --hw-type=", operands: opsText})
	add("iptables ip6tables iptables-legacy iptables-nft", roProgram{opts: "-L --list -S --list-rules -n --numeric -v --verbose -x --exact --line-numbers -t= --table= -w[=] --wait[=]",
		needs: "-L --list -S --list-rules", bound: "use -L or -S to list rules", operands: opsText})
	add("iptables-save ip6tables-save", roProgram{opts: "-t= --table= -c --counters", operands: opsNone})
	add("nft", roProgram{posix: true, opts: "-a --handle -n --numeric -s --stateless -j --json -N -S --service -y --numeric-priority -t --terse",
		verbs: []roVerb{{"list", use(roProgram{operands: opsText})}}})
	add("curl", roProgram{opts: "-d= --data= --data-binary= --data-raw= --data-ascii= --data-urlencode= -s --silent -S --show-error -f --fail --fail-with-body -k --insecure -v --verbose -i --include -I --head -L --location " +
		"-m= --max-time= --connect-timeout= -H= --header= -X= --request= -A= --user-agent= -e= --referer= --resolve= --connect-to= --compressed " +
		"-4 --ipv4 -6 --ipv6 --http1.0 --http1.1 --http2 --http3 -u= --user= --cacert= --capath= -E= --cert= --key= --cert-type= --key-type= " +
		"--retry= --retry-delay= --retry-max-time= --retry-all-errors -N --no-buffer -w= --write-out= -G --get --url= --unix-socket= --abstract-unix-socket= " +
		"-x= --proxy= --noproxy= -q --disable --no-progress-meter --progress-bar -# -Z --parallel --path-as-is --globoff -g -b= --cookie= --max-filesize= " +
		"--tlsv1 --tlsv1.0 --tlsv1.1 --tlsv1.2 --tlsv1.3 --tls-max= --ciphers= --oauth2-bearer= --aws-sigv4= --digest --basic --ntlm --negotiate --anyauth " +
		"--ssl-no-revoke --trace-time --raw --interface= --dns-servers= --local-port= -r= --range= -z= --time-cond= --limit-rate= --speed-limit= -y= -Y= --speed-time=",
		writes: "-o= --output=",
		refuse: map[string]string{
			"--json= -F= --form= --form-string= -T= --upload-file=": "sends data to the server",
			"-K= --config=": "reads options from a file the check does not see",
			"-O --remote-name --remote-name-all -J --remote-header-name --output-dir= --create-dirs":                            "writes files named by the server",
			"-c= --cookie-jar= -D= --dump-header= --trace= --trace-ascii= --stderr= --libcurl= --etag-save= --hsts= --alt-svc=": "writes a file",
			"--variable= --expand-url= --expand-header= --url-query=":                                                           "expands values that may read files",
			"--proto= --proto-redir= --proto-default=":                                                                          "allows other protocols",
		},
		operands: opsText, then: curlReadOnly})
	add("wget", roProgram{opts: "-q --quiet -S --server-response --spider -T= --timeout= -t= --tries= --no-check-certificate --header= --method= -U= --user-agent= " +
		"--ca-certificate= --certificate= --private-key= --user= --password= --max-redirect= -4 -6 --no-verbose -nv --show-progress",
		writes:   "-O= --output-document=",
		refuse:   map[string]string{"--post-data= --post-file= --body-data= --body-file=": "sends data to the server", "-i= --input-file= -e= --execute= --config=": "reads commands or URLs from a file", "-o= --output-file= -a= --append-output= -P= --directory-prefix= -r --recursive -m --mirror -c --continue -N --timestamping -x --force-directories": "writes files"},
		operands: opsText, then: wgetReadOnly})
	add("openssl", roProgram{posix: true, singleDash: true, verbs: []roVerb{
		{"s_client", use(roProgram{singleDash: true, opts: "-connect= -servername= -noservername -showcerts -brief -state -debug -msg -trace -status -verify= -verify_return_error -verify_hostname= " +
			"-CAfile= -CApath= -cert= -key= -pass= -alpn= -starttls= -tls1 -tls1_1 -tls1_2 -tls1_3 -no_tls1_3 -cipher= -ciphersuites= -crlf -quiet -ign_eof -prexit -host= -port= -4 -6 -timeout -sigalgs= -groups= -curves= -ign_eof -nocommands",
			refuse: map[string]string{"-keylogfile= -sess_out= -msgfile= -out=": "writes a file", "-sess_in= -reconnect": "reuses sessions"}, then: connectTarget})},
		{"rsa ec pkey", use(roProgram{singleDash: true, opts: "-in= -inform= -noout -modulus -check -pubout -passin=", needs: "-noout -pubout",
			bound: "give -noout (or -pubout): without it the private key is printed", refuse: map[string]string{"-text -out=": "prints or writes the private key"}})},
		{"x509 crl req verify asn1parse dgst md5 sha1 sha256 sha512 version ciphers", use(roProgram{singleDash: true, reads: "-in= -CAfile=", opts: "-noout -text -dates -enddate -startdate -subject -issuer -serial -fingerprint " +
			"-sha1 -sha256 -md5 -modulus -pubkey -ext= -nameopt= -inform= -email -purpose -hash -subject_hash -issuer_hash -ocspid -ocsp_uri -alias -checkend= -checkhost= -checkip= " +
			"-verify -check -pubin -pubout -noverify -v -a -s -untrusted= -CApath= -crl_check -crl_check_all -partial_chain -show_chain -verbose -certopt= -r -c",
			refuse: map[string]string{"-out= -signkey= -new -newkey= -x509 -req -sign= -key= -passout= -keyout= -genkey -set_serial= -days=": "creates, signs or writes keys and certificates"}, operands: opsFiles})},
	}})
}

// curlReadOnly: GET or HEAD only; URLs over http(s) to no protected
// address; no header, format or cookie read from a file.
func curlReadOnly(j *judgement, p parsedArgs, operands []word) {
	for _, m := range p.values("-X", "--request") {
		if !m.known || (strings.ToUpper(m.text) != "GET" && strings.ToUpper(m.text) != "HEAD") {
			j.no("curl -X %s sends a request that may change state; only GET and HEAD are read-only", m.src)
		}
	}
	for _, h := range p.values("-H", "--header", "-w", "--write-out") {
		if !h.known && j.later(h) && !strings.HasPrefix(h.src, "@") && !strings.HasPrefix(h.src, `"@`) {
			continue // checked again with its value
		}
		if !h.known || strings.HasPrefix(h.text, "@") || strings.Contains(h.text, "%output{") {
			j.no("curl %s reads or writes a file", h.src)
		}
	}
	// Data goes into the query string of a GET with -G; without it, in
	// the body of a POST. `@file` (`name@file` for --data-urlencode)
	// sends a file.
	for _, o := range p.opts {
		if o.opt == nil || !strings.Contains(" -d --data --data-binary --data-raw --data-ascii --data-urlencode ", " "+o.name+" ") {
			continue
		}
		switch {
		case !givenAny(p, "-G --get"):
			j.no("curl %s sends data in a POST; add -G to send it as a query", o.name)
		case !o.value.known && !j.later(o.value):
			j.no("curl %s data known only at run time may name a file", o.name)
		case o.value.known && o.name != "--data-raw" && strings.Contains(o.value.text, "@"):
			j.no("curl %s %s sends a local file", o.name, o.value.src)
		}
	}
	for _, b := range p.values("-b", "--cookie") {
		if !b.known || !strings.Contains(b.text, "=") {
			j.read(b) // a cookie file
		}
	}
	for _, u := range append(operands, p.values("--url", "-x", "--proxy")...) {
		j.fetches(u)
	}
	// --resolve HOST:PORT:ADDR and --connect-to H1:P1:H2:P2 send the
	// request to another address.
	for _, r := range p.values("--resolve", "--connect-to") {
		if j.runTime(r, "curl sends the request to an address known only at run time") {
			continue
		}
		for _, part := range strings.FieldsFunc(strings.ReplaceAll(r.text, "[", ""), func(c rune) bool { return c == ':' || c == ',' || c == ']' }) {
			if egress.ProtectedHost(part) && (!isDigits(part) || len(part) > 5) { // a port has at most 5 digits
				j.no("curl %s sends the request to a link-local or cloud metadata address", r.src)
			}
		}
	}
}

// wgetReadOnly: GET or HEAD; every URL checked; the document goes to
// standard output, /dev/null or a file in the workspace.
func wgetReadOnly(j *judgement, p parsedArgs, operands []word) {
	for _, m := range p.values("--method") {
		if !m.known || (strings.ToUpper(m.text) != "GET" && strings.ToUpper(m.text) != "HEAD") {
			j.no("wget --method %s may change state", m.src)
		}
	}
	if !givenAny(p, "-O --output-document --spider") {
		j.no("wget saves the document under a name the server chooses; use wget -O - or -O FILE")
	}
	for _, u := range operands {
		j.fetches(u)
	}
}

// fetches judges a URL an HTTP client fetches.
func (j *judgement) fetches(w word) {
	if j.runTime(w, "fetches a URL known only at run time (%s)", w.src) {
		return
	}
	raw := w.text
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		j.no("cannot read the URL %s: %v", w.src, err)
		return
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		j.no("fetches %s over %s; only http and https are read-only", w.src, u.Scheme)
		return
	}
	if strings.ContainsAny(u.Host, "{}[]") && !strings.HasPrefix(u.Host, "[") {
		j.no("the URL %s is a pattern of many URLs", w.src)
		return
	}
	if egress.ProtectedHost(u.Hostname()) || embedsProtected(u.Hostname()) {
		j.no("fetches %s, a link-local or cloud metadata address that hands out credentials", w.src)
	}
}

// embedsProtected reports a name that spells a protected address in its
// labels, as wildcard DNS services resolve them (169.254.169.254.nip.io,
// 169-254-169-254.sslip.io). Other names are not resolved here.
func embedsProtected(host string) bool {
	labels := strings.Split(strings.ToLower(host), ".")
	for i := 0; i+4 <= len(labels); i++ {
		if egress.ProtectedHost(strings.Join(labels[i:i+4], ".")) && isDigits(labels[i]) {
			return true
		}
	}
	for _, l := range labels {
		if strings.Count(l, "-") >= 3 && egress.ProtectedHost(strings.ReplaceAll(l, "-", ".")) {
			return true
		}
	}
	return false
}

// connectTarget: s_client's -connect is a host:port.
func connectTarget(j *judgement, p parsedArgs, _ []word) {
	for _, c := range p.values("-connect") {
		if j.runTime(c, "connects to an address known only at run time") {
			continue
		}
		host := c.text
		if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
			host = host[:i]
		}
		if egress.ProtectedHost(host) {
			j.no("connects to %s, a link-local or cloud metadata address", c.src)
		}
	}
}

// ipReadOnly: `ip [OPTIONS] OBJECT [show|list|get …]`, objects and
// verbs matched by prefix as ip matches them.
func ipReadOnly(j *judgement, args []word) {
	i := 0
	for ; i < len(args) && args[i].known && strings.HasPrefix(args[i].text, "-"); i++ {
		switch strings.TrimLeft(args[i].text, "-") {
		case "s", "stats", "statistics", "d", "details", "br", "brief", "c", "color", "j", "json", "p", "pretty", "4", "6", "o", "oneline", "r", "resolve", "N", "Numeric", "h", "human", "a", "all":
		case "n", "netns", "f", "family":
			i++ // their value
		default:
			j.no("ip %s is not among its read-only options", args[i].src)
			return
		}
	}
	if i >= len(args) {
		return // usage
	}
	object := args[i]
	if !object.known {
		j.no("ip object named only at run time")
		return
	}
	objects := []string{"address", "link", "route", "neighbour", "neighbor", "rule", "netns", "maddress", "tunnel", "tuntap", "addrlabel", "ntable", "mroute", "netconf", "nexthop", "stats", "vrf", "xfrm", "l2tp", "macsec", "mptcp", "sr", "tcp_metrics", "token", "fou", "ila", "ioam", "monitor"}
	name := ""
	for _, o := range objects {
		if strings.HasPrefix(o, object.text) {
			name = o
			break
		}
	}
	switch name {
	case "":
		j.no("ip %s is not an object ip reads", object.src)
		return
	case "monitor":
		j.no("ip monitor runs until it is stopped")
		return
	case "xfrm":
		j.no("ip xfrm shows IPsec keys")
		return
	}
	rest := args[i+1:]
	if len(rest) == 0 {
		return // the object's default: show
	}
	verb := rest[0]
	if !verb.known {
		j.no("ip %s verb named only at run time", name)
		return
	}
	for _, v := range []string{"show", "list", "lst", "get"} {
		if strings.HasPrefix(v, verb.text) && (verb.text != "" && (v != "get" || name == "route" || name == "neighbour" || name == "neighbor")) {
			return
		}
	}
	if name == "netns" && (verb.text == "identify" || verb.text == "list-id" || verb.text == "pids") {
		return
	}
	if strings.HasPrefix(verb.text, "-") || name == "link" && verb.text == "dev" {
		return // `ip link -s`, `ip link dev eth0`: still show
	}
	j.no("ip %s %s changes the network configuration; read-only verbs are show, list and get", name, verb.src)
}

// firewallReadOnly: firewall-cmd's --list-*, --get-*, --query-*,
// --info-* and --state, in any zone.
func firewallReadOnly(j *judgement, args []word) {
	for _, w := range args {
		if !w.known {
			j.no("firewall-cmd option known only at run time")
			return
		}
		name, _, _ := strings.Cut(w.text, "=")
		switch {
		case name == "--state" || name == "--zone" || name == "--permanent":
		case strings.HasPrefix(name, "--list-"), strings.HasPrefix(name, "--get-"), strings.HasPrefix(name, "--query-"), strings.HasPrefix(name, "--info-"):
		default:
			j.no("firewall-cmd %s changes the firewall or is not a read", w.src)
			return
		}
	}
}
