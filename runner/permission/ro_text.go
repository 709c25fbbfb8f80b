package permission

import "strings"

// Read-only use of text tools and shell builtins. Each entry is one
// program: the options that keep it read-only, what its operands are.
// Options a program has but that write, run or never end are either
// missing (so not read-only) or listed in refuse/never with the reason.

// roTable holds every program whose read-only use is data; it is built
// once and never changed.
var roTable = roPrograms()

func roPrograms() map[string]*roProgram {
	t := map[string]*roProgram{}
	add := func(names string, p roProgram) {
		spec := use(p)
		for _, n := range strings.Fields(names) {
			t[n] = spec
		}
	}
	addText(add)
	addHost(add)
	addNet(add)
	addCluster(add)
	return t
}

// roAdd registers one program's use under its names.
type roAdd func(names string, p roProgram)

func addText(add roAdd) {
	// Builtins and shell keywords the interpreter runs itself.
	add("echo", roProgram{posix: true, anyOption: true, operands: opsText})
	add("printf", roProgram{posix: true, opts: "-v=", operands: opsText, then: printfName})
	add("test [ [[ (( let true false : pwd shift exit return break continue wait getopts type unset set shopt", roProgram{posix: true, anyOption: true, operands: opsText})
	add("read", roProgram{anyOption: true, operands: opsText, refuse: map[string]string{"-u=": "reads another descriptor"}})
	add("cd pushd popd", roProgram{posix: true, opts: "-L -P", operands: opsFiles, most: 1})
	add("sleep", roProgram{operands: opsText})
	add("which", roProgram{opts: "-a -s", operands: opsText})
	add("command", roProgram{posix: true, opts: "-v -V -p", operands: opsText})
	add("ulimit", roProgram{anyOption: true, operands: opsNone})
	add("umask", roProgram{opts: "-S -p", operands: opsNone})

	// Wrappers: the command they run is checked as a command of its own
	// (wrappers.go), so only their own options are judged here.
	add("timeout", roProgram{posix: true, opts: "-s= --signal= -k= --kill-after= --preserve-status --foreground -v --verbose", operands: opsText})
	add("time", roProgram{posix: true, opts: "-p", operands: opsText})
	add("nice", roProgram{posix: true, numeric: true, opts: "-n= --adjustment=", operands: opsText})
	add("stdbuf", roProgram{posix: true, opts: "-i= -o= -e= --input= --output= --error=", operands: opsText})
	add("sudo", roProgram{posix: true, opts: "-n --non-interactive -u= --user= -g= --group= -H --set-home", operands: opsText,
		refuse: map[string]string{"-e --edit": "edits files", "-s --shell -i --login": "starts a shell that reads commands the check cannot see"}})
	add("xargs", roProgram{posix: true, opts: "-0 --null -d= --delimiter= -n= --max-args= -L= --max-lines= -l[=] -I= -i[=] --replace[=] -r --no-run-if-empty -t --verbose -P= --max-procs= -s= --max-chars= -x --exit -E= -e[=] --eof[=]",
		reads: "-a= --arg-file=", operands: opsText, refuse: map[string]string{"-p --interactive -o --open-tty": "reads answers from the terminal"}})
	add("tee", roProgram{opts: "-a --append -i --ignore-interrupts -p --output-error[=]", operands: opsText}) // its files: the tee gadget checks them as writes
	add("bash sh dash", roProgram{posix: true, opts: "-c -e -u -x -v -f -n -E -o= --noprofile --norc --posix", operands: opsText, then: shellScript})
	add("env printenv", roProgram{posix: true, opts: "-0 --null -i --ignore-environment -u= --unset= -v --debug", operands: opsText, then: envAssignments})

	// Text tools.
	grep := roProgram{opts: "-i -y --ignore-case --no-ignore-case -v --invert-match -w --word-regexp -x --line-regexp -c --count --color[=] --colour[=] " +
		"-L --files-without-match -l --files-with-matches -m= --max-count= -o --only-matching -q --quiet --silent -s --no-messages -b --byte-offset " +
		"-H --with-filename -h --no-filename --label= -n --line-number -T --initial-tab -Z --null -z --null-data -A= --after-context= -B= --before-context= " +
		"-C= --context= -a --text -I --binary-files= -D= --devices= -d= --directories= --exclude= --exclude-dir= --include= -r --recursive " +
		"-R --dereference-recursive --line-buffered -U --binary -E --extended-regexp -F --fixed-strings -G --basic-regexp -P --perl-regexp -e= --regexp=",
		reads: "-f= --file= --exclude-from=", tree: "-r --recursive -R --dereference-recursive -d", numeric: true, operands: opsPattern}
	add("grep egrep fgrep zgrep", grep)
	add("rg", roProgram{anyOption: true, reads: "-f= --file= --ignore-file=", tree: "*", operands: opsPattern,
		refuse: map[string]string{"--pre=": "runs a program on every file", "--pre-glob=": "runs a program on every file", "-z --search-zip": "runs decompression programs"}})
	add("awk gawk mawk nawk", roProgram{posix: true, opts: "-F= --field-separator= -v= --assign= -b --characters-as-bytes -c --traditional -P --posix -r --re-interval " +
		"-S --sandbox -t --lint-old -n --non-decimal-data -O --optimize -s --no-optimize -N --use-lc-numeric -M --bignum",
		refuse:   map[string]string{"-e= --source= -f= --file= -i= --include= -E= --exec= -l= --load= -W=": "runs an awk program the check does not read here; give the program as the first operand"},
		operands: opsText, then: awkOperands})
	add("sed gsed", roProgram{opts: "-n --quiet --silent -e= --expression= -E -r --regexp-extended -s --separate -u --unbuffered -z --null-data --posix --debug --sandbox -l= --line-length=",
		refuse:   map[string]string{"-i[=] --in-place[=]": "edits files in place", "-f= --file=": "runs a sed script file the check does not read here"},
		operands: opsText, then: sedOperands})
	add("jq", roProgram{opts: "-r --raw-output -j --join-output -a --ascii-output -c --compact-output -n --null-input -s --slurp -e --exit-status " +
		"-S --sort-keys -C --color-output -M --monochrome-output --tab --indent= -R --raw-input --seq --stream --stream-errors --unbuffered -0 --raw-output0 " +
		"--args --jsonargs", twoValues: "--arg --argjson",
		refuse:   map[string]string{"-L= --library-path=": "loads jq modules", "-f= --from-file=": "runs a jq program file the check does not read here", "--slurpfile= --rawfile=": "reads a second file by name"},
		operands: opsText, then: jqOperands})
	add("yq", roProgram{opts: "-r --unwrapScalar -o= --output-format= -p= --input-format= -e --exit-status -P --prettyPrint -I= --indent= -j -C --colors -M --no-colors " +
		"-N --no-doc -n --null-input -0 --nul-output -s= --split-exp= --header-preprocess --no-header-preprocess --xml-attribute-prefix= --csv-separator=",
		refuse: map[string]string{"-i --inplace": "edits files in place", "--from-file=": "runs an expression file the check does not read here"},
		verbs:  []roVerb{{"eval e eval-all ea", use(roProgram{operands: opsText, then: yqOperands})}},
		bare:   true, optional: true,
		operands: opsText, then: yqOperands})
	files := roProgram{operands: opsFiles}
	add("cat", roProgram{opts: "-A --show-all -b --number-nonblank -e -E --show-ends -n --number -s --squeeze-blank -t -T --show-tabs -u -v --show-nonprinting", operands: opsFiles})
	add("head", roProgram{opts: "-c= --bytes= -n= --lines= -q --quiet --silent -v --verbose -z --zero-terminated", numeric: true, operands: opsFiles})
	add("tail", roProgram{opts: "-c= --bytes= -n= --lines= -q --quiet --silent -v --verbose -z --zero-terminated -s= --sleep-interval= --retry --max-unchanged-stats= --pid=",
		never: "-f --follow[=] -F", bound: "use tail -n N (without -f)", numeric: true, operands: opsFiles})
	add("wc", roProgram{opts: "-c --bytes -m --chars -l --lines -w --words -L --max-line-length --total=", reads: "--files0-from=", operands: opsFiles})
	add("cut", roProgram{opts: "-b= --bytes= -c= --characters= -d= --delimiter= -f= --fields= -n --complement -s --only-delimited --output-delimiter= -z --zero-terminated", operands: opsFiles})
	add("tr", roProgram{opts: "-c -C --complement -d --delete -s --squeeze-repeats -t --truncate-set1", operands: opsText})
	add("sort", roProgram{opts: "-b --ignore-leading-blanks -d --dictionary-order -f --ignore-case -g --general-numeric-sort -i --ignore-nonprinting -M --month-sort " +
		"-h --human-numeric-sort -n --numeric-sort -R --random-sort -r --reverse -V --version-sort --sort= -c --check[=] -C -k= --key= -m --merge -s --stable " +
		"-t= --field-separator= -u --unique -z --zero-terminated -S= --buffer-size= --parallel= --debug",
		refuse: map[string]string{"-o= --output=": "writes a file", "-T= --temporary-directory= --compress-program=": "writes or runs outside the check"}, operands: opsFiles})
	add("uniq", roProgram{opts: "-c --count -d --repeated -D --all-repeated[=] -f= --skip-fields= --group[=] -i --ignore-case -s= --skip-chars= -u --unique -z --zero-terminated -w= --check-chars=",
		operands: opsFiles, most: 1})
	add("column", roProgram{opts: "-t --table -s= --separator= -o= --output-separator= -c= --output-width= -x --fillrows -n -N= --table-columns= -R= --table-right= -J --json " +
		"-e --table-noextreme= -d --table-noheadings -H= --table-hide= -O= --table-order= -r= --tree= -i= --tree-id= -p= --tree-parent= -l= --table-columns-limit= -L --keep-empty-lines",
		operands: opsFiles})
	add("paste", roProgram{opts: "-d= --delimiters= -s --serial -z --zero-terminated", operands: opsFiles})
	add("nl tac rev fold fmt expand unexpand", roProgram{anyOption: true, operands: opsFiles})
	add("comm join diff cmp", roProgram{anyOption: true, operands: opsFiles, tree: "-r --recursive",
		refuse: map[string]string{"--to-file= --from-file=": "compares a file named in an option", "-o= --output=": "writes a file"}})
	add("base64 base32", roProgram{opts: "-d --decode -i --ignore-garbage -w= --wrap=", operands: opsFiles, most: 1})
	add("md5sum sha1sum sha256sum sha512sum b2sum cksum", roProgram{opts: "-b --binary -t --text -c --check --tag -z --zero --ignore-missing --quiet --status --strict -w --warn -a= --algorithm= -l= --length= --untagged --base64 --raw", operands: opsFiles})
	add("strings", roProgram{opts: "-a --all -d --data -f --print-file-name -n= --bytes= -t= --radix= -e= --encoding= -w --include-all-whitespace -s= --output-separator=", operands: opsFiles})
	add("od hexdump", roProgram{anyOption: true, operands: opsFiles})
	add("xxd", roProgram{anyOption: true, operands: opsFiles, most: 1, refuse: map[string]string{"-r --reverse": "writes binary data back"}})
	add("file", roProgram{opts: "-b --brief -i --mime --mime-type --mime-encoding -L --dereference -h --no-dereference -z --uncompress -k --keep-going -s --special-files -N --no-pad -0 --print0", operands: opsFiles})
	add("stat", roProgram{opts: "-L --dereference -f --file-system -c= --format= --printf= -t --terse --cached=", operands: opsText})
	add("ls", roProgram{anyOption: true, operands: opsText})
	add("tree", roProgram{anyOption: true, reads: "--fromfile", operands: opsText, refuse: map[string]string{"-o=": "writes a file", "-R": "writes 00Tree.html files"}})
	add("readlink realpath basename dirname", roProgram{anyOption: true, operands: opsText})
	add("hostname", roProgram{opts: "-f --fqdn --long -i --ip-address -I --all-ip-addresses -s --short -d --domain -A --all-fqdns -a --alias -y --yp --nis", operands: opsNone})
	add("seq expr numfmt nproc id whoami groups logname tty arch uname uptime", roProgram{anyOption: true, operands: opsText})
	add("du", roProgram{anyOption: true, reads: "--files0-from=", operands: opsText})
	add("df", roProgram{anyOption: true, operands: opsText})
	add("find", roProgram{anyOption: true, operands: opsText, then: findReadOnly})
	add("zcat gzcat bzcat xzcat zstdcat", files)
	add("date", roProgram{reads: "-f= --file=", opts: "-d= --date= -I[=] --iso-8601[=] -R --rfc-email --rfc-3339= -r= --reference= -u --utc --universal --debug",
		refuse: map[string]string{"-s= --set=": "sets the clock"}, operands: opsText, then: dateOperand})
}

