package status

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedora-eln/ebs/libs/auth"
	"github.com/fedora-eln/ebs/libs/store"
)

// Typed errors of the service. grpcError maps them (and the errors of the
// libraries below) to gRPC codes in one place; the gateway and the
// compatible HTTP endpoints derive HTTP statuses from those codes.
var (
	ErrInvalid     = errors.New("invalid argument")
	ErrNotFound    = errors.New("not found")
	ErrUnavailable = errors.New("unavailable")
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func notFound(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, a...))
}

// code returns the gRPC code of err.
func code(err error) codes.Code {
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, store.ErrBadPageToken):
		return codes.InvalidArgument
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound), errors.Is(err, jetstream.ErrKeyNotFound):
		return codes.NotFound
	case errors.Is(err, auth.ErrUnauthenticated):
		return codes.Unauthenticated
	case errors.Is(err, auth.ErrForbidden):
		return codes.PermissionDenied
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, ErrUnavailable), errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrTimeout):
		return codes.Unavailable
	}
	return codes.Internal
}

// grpcError turns err into a gRPC status error (nil stays nil). Internal
// errors keep their text out of the reply; they are logged instead.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	c := code(err)
	if c == codes.Internal {
		return status.Error(c, "internal error")
	}
	return status.Error(c, err.Error())
}

// httpStatus is the HTTP status of err for the compatible endpoints.
func httpStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return runtime.HTTPStatusFromCode(code(err))
}
