package demo

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDelays reads "0,10,25" (one-way milliseconds, 0..10000) into
// durations; "" is none.
func ParseDelays(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		ms, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || ms < 0 || ms > 10000 {
			return nil, fmt.Errorf("delays %q: want milliseconds 0..10000, comma-separated", s)
		}
		out = append(out, time.Duration(ms)*time.Millisecond)
	}
	return out, nil
}
