// Package world is the demo world ebs runs against in `ebs demo`, the
// end-to-end and chaos tests and compose.yaml: one deterministic (seeded)
// description of
//
//   - the Koji hub's contents: a generated Rawhide/ELN world of a few hundred
//     packages (libs/sim/kojihub) plus the packages the scenario needs by
//     name (freeipa and its ELN rename ipa, nettle, ocaml, ...);
//   - the new Rawhide builds that trigger batches, grouped in waves (one
//     batch each), waiting in f45-updates-candidate until Feed tags them
//     into f45 as Bodhi does — the simulator then publishes buildsys.tag
//     exactly like Fedora's Koji;
//   - how each build behaves (the kojisim scenario: real failures, flaky
//     builds that fail once, durations);
//   - the Content Resolver lists (served by crfixture);
//   - the ebs configuration: Fedora's production distrobaker.yaml (embedded,
//     unchanged) with the demo's Content Resolver URL;
//   - and what a correct ebs must do with all of it (Expectation), derived
//     from that configuration's own rules (eligibility, exclude, skip_tag,
//     ordering, overrides) rather than written by hand.
//
// Check compares what ebs did (an Observation: the requests, batch events,
// Koji and Bodhi state) with the expectation and lists every difference.
package world
