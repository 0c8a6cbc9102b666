// Package oidctest is an in-process OpenID Connect provider for tests and the
// demo, shaped like Fedora's Ipsilon (https://id.fedoraproject.org/openidc):
// discovery, JWKS, the authorization-code flow with state, nonce and PKCE,
// the client-credentials and refresh-token grants, token introspection at
// "<token endpoint>Info" (what Bodhi calls) and userinfo with nickname, email
// and groups.
//
// In a test:
//
//	p := oidctest.Start(t, oidctest.Options{})
//	p.AddUser("ebs-bot", "packager")           // a FAS account and its groups
//	tok := p.Token("ebs-bot")                  // an access token, directly
//	// or let a client fetch one: client credentials with p.ClientID(),
//	// p.ClientSecret() at p.TokenURL(); the token acts as Options.ServiceAccount.
//
// A browser login: AddUser, then LoginAs(name) makes the authorization
// endpoint log that user in without a form; LastAuthorizeRequest and
// LastTokenAuthMethod show what the client sent. IDToken mints an ID token
// directly (a negative lifetime gives an expired one) for bearer-token tests.
//
// Access tokens are opaque; resource servers check them by introspection or
// userinfo. ID tokens are RS256 JWTs verifiable through the JWKS (go-oidc works
// against Issuer()). Outside tests (bodhisim, the demo) use New and Close.
package oidctest
