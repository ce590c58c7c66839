package commands

import "strings"

func join(s []string) string { return strings.Join(s, ", ") }

// oneLine is an error as one line (error lines never wrap).
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
