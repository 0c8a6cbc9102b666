package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Interceptors enforce the admin rule on gRPC: every method in mutating
// needs an admin caller identified by "authorization: Bearer <token>"
// metadata; other methods run with whatever caller there is (or none). The
// grpc-gateway forwards the session cookie as "grpcgateway-cookie"; it
// identifies the caller of read-only calls but, as on HTTP, never
// authorizes a mutation.
type Interceptors struct {
	A *Authenticator
	// Mutating holds full method names (/ebs.v1.StatusService/Pause).
	Mutating map[string]bool
}

func (i Interceptors) identify(ctx context.Context) (Principal, error) {
	if !i.A.Enabled() {
		return Anonymous, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if tok := BearerToken(v); tok != "" {
			return i.A.Authenticate(ctx, tok)
		}
	}
	for _, v := range md.Get("grpcgateway-cookie") {
		r := http.Request{Header: http.Header{"Cookie": {v}}}
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			s, err := i.A.store.GetSession(ctx, c.Value)
			if err == nil {
				return i.A.principal(s.Username, s.Groups, "cookie"), nil
			}
		}
	}
	return Principal{}, ErrUnauthenticated
}

func (i Interceptors) check(ctx context.Context, method string) (context.Context, error) {
	p, err := i.identify(ctx)
	if !i.Mutating[method] {
		if err == nil {
			ctx = WithPrincipal(ctx, p)
		}
		return ctx, nil
	}
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return nil, status.Error(codes.Unauthenticated, "authentication required: send authorization: Bearer <token>")
		}
		return nil, status.Error(codes.Unavailable, "authentication unavailable")
	}
	if p.Via == "cookie" {
		return nil, status.Error(codes.PermissionDenied, "mutations need a bearer token; the session cookie alone is not enough")
	}
	if err := Authorize(p); err != nil {
		return nil, status.Error(codes.PermissionDenied, "user "+p.Username+" is not in an admin group")
	}
	return WithPrincipal(ctx, p), nil
}

// Unary is the unary server interceptor.
func (i Interceptors) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := i.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// Stream is the stream server interceptor.
func (i Interceptors) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := i.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return h(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
	}
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

// TokenCredentials sends a bearer token with every gRPC call (ebsctl).
type TokenCredentials struct {
	Token string
	// Insecure allows sending the token over plaintext connections (loopback, tests).
	Insecure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (t TokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if strings.TrimSpace(t.Token) == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + strings.TrimSpace(t.Token)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (t TokenCredentials) RequireTransportSecurity() bool { return !t.Insecure }
