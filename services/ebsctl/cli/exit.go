package cli

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes beyond ExitOK, ExitFailure and ExitUsage (cli.go).
const (
	ExitNotFound    = 3 // the batch or package does not exist
	ExitAuth        = 4 // missing/invalid token, or not an admin
	ExitUnavailable = 5 // the status service cannot be reached
)

// exitFor prints err and returns the exit code scripts can rely on.
func exitFor(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "ebsctl %s: %v\n", cmd, err)
		return ExitUsage
	}
	s, _ := status.FromError(err)
	fmt.Fprintf(stderr, "ebsctl %s: %s\n", cmd, s.Message())
	switch s.Code() {
	case codes.NotFound:
		return ExitNotFound
	case codes.Unauthenticated, codes.PermissionDenied:
		if s.Code() == codes.Unauthenticated {
			fmt.Fprintln(stderr, "  (pass --token-file FILE or set EBS_TOKEN; get a token from /trigger?show_token=1 after logging in)")
		}
		return ExitAuth
	case codes.Unavailable, codes.DeadlineExceeded:
		return ExitUnavailable
	case codes.InvalidArgument:
		return ExitUsage
	}
	return ExitFailure
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }
