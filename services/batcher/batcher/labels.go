package batcher

import "strings"

func trimLower(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }
