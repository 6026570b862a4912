// Package detectors holds the tests of the secret-scanning rules that
// docs/secret-scanning.md publishes: the token pattern, the gitleaks rule
// and the TruffleHog detector. The tests read the rules out of the
// document's fenced blocks, so what people copy is what is tested: each
// must find freshly minted tokens, with the default prefix and another,
// and nothing that is not a token (one character short or long, another
// prefix, a character outside base62, the pattern inside a longer run).
// The gitleaks rule also runs under the real gitleaks, built from the Go
// module proxy at the version the Makefile pins (not under -short).
package detectors
