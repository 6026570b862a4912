// Package console holds the browser tests of Keygate's web console
// (shared/console): headless Chromium, driven with chromedp, against the
// local stack (DynamoDB Local, the real handlers behind infra/gateway,
// the console served by the list function's public routes, as in AWS), with axe-core accessibility scans.
//
// Chromium and axe-core are required, never optional: the tests fail when
// either is missing. make console-deps (setup.sh) installs both; make unit
// does not, so that it never installs system packages. Under go test
// -short (the fast tier) every test here skips.
package console
