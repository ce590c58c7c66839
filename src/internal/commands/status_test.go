package commands

import (
	"errors"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/controller"
)

// TestActualState: what list vcluster status prints as a guest's actual
// state, from its container's answer and where else it runs.
func TestActualState(t *testing.T) {
	a := &controller.Container{Site: "A", Host: "vm-container-0-0"}
	on := &controller.Guest{Name: "vm-vc1-0", On: true}
	off := &controller.Guest{Name: "vm-vc1-0"}
	answer := func(state string) *controller.Seen {
		s := &controller.Seen{Container: a}
		if state != "" {
			s.Status.Guests = []agentapi.GuestInfo{{Name: "vm-vc1-0", State: state}}
		}
		return s
	}
	for _, c := range []struct {
		what  string
		g     *controller.Guest
		s     *controller.Seen
		where []string
		want  string
	}{
		{"running where it should", on, answer("running"), []string{"A/vm-container-0-0"}, "running"},
		{"not defined there", on, answer(""), nil, "absent"},
		{"agent silent", on, &controller.Seen{Container: a, Err: errors.New("timeout")}, nil, "unknown (agent unreachable)"},
		{"not surveyed", on, nil, nil, "unknown (agent unreachable)"},
		{"desired off, still running", off, answer("running"), []string{"A/vm-container-0-0"}, "running (stopping)"},
		{"desired off, shut off", off, answer("shutoff"), nil, "shutoff"},
		{"a second copy", on, answer("running"), []string{"A/vm-container-0-0", "B/vm-container-0-1"}, "running (ALSO RUNNING ON B/vm-container-0-1)"},
		{"only elsewhere", on, answer(""), []string{"C/vm-container-0-2"}, "absent (ALSO RUNNING ON C/vm-container-0-2)"},
	} {
		if got := actualState(c.g, a, c.s, c.where); got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, got, c.want)
		}
	}
}
