package sandbox

import (
	"errors"
	"runtime"
	"sync"
	"time"
)

// Idle confined threads are bounded by idleStartersPerTask for each task
// that may run at once (a task's commands use a few domains; a pipeline
// of two, two), and never fewer than minIdleStarters. Each holds about
// 50 KiB of kernel and runtime memory until it ends.
const (
	idleStartersPerTask = 4
	minIdleStarters     = 16
)

// starterIdle is how long a confined thread waits for another command
// of its domain before it ends.
const starterIdle = 5 * time.Second

var errStartersClosed = errors.New("sandbox: closed")

// starters keeps threads that are confined to a domain, to start later
// children of the same domain. A domain is the task's directory and the
// programs one command may execute; confining a fresh thread for each
// command (a thread, a Landlock ruleset and its enforcement, a seccomp
// filter compiled anew) costs about as much as the child's own exec.
// A domain can never be left, so a thread serves only its own domain,
// and it ends (the runtime destroys a thread whose goroutine ends
// locked to it) when it has been idle for starterIdle, when maxIdle are
// idle already, or when the sandbox closes.
type starters struct {
	maxIdle int
	mu      sync.Mutex
	idle    map[string][]*starter
	nIdle   int
	closed  bool
	running sync.WaitGroup
}

// starter is one confined thread; jobs are run on it, and closing jobs
// ends it.
type starter struct {
	key   string
	jobs  chan func()
	since time.Time // idle since
}

// take returns an idle starter of domain key, or nil.
func (p *starters) take(key string) *starter {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[key]
	if len(list) == 0 {
		return nil
	}
	st := list[len(list)-1]
	p.remove(st)
	return st
}

// remove takes st off the idle list; the caller holds mu.
func (p *starters) remove(st *starter) bool {
	list := p.idle[st.key]
	for i, s := range list {
		if s == st {
			if list = append(list[:i], list[i+1:]...); len(list) == 0 {
				delete(p.idle, st.key)
			} else {
				p.idle[st.key] = list
			}
			p.nIdle--
			return true
		}
	}
	return false
}

// spawn starts a thread, confines it with confine and returns it, taken
// by the caller. A domain that cannot be confined ends its thread.
func (p *starters) spawn(key string, confine func() error) (*starter, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errStartersClosed
	}
	p.running.Add(1)
	p.mu.Unlock()
	st := &starter{key: key, jobs: make(chan func())}
	ready := make(chan error, 1)
	go p.serve(st, confine, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return st, nil
}

func (p *starters) serve(st *starter, confine func() error, ready chan<- error) {
	defer p.running.Done()
	// The domain is applied to this thread only, and children inherit it
	// at fork. The thread is never unlocked, so the runtime destroys it
	// when this goroutine returns instead of running other goroutines on
	// it; new threads are never cloned from a locked thread (the runtime
	// uses its template thread).
	runtime.LockOSThread()
	if err := confine(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	idle := time.NewTimer(starterIdle)
	defer idle.Stop()
	for {
		select {
		case job, ok := <-st.jobs:
			if !ok {
				return
			}
			job()
			idle.Reset(starterIdle)
		case <-idle.C:
			if p.retire(st) {
				return
			}
			// Taken meanwhile: its job is on the way.
			idle.Reset(starterIdle)
		}
	}
}

// run runs job on st's thread.
func (st *starter) run(job func()) {
	done := make(chan struct{})
	st.jobs <- func() { job(); close(done) }
	<-done
}

// put gives st back for a later command of its domain, or ends it. When
// maxIdle are idle, the one idle longest ends instead.
func (p *starters) put(st *starter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || st.key == "" || p.maxIdle == 0 {
		close(st.jobs)
		return
	}
	if p.nIdle >= p.maxIdle {
		var oldest *starter
		for _, list := range p.idle {
			if oldest == nil || list[0].since.Before(oldest.since) {
				oldest = list[0]
			}
		}
		p.remove(oldest)
		close(oldest.jobs)
	}
	st.since = time.Now()
	if p.idle == nil {
		p.idle = map[string][]*starter{}
	}
	p.idle[st.key] = append(p.idle[st.key], st)
	p.nIdle++
}

// retire ends an idle st, unless a caller has just taken it.
func (p *starters) retire(st *starter) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remove(st)
}

// close ends every starter (those in use when they are given back) and
// waits for their threads.
func (p *starters) close() {
	p.mu.Lock()
	p.closed = true
	for _, list := range p.idle {
		for _, st := range list {
			close(st.jobs)
		}
	}
	p.idle, p.nIdle = nil, 0
	p.mu.Unlock()
	p.running.Wait()
}
