package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxDelay bounds the one-way delay: beyond it the line would need more
// slots than any sensible queue holds.
const maxDelay = 10 * time.Second

// command is one parsed control line.
type command struct {
	verb     string // "set" or "get"
	delay    time.Duration
	loss     float64
	hasDelay bool
	hasLoss  bool
}

// parseCommand parses a control line:
//
//	set delay=10ms loss=0.01   (either key may be left out)
//	get
func parseCommand(line string) (command, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return command{}, errors.New("empty command")
	}
	c := command{verb: f[0]}
	switch c.verb {
	case "get":
		if len(f) != 1 {
			return command{}, errors.New("get takes no arguments")
		}
		return c, nil
	case "set":
	default:
		return command{}, fmt.Errorf("unknown command %q (want set or get)", f[0])
	}
	if len(f) == 1 {
		return command{}, errors.New("set needs delay=DURATION and/or loss=FRACTION")
	}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return command{}, fmt.Errorf("%q is not key=value", kv)
		}
		switch k {
		case "delay":
			d, err := parseDelay(v)
			if err != nil {
				return command{}, err
			}
			c.delay, c.hasDelay = d, true
		case "loss":
			p, err := parseLoss(v)
			if err != nil {
				return command{}, err
			}
			c.loss, c.hasLoss = p, true
		default:
			return command{}, fmt.Errorf("unknown key %q (want delay or loss)", k)
		}
	}
	return c, nil
}

func parseDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("delay %q: %v", s, err)
	}
	if d < 0 || d > maxDelay {
		return 0, fmt.Errorf("delay %v outside 0..%v", d, maxDelay)
	}
	return d, nil
}

func parseLoss(s string) (float64, error) {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(p) || p < 0 || p >= 1 {
		return 0, fmt.Errorf("loss %q: want a fraction in [0,1)", s)
	}
	return p, nil
}
