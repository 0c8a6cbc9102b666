package status_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/fedora-eln/ebs/libs/auth"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
)

// readPrefixes name the StatusService methods that only read. Any other
// method mutates and must be guarded.
var readPrefixes = []string{"Get", "List", "Search", "Watch"}

func isRead(method string) bool {
	for _, p := range readPrefixes {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// TestEveryMutatingMethodIsGuarded walks the service descriptor, so an RPC
// added later is covered without editing this test: with auth on, every
// method that is not a read answers Unauthenticated without a token and
// PermissionDenied with only the session cookie (over gRPC, as the gateway
// forwards it), and is in ebsstatus.Mutating; reads are not refused.
func TestEveryMutatingMethodIsGuarded(t *testing.T) {
	t.Parallel()
	env, _ := authEnv(t)
	cc, err := grpc.NewClient("passthrough:///"+env.Server.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cookie := auth.CookieName + "=" + session(t, env, adminUser, time.Hour)
	desc := ebsv1.StatusService_ServiceDesc

	// call invokes a method by name with an empty request (any request
	// message decodes from no bytes), unary or server-streaming.
	call := func(ctx context.Context, name string, streaming bool) error {
		full := "/" + desc.ServiceName + "/" + name
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if !streaming {
			return cc.Invoke(ctx, full, &emptypb.Empty{}, &emptypb.Empty{})
		}
		s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, full)
		if err != nil {
			return err
		}
		if err := s.SendMsg(&emptypb.Empty{}); err != nil {
			return err
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		return s.RecvMsg(&emptypb.Empty{})
	}
	type method struct {
		name      string
		streaming bool
	}
	var methods []method
	for _, m := range desc.Methods {
		methods = append(methods, method{m.MethodName, false})
	}
	for _, s := range desc.Streams {
		methods = append(methods, method{s.StreamName, true})
	}
	mutating := 0
	for _, m := range methods {
		full := "/" + desc.ServiceName + "/" + m.name
		if isRead(m.name) {
			if ebsstatus.Mutating[full] {
				t.Errorf("%s looks like a read but is in Mutating", m.name)
			}
			// A read may fail for its empty request, but never for the
			// missing credential. Streams are cut short by the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := call(ctx, m.name, m.streaming)
			cancel()
			if c := status.Code(err); c == codes.Unauthenticated || c == codes.PermissionDenied {
				t.Errorf("read %s refused without a token: %v", m.name, err)
			}
			continue
		}
		mutating++
		if !ebsstatus.Mutating[full] {
			t.Errorf("%s mutates (not Get/List/Search/Watch) but is missing from ebsstatus.Mutating", m.name)
		}
		if err := call(context.Background(), m.name, m.streaming); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s without a token: %v, want Unauthenticated", m.name, err)
		}
		withCookie := metadata.AppendToOutgoingContext(context.Background(), "grpcgateway-cookie", cookie)
		if err := call(withCookie, m.name, m.streaming); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s with only the session cookie: %v, want PermissionDenied", m.name, err)
		}
	}
	// Every guarded name is a real method.
	for full := range ebsstatus.Mutating {
		name, ok := strings.CutPrefix(full, "/"+desc.ServiceName+"/")
		found := false
		for _, m := range methods {
			found = found || m.name == name
		}
		if !ok || !found {
			t.Errorf("Mutating lists %s, which the service does not have", full)
		}
	}
	if mutating == 0 {
		t.Fatal("no mutating method found: the descriptor walk is broken")
	}
}
