// Package mail sends ebs's failure mail: one message per batch with
// persistent failures, worded exactly as ELNBuildSync's (subject
// "ELNBuildSync build failures", the SCM URLs in the body, and an
// elnbuildsync-packages header naming the packages), over SMTP with STARTTLS
// required and PLAIN login when a password is configured.
//
// The mailtest sub-package is an in-process SMTP server that records what it
// receives.
package mail
