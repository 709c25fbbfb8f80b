// Package hostinfo describes the host for heartbeats: the environment
// block sent after each connect and the optional resource gauges.
package hostinfo

import (
	"bufio"
	"bytes"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/protocol"
)

// Host gathers facts about the machine the runner is on.
type Host struct {
	// Root is the file system prefix for /proc and /etc (tests point it at
	// a fixture tree); "" means the real root.
	Root          string
	WorkspaceRoot string
	Now           func() time.Time

	mu       sync.Mutex
	lastIdle uint64
	lastAll  uint64
}

// Environment returns the environment block.
func (h *Host) Environment() protocol.Environment {
	now := h.now()
	hostname, _ := os.Hostname()
	home, _ := os.UserHomeDir()
	zone, _ := now.Zone()
	return protocol.Environment{
		OS:            runtime.GOOS,
		OSVersion:     h.osVersion(),
		Arch:          runtime.GOARCH,
		Hostname:      hostname,
		Shell:         "bash", // commands run in an embedded bash-compatible interpreter
		HomeDir:       home,
		WorkspaceRoot: h.WorkspaceRoot,
		Username:      username(),
		NumCPU:        runtime.NumCPU(),
		TotalMemoryMB: h.memInfo()["MemTotal"] / 1024,
		CurrentTime:   now.Format(time.RFC3339),
		Timezone:      zone,
		UTCOffset:     now.Format("-07:00"),
	}
}

func (h *Host) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Metrics returns the gauges it can measure; unknown ones are omitted.
func (h *Host) Metrics() *protocol.Metrics {
	m := &protocol.Metrics{}
	if cpu, ok := h.cpuPercent(); ok {
		m.CPUPercent = &cpu
	}
	mi := h.memInfo()
	if total, avail := mi["MemTotal"], mi["MemAvailable"]; total > 0 && avail <= total {
		v := round1(100 * float64(total-avail) / float64(total))
		m.MemoryPercent = &v
	}
	if h.WorkspaceRoot != "" {
		var st syscall.Statfs_t
		if err := syscall.Statfs(h.WorkspaceRoot, &st); err == nil && st.Blocks > 0 {
			v := round1(100 * float64(st.Blocks-st.Bavail) / float64(st.Blocks))
			m.DiskPercent = &v
		}
	}
	return m
}

// cpuPercent is the busy share of all CPUs since the previous call.
func (h *Host) cpuPercent() (float64, bool) {
	data, err := os.ReadFile(h.Root + "/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, false
	}
	var all, idle uint64
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, false
		}
		all += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	dAll, dIdle := all-h.lastAll, idle-h.lastIdle
	first := h.lastAll == 0
	h.lastAll, h.lastIdle = all, idle
	if first || dAll == 0 || dIdle > dAll {
		return 0, false
	}
	return round1(100 * float64(dAll-dIdle) / float64(dAll)), true
}

// memInfo reads /proc/meminfo in KiB.
func (h *Host) memInfo() map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(h.Root + "/proc/meminfo")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
			out[k] = v
		}
	}
	return out
}

func (h *Host) osVersion() string {
	if data, err := os.ReadFile(h.Root + "/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	if data, err := os.ReadFile(h.Root + "/proc/sys/kernel/osrelease"); err == nil {
		return strings.TrimSpace(string(data))
	}
	return ""
}

// username falls back to the uid: containers often run as a uid with no
// passwd entry.
func username() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
