package permission

import "strings"

// Read-only use of host inspection tools: processes, memory, disks,
// kernel log, systemd, container runtimes.

func addHost(add roAdd) {
	// Processes and resources.
	add("ps", roProgram{anyOption: true, operands: opsText, then: psEnvironment})
	add("top", roProgram{opts: "-b --batch -n= --iterations= -d= --delay= -c -H -i -o= -O -p= -u= -U= -w[=] -1 -E= -e= -S -s", needs: "-b --batch",
		bound: "use top -b -n 1", then: iterations})
	add("iotop", roProgram{opts: "-b --batch -n= --iter= -d= --delay= -o --only -P --processes -a --accumulated -k --kilobytes -t --time -q --quiet -p= -u=", needs: "-b --batch",
		bound: "use iotop -b -n 3", then: iterations})
	add("free", roProgram{anyOption: true, operands: opsNone, never: "-s= --seconds=", bound: "use free without -s"})
	add("vmstat iostat mpstat pidstat", roProgram{anyOption: true, operands: opsText, then: intervalCount})
	add("sar", roProgram{anyOption: true, operands: opsText, refuse: map[string]string{"-o=": "writes a data file"}, then: intervalCount})
	add("conntrack", roProgram{opts: "-L --dump -S --stats -C --count -p= --proto= -s= --src= -d= --dst= --sport= --dport= -n --src-nat --dst-nat -o= --output= -f= --family= -z", operands: opsNone, needs: "-L --dump -S --stats -C --count", bound: "use -L, -S or -C to list or count"})
	add("ipvsadm", roProgram{opts: "-L -l --list -n --numeric --stats --rate --timeout --connection -c --exact --sort -t= -u= -f= -S --save", operands: opsNone, needs: "-L -l --list -S --save", bound: "use -L -n to list"})
	add("pg_isready", roProgram{opts: "-h= --host= -p= --port= -d= --dbname= -U= --username= -t= --timeout= -q --quiet", operands: opsNone})
	add("rabbitmqctl", roProgram{anyOption: true, verbs: []roVerb{{"status cluster_status list_queues list_exchanges list_bindings list_connections list_channels list_consumers list_users list_vhosts list_policies environment report node_health_check ping", use(roProgram{anyOption: true, operands: opsText})}}})
	add("tcpdump", roProgram{opts: "-c= -i= --interface= -n -nn -N -v -vv -vvv -e -q -t -tt -ttt -tttt -s= --snapshot-length= -l -A -X -XX -x -xx -D --list-interfaces -p --no-promiscuous-mode -Q= -y= -B= -#",
		needs: "-c -D --list-interfaces", bound: "give -c N", operands: opsText,
		refuse: map[string]string{"-w= -C= -G= -W= -z= -Z=": "writes capture files or runs a program on them", "-r= -F= -V=": "reads a file"}})
	add("lsof", roProgram{anyOption: true, operands: opsText, refuse: map[string]string{"-r[=]": "repeats until stopped"}})
	add("uptime nproc lscpu lsmem lspci lsusb lsblk lsns w who last lastlog getenforce sestatus dmidecode", roProgram{anyOption: true, operands: opsText})
	add("blkid", roProgram{opts: "-p --probe -o= --output= -s= --match-tag= -t= --match-token= -l --list-one -L= --label= -U= --uuid= -i --info -k --list-filesystems", operands: opsText})
	add("findmnt", roProgram{anyOption: true, operands: opsText, never: "-p --poll[=]", bound: "use findmnt without --poll"})
	add("mount", roProgram{opts: "-l --show-labels -t= --types=", operands: opsNone})
	add("smartctl", roProgram{opts: "-a --all -x --xall -i --info -H --health -A --attributes -c --capabilities -l= --log= -d= --device= -T= --tolerance= -j --json[=] -q= --quietmode= -n= --nocheck= -f= --format=", operands: opsText})
	add("getent", roProgram{opts: "-s= --service= -i --no-idn", operands: opsText, then: getentDatabase})
	add("sysctl", roProgram{opts: "-a -A -X --all -n --values -N --names -e --ignore -b --binary -q --quiet -r= --pattern= -d", operands: opsText, then: sysctlReadOnly})
	add("dmesg", roProgram{opts: "-T --ctime -t --notime -H --human -k --kernel -u --userspace -x --decode -L[=] --color[=] -l= --level= -f= --facility= -r --raw -S --syslog " +
		"-F= --file= -s= --buffer-size= --time-format= -e --reltime -d --show-delta -P --nopager -J --json -p --force-prefix --since= --until=",
		never: "-w --follow -W --follow-new", bound: "use dmesg without -w", operands: opsNone,
		refuse: map[string]string{"-c --read-clear -C --clear -D --console-off -E --console-on -n= --console-level=": "changes the kernel log"}})
	add("journalctl", roProgram{numeric: true, opts: "-u= --unit= --user-unit= -b[=] --boot[=] -k --dmesg -n[=] --lines[=] -e --pager-end -r --reverse -o= --output= " +
		"--output-fields= -x --catalog -q --quiet -a --all --no-pager --no-full --full -l -S= --since= -U= --until= -p= --priority= -t= --identifier= " +
		"-T= --exclude-identifier= -g= --grep= --case-sensitive[=] --facility= -F= --field= -N --fields --list-boots --disk-usage --utc --no-hostname " +
		"--no-tail -m --merge -D= --directory= --file= --cursor= --after-cursor= --show-cursor --system --user --header --verify --invocation= -I",
		never: "-f --follow", bound: "use journalctl -n N or --since/--until (without -f)", operands: opsText,
		refuse: map[string]string{"--vacuum-size= --vacuum-time= --vacuum-files= --rotate --flush --sync --relinquish-var --smart-relinquish-var --setup-keys --update-catalog": "changes the journal",
			"-M= --machine= --root= --image=": "reads another system's journal"}})

	// systemd and other service managers: status only.
	unit := use(roProgram{operands: opsText})
	add("systemctl", roProgram{opts: "--no-pager -l --full -a --all -t= --type= --state= -p= --property= -P= --value -n= --lines= -o= --output= --failed --user --system " +
		"--no-legend --plain -q --quiet -r --recursive --reverse --after --before --with-dependencies --show-types --legend[=] --timestamp=",
		refuse: map[string]string{"-H= --host= -M= --machine= -C= --capsule=": "runs the command on another system"},
		verbs: []roVerb{{"status show cat list-units list-unit-files list-sockets list-timers list-jobs list-dependencies list-automounts list-paths " +
			"is-active is-enabled is-failed is-system-running get-default", unit}}, bare: true})
	add("service", roProgram{opts: "--status-all", operands: opsText, then: serviceStatus})
	add("sv", roProgram{opts: "-v -w=", verbs: []roVerb{{"status s", unit}}})
	add("hostnamectl timedatectl localectl", roProgram{opts: "--no-pager --no-ask-password -a --all -p= --property= --value --json= --static --transient --pretty",
		refuse: map[string]string{"-H= --host= -M= --machine=": "runs the command on another system"},
		verbs:  []roVerb{{"status show show-timesync timesync-status list-timezones list-locales list-keymaps", unit}}, bare: true})
	add("chronyc", roProgram{posix: true, opts: "-n -c -a -h= -p= -4 -6", verbs: []roVerb{{"tracking sources sourcestats activity ntpdata serverstats selectdata authdata rtcdata waitsync", unit}}})
	add("ntpq", roProgram{opts: "-p --peers -n --numeric -4 -6 -w --wide", operands: opsText})
	add("gitlab-ctl", roProgram{verbs: []roVerb{{"status service-list", unit}}})

	// Container runtimes on the node: list and inspect.
	docker := roProgram{pflag: true, opts: "-H= --host= --context= -c= -l= --log-level= -D --debug --tls --tlsverify --tlscacert= --tlscert= --tlskey=",
		refuse: map[string]string{"--config=": "reads another client configuration, whose credential helpers run programs"},
		verbs:  containerVerbs()}
	add("docker podman nerdctl", docker)
	cri := roProgram{pflag: true, opts: "-r= --runtime-endpoint= -i= --image-endpoint= -t= --timeout= -D --debug",
		refuse: map[string]string{"-c= --config=": "reads another client configuration"},
		verbs: []roVerb{
			{"ps pods images img imagefsinfo version info", use(roProgram{opts: "-a --all -q --quiet -o= --output= --name= --pod= -p= --label= --state= -s= --no-trunc --last= -n= " +
				"--latest -l -v --verbose --image= --digests --pinned --namespace= --id= --template=", operands: opsText})},
			{"inspect inspecti inspectp", use(roProgram{opts: "-o= --output= -q --quiet --template=", operands: opsText})},
			{"stats statsp", use(roProgram{opts: "-a --all -o= --output= --id= --label= --pod= -p= -s= --seconds=", never: "-w --watch", bound: "use crictl stats without -w", operands: opsText})},
			{"logs", use(roProgram{opts: "--tail= --since= -t --timestamps -p --previous --limit-bytes= -r --reverse", never: "-f --follow", bound: "use crictl logs --tail N (without -f)", operands: opsText})},
		}}
	add("crictl", cri)
	list := use(roProgram{opts: "-q --quiet", operands: opsText})
	add("ctr", roProgram{posix: true, opts: "-n= --namespace= -a= --address= --timeout= --connect-timeout= --debug",
		verbs: []roVerb{
			{"containers c container", use(roProgram{verbs: []roVerb{{"ls list info", list}}})},
			{"images image i", use(roProgram{verbs: []roVerb{{"ls list check", list}}})},
			{"tasks t task", use(roProgram{verbs: []roVerb{{"ls list ps metrics", list}}})},
			{"namespaces namespace ns", use(roProgram{verbs: []roVerb{{"ls list", list}}})},
			{"snapshots snapshot", use(roProgram{opts: "--snapshotter=", verbs: []roVerb{{"ls list info usage", list}}})},
			{"plugins plugin", use(roProgram{verbs: []roVerb{{"ls list", list}}})},
			{"version", list},
		}})
}