// shellScript: `bash -c SCRIPT`, whose commands are checked as commands
// (shells.go); without -c a shell reads a script the check does not see.
func shellScript(j *judgement, p parsedArgs, _ []word) {
	if !givenAny(p, "-c") {
		j.no("%s without -c runs a script the check does not read; give the commands with -c", j.name)
	}
}

// printfName: `printf -v NAME` assigns a plain variable; a subscript
// (`a[$(…)]`) would be evaluated.
func printfName(j *judgement, p parsedArgs, _ []word) {
	for _, v := range p.values("-v") {
		if !v.known || !isName(v.text) {
			j.no("printf -v %s assigns more than a plain variable", v.src)
		}
	}
}

// envAssignments: env's NAME=VALUE operands before its command must not
// steer that command.
func envAssignments(j *judgement, _ parsedArgs, operands []word) {
	for _, w := range operands {
		if !w.known || !isAssignment(w.text) {
			return
		}
		name, _, _ := strings.Cut(w.text, "=")
		if IsSteeringVariable(name) {
			j.no("env %s steers what the command runs, reads or reaches", name)
		}
	}
}

// awkOperands: the first operand is the program (its system(), pipes and
// writes are checked by the awk gadget); the rest are files or
// assignments. getline and ARGV read files the operands do not name.
func awkOperands(j *judgement, _ parsedArgs, operands []word) {
	if len(operands) == 0 {
		return
	}
	prog := operands[0]
	if !prog.known {
		j.no("the awk program is known only at run time")
		return
	}
	text := stripAwkStrings(prog.text)
	for _, s := range []string{"getline", "ARGV", "ARGC", "PROCINFO", "@"} {
		if strings.Contains(text, s) {
			j.no("the awk program uses %s, which may read files or values the check does not see", s)
			return
		}
	}
	for _, f := range operands[1:] {
		if f.known && strings.Contains(f.text, "=") && isName(strings.SplitN(f.text, "=", 2)[0]) {
			continue // an assignment
		}
		j.read(f)
	}
}

