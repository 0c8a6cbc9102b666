// Package contentresolver owns ebs's component universe: the Content
// Resolver package-name lists (view-<source>-package-name-list--view-<view>.txt)
// fetched over HTTP with timeouts and retries, and the two maps the original
// service built from them and the overrides — ELN (downstream) names and
// Fedora (upstream) names — with exactly its precedence: the lists are walked
// in reverse so the first-listed view and source win, then each override
// creates or updates its downstream entry and adds its upstream_name.
//
// The filter decides eligibility and ELN names with it; the status service
// can list every desired component with its view. Package crfixture serves
// fixture lists over HTTP for tests and the demo.
package contentresolver