// containerVerbs are the read-only subcommands docker, podman and
// nerdctl share.
func containerVerbs() []roVerb {
	show := use(roProgram{opts: "-a --all -q --quiet -n= --last= -l --latest -s --size --no-trunc -f= --filter= --format= --digests --type= --tree", operands: opsText})
	logs := use(roProgram{opts: "--tail= -n= --since= --until= -t --timestamps --details", never: "-f --follow", bound: "use logs --tail N (without -f)", operands: opsText})
	stats := use(roProgram{opts: "-a --all --no-trunc --format= --no-stream", needs: "--no-stream", bound: "use stats --no-stream", operands: opsText})
	events := use(roProgram{opts: "--since= --until= -f= --filter= --format=", needs: "--until", bound: "give --until", operands: opsText})
	objects := use(roProgram{verbs: []roVerb{{"ls list ps inspect top port diff history df info", show}, {"logs", logs}, {"stats", stats}}})
	return []roVerb{
		{"ps images inspect top port diff history version info", show},
		{"logs", logs},
		{"stats", stats},
		{"events", events},
		{"container network volume image system", objects},
	}
}

// psEnvironment: BSD-style `ps e` shows each process's environment, the
// runner's own and its secrets included.
func psEnvironment(j *judgement, _ parsedArgs, operands []word) {
	for _, w := range operands {
		if w.known && !strings.HasPrefix(w.text, "-") && strings.ContainsRune(w.text, 'e') && isLetters(w.text) {
			j.no("ps %s shows other processes' environments", w.text)
		}
	}
}