// sedOperands: the script (first operand, or -e values) may read files
// with r/R; the rest are files read.
func sedOperands(j *judgement, p parsedArgs, operands []word) {
	scripts := p.values("-e", "--expression")
	files := operands
	if len(scripts) == 0 && len(files) > 0 {
		scripts, files = files[:1], files[1:]
	}
	for _, s := range scripts {
		if !s.known {
			j.no("the sed script is known only at run time")
			continue
		}
		sc, ok := readSed(s.text)
		if !ok {
			j.no("the check cannot read this sed script")
		}
		for _, r := range sc.reads {
			j.read(knownWord(r))
		}
	}
	for _, f := range files {
		j.read(f)
	}
}

// jqOperands: the filter, then files. A filter that imports modules
// reaches more than its input.
func jqOperands(j *judgement, p parsedArgs, operands []word) {
	if len(operands) == 0 {
		return
	}
	filter := operands[0]
	if givenAny(p, "--args --jsonargs") {
		operands = operands[:1] // the rest are arguments, not files
	}
	if filter.known && (strings.Contains(filter.text, "import") || strings.Contains(filter.text, "include")) {
		j.no("the jq filter loads modules")
	}
	for _, f := range operands[1:] {
		j.read(f)
	}
}

// yqOperands: the expression, then files; load() reads files by name.
func yqOperands(j *judgement, _ parsedArgs, operands []word) {
	for i, w := range operands {
		for _, s := range []string{"load", "env"} {
			if w.known && strings.Contains(w.text, s) {
				j.no("the yq expression uses %s, which reads files or the environment", s)
			}
		}
		if i > 0 || looksLikeFile(w.src) {
			j.read(w)
		}
	}
}

// looksLikeFile tells a yq operand that is a file (yq's first operand
// may be one when no expression is given).
func looksLikeFile(s string) bool {
	return strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml") || strings.HasSuffix(s, ".json") || strings.HasPrefix(s, "/")
}

// findReadOnly: find lists names and reads no content, but its actions
// run programs (checked as commands by the find gadget), write lists or
// delete.
func findReadOnly(j *judgement, _ parsedArgs, operands []word) {
	for _, w := range operands {
		if !w.known {
			continue
		}
		switch w.text {
		case "-files0-from":
			j.no("find -files0-from reads starting points from a file, and shows them")
		case "-delete", "-fprint", "-fprint0", "-fprintf", "-fls":
			j.no("find %s deletes or writes files", w.text)
		case "-exec", "-execdir", "-ok", "-okdir":
			j.no("find %s runs a command for every file found", w.text)
		}
	}
}

// dateOperand: an operand other than +FORMAT sets the clock.
func dateOperand(j *judgement, _ parsedArgs, operands []word) {
	for _, w := range operands {
		if w.known && !strings.HasPrefix(w.text, "+") {
			j.no("date %s sets the clock; give a +FORMAT", w.src)
		}
	}
}
