package apikey

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret-bearing types redact themselves under every fmt verb (Format wins
// over String and GoString for all of them), every slog handler (LogValue
// is resolved before a handler sees the value) and encoding/json and
// encoding/text. A secret passed by mistake to a log line or an error
// message prints as a placeholder, never as itself. Where fmt cannot call
// these methods (a value in an unexported struct field, which it prints
// by reflection), a Token prints as an address: see its text field.

const (
	redactedToken  = "[token]"
	redactedSecret = "[secret]"
)

func writeRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = `"` + s + `"`
	}
	_, _ = io.WriteString(f, s)
}

// Format prints "[token]" for every verb.
func (t Token) Format(f fmt.State, verb rune) { writeRedacted(f, verb, redactedToken) }

// String returns "[token]": see [Token.Reveal] for the token itself.
func (t Token) String() string { return redactedToken }

// LogValue keeps the token out of structured logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(redactedToken) }

// MarshalText keeps the token out of JSON, XML and text encodings.
func (t Token) MarshalText() ([]byte, error) { return []byte(redactedToken), nil }

// Secret is a server secret such as the pepper. Its bytes are used as they
// are; it prints as "[secret]".
type Secret []byte

// Format prints "[secret]" for every verb.
func (s Secret) Format(f fmt.State, verb rune) { writeRedacted(f, verb, redactedSecret) }

// String returns "[secret]".
func (s Secret) String() string { return redactedSecret }

// LogValue keeps the secret out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// MarshalText keeps the secret out of JSON, XML and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedSecret), nil }

// Format prints "[hasher]" for every verb: a Hasher holds key material
// derived from the pepper.
func (h *Hasher) Format(f fmt.State, verb rune) { writeRedacted(f, verb, "[hasher]") }

// LogValue keeps the pepper-derived keys out of structured logs.
func (h *Hasher) LogValue() slog.Value { return slog.StringValue("[hasher]") }

// MarshalText keeps the pepper-derived keys out of encodings.
func (h *Hasher) MarshalText() ([]byte, error) { return []byte("[hasher]"), nil }