func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return s != ""
}

// iterations: batch-mode top and iotop still need a count to end.
func iterations(j *judgement, p parsedArgs, _ []word) {
	if !givenAny(p, "-n --iterations --iter") {
		j.no("%s without -n runs until it is stopped; give -n N", j.name)
	}
}

// intervalCount: `vmstat 1` reports forever; `vmstat 1 5` five times.
func intervalCount(j *judgement, _ parsedArgs, operands []word) {
	var numbers int
	for _, w := range operands {
		if !w.known || isDigits(w.text) {
			numbers++
		}
	}
	if numbers == 1 {
		j.no("%s with an interval and no count runs until it is stopped; add a count (%s 1 5)", j.name, j.name)
	}
}

// getentDatabase: the shadow databases hold password hashes.
func getentDatabase(j *judgement, _ parsedArgs, operands []word) {
	if len(operands) > 0 && (!operands[0].known || strings.Contains(operands[0].text, "shadow")) {
		j.no("getent %s may read password hashes", operands[0].src)
	}
}

// sysctlReadOnly: NAME=VALUE sets a kernel parameter.
func sysctlReadOnly(j *judgement, _ parsedArgs, operands []word) {
	for _, w := range operands {
		if !w.known || strings.Contains(w.text, "=") {
			j.no("sysctl %s sets a kernel parameter", w.src)
		}
	}
}

// serviceStatus: `service NAME status` and `service --status-all` only.
func serviceStatus(j *judgement, _ parsedArgs, operands []word) {
	switch {
	case len(operands) == 0:
	case len(operands) == 2 && operands[1].known && operands[1].text == "status":
	default:
		j.no("service: read-only use is `service NAME status`")
	}
}
