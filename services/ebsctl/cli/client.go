package cli

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/auth"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// DefaultServer is the StatusService address when neither --server nor
// EBS_SERVER is given.
const DefaultServer = "127.0.0.1:9090"

// apiFlags are the flags every API command shares.
type apiFlags struct {
	server    string
	tokenFile string
	useTLS    bool
	json      bool
	timeout   time.Duration
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("EBS_SERVER")
	if def == "" {
		def = DefaultServer
	}
	fs.StringVar(&f.server, "server", def, "StatusService gRPC address (env EBS_SERVER)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token (else env EBS_TOKEN)")
	fs.BoolVar(&f.useTLS, "tls", os.Getenv("EBS_TLS") == "true", "use TLS with the system's CAs (env EBS_TLS=true)")
	fs.BoolVar(&f.json, "json", false, "print JSON (protojson) for scripts")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "deadline of the call (watch: none)")
}

func (f *apiFlags) token() (string, error) {
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(os.Getenv("EBS_TOKEN")), nil
}

func (f *apiFlags) dial() (ebsv1.StatusServiceClient, func(), error) {
	tok, err := f.token()
	if err != nil {
		return nil, nil, err
	}
	creds := insecure.NewCredentials()
	if f.useTLS {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if tok != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(auth.TokenCredentials{Token: tok, Insecure: !f.useTLS}))
	}
	target := f.server
	if !strings.Contains(target, "://") {
		target = "passthrough:///" + target
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", f.server, err)
	}
	return ebsv1.NewStatusServiceClient(cc), func() { _ = cc.Close() }, nil
}

// parse parses flags interspersed with positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// apiCommand registers an API command: it parses the shared flags (plus
// extra ones), checks the arguments, dials, and maps the error to an exit code.
func apiCommand(name, summary, argsUsage string, extra func(fs *flag.FlagSet), check func(args []string) error,
	run func(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, args []string, stdout io.Writer) error) {
	register(name, summary, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		var f apiFlags
		fs := flag.NewFlagSet("ebsctl "+name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintf(stderr, "usage: ebsctl %s [flags] %s\n\n%s\n\nflags:\n", name, argsUsage, summary)
			fs.PrintDefaults()
		}
		f.register(fs)
		if extra != nil {
			extra(fs)
		}
		pos, err := parse(fs, args)
		if err != nil {
			if err.Error() == flag.ErrHelp.Error() {
				return ExitOK
			}
			return ExitUsage
		}
		if check != nil {
			if err := check(pos); err != nil {
				fmt.Fprintf(stderr, "ebsctl %s: %v\nusage: ebsctl %s [flags] %s\n", name, err, name, argsUsage)
				return ExitUsage
			}
		}
		c, closeConn, err := f.dial()
		if err != nil {
			fmt.Fprintf(stderr, "ebsctl %s: %v\n", name, err)
			return ExitFailure
		}
		defer closeConn()
		if name != "watch" && f.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, f.timeout)
			defer cancel()
		}
		return exitFor(stderr, name, run(ctx, c, &f, pos, stdout))
	})
}

func exactly(n int, what string) func([]string) error {
	return func(a []string) error {
		if len(a) != n {
			return usagef("want %s", what)
		}
		return nil
	}
}

func atLeast(n int, what string) func([]string) error {
	return func(a []string) error {
		if len(a) < n {
			return usagef("want %s", what)
		}
		return nil
	}
}

func printJSONLine(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
