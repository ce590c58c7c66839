package commands

import "strings"

func join(s []string) string { return strings.Join(s, ", ") }
