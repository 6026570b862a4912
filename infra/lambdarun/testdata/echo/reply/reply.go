// Package reply is what the echo test function answers: the one
// declaration of its response, for the function that writes it and the
// lambdarun tests that read it.
package reply

import "encoding/json"

// Response is the echo function's reply to an event: the event itself and
// what the runtime told the function about the invocation and itself.
type Response struct {
	Event        json.RawMessage `json:"event"`
	RequestID    string          `json:"requestId"`
	FunctionARN  string          `json:"functionArn"`
	FunctionName string          `json:"functionName"`
	Region       string          `json:"region"`
	EchoEnv      string          `json:"echoEnv"`
	PID          int             `json:"pid"`
	HasDeadline  bool            `json:"hasDeadline"`
}
