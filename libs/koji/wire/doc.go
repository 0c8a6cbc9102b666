// Package wire is Koji's dialect of XML-RPC, shared by the client (libs/koji)
// and the hub simulator (libs/sim/kojihub).
//
// Decoding is done by github.com/kolo/xmlrpc (into generic values: nil,
// bool, int64, float64, string, time.Time, []any, map[string]any) and then
// converted into typed Go values by Into. Encoding is done here because Koji
// differs from kolo's encoder in ways the hub notices or golden bodies show:
// None is <nil/> (kolo writes an empty <value/>, which Python reads as ""),
// integers beyond 32 bits are <i8>, keyword arguments are a trailing struct
// whose last member is "__starstar" (so member order matters: Struct keeps
// it), and the byte layout (newlines, single-quoted XML declaration, only &,
// < and > escaped) matches koji.xmlrpcplus.dumps, so requests and responses
// compare byte for byte with the reference bodies.
//
// One limit of kolo's decoder is kept and documented: an empty <string/>
// decodes to nil, which Into turns into "" again.
package wire
