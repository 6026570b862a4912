// Package reliability holds Keygate's fault and concurrency tests: the real
// functions, wired as in production, against DynamoDB Local that is stopped,
// restarted, throttled or raced. It has no code of its own; the figures the
// tests log are recorded in docs/reliability.md.
package reliability
