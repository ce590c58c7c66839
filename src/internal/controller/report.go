package controller

// ContainerResult is what happened at one container.
type ContainerResult struct {
	Container                                       string
	Err                                             error // unreachable, or the first failed call
	Relevant                                        bool  // holds a desired guest or a recorded copy in scope
	Defined, Started, Stopped, Destroyed, Undefined int
}

// Changes is the number of state-changing calls made there.
func (r ContainerResult) Changes() int {
	return r.Defined + r.Started + r.Stopped + r.Destroyed + r.Undefined
}

// Blocked is a guest that should run where the database says and does
// not, and why. Guest is "" for a pass-wide reason.
type Blocked struct {
	Guest  string
	Reason string
}

func (b Blocked) String() string {
	if b.Guest == "" {
		return b.Reason
	}
	return b.Guest + ": " + b.Reason
}

// Report is the outcome of one Reconcile.
type Report struct {
	Containers []ContainerResult // by name
	Blocked    []Blocked         // guests not running where they should, by name
	Guests     int               // guests in scope that should run
	Running    int               // of those, running where they should after this pass
	Calls      int               // state-changing agent calls made
	Revived    []int64           // Filter.Revive containers whose stale copies are all gone
}

// Converged reports whether everything in scope is as the database says.
func (r *Report) Converged() bool {
	if len(r.Blocked) > 0 {
		return false
	}
	for _, c := range r.Containers {
		if c.Err != nil && c.Relevant {
			return false
		}
	}
	return true
}

// Failures are the containers that failed (relevant or not).
func (r *Report) Failures() []ContainerResult {
	var out []ContainerResult
	for _, c := range r.Containers {
		if c.Err != nil {
			out = append(out, c)
		}
	}
	return out
}

func (r *Report) block(guest, reason string) { r.Blocked = append(r.Blocked, Blocked{guest, reason}) }
