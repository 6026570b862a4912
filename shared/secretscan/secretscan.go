// Package secretscan is Keygate's side of GitHub's secret-scanning partner
// program: POST /v1/secret-scanning/github, which GitHub calls with the
// tokens of this deployment's format it found in public, so that leaked
// keys revoke themselves (docs/secret-scanning.md).
//
// The route has no authorizer: the alert's signature is its credential.
// The body is a JSON array of {"token","type","url","source"}; the header
// Github-Public-Key-Signature is an ASN.1 DER ECDSA P-256 signature over
// SHA-256 of the raw body, base64-encoded, by the key that
// Github-Public-Key-Identifier names in GitHub's key list ([Keys]). An
// alert that is not so signed changes nothing and reads nothing (401).
//
// Each distinct token is judged offline first: prefix, length and
// checksum ([apikey.Format.Parse]; a token that fails gets no answer at
// all, it is not of this format), then the tag ([apikey.Hasher.Authenticate];
// one this deployment's pepper did not make is a false positive, never
// read). Only tokens with a valid tag cost a read, one consistent batch
// for all of them ([Store]). A token whose key exists and whose verifier
// matches is a true positive and is reported to the [Responder] (the
// tenant's leak action: record, revoke, cascade); one whose key is gone
// (TTL) is a true positive with nothing left to act on; one whose
// verifier does not match is a false positive.
//
// The alert's url, source and type are text GitHub copied from elsewhere:
// they are kept, truncated to MaxLeakURL, MaxLeakSource and MaxLeakType
// bytes (as valid UTF-8), rather than refused, since a refused alert
// would be retried forever and the leak never recorded. Tokens are never
// logged; a key's ID, the label and the URL are.
package secretscan

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keygate/keygate/shared/apierror"
	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/proxyevent"
)

// Path is the route GitHub posts alerts to, on the management API.
const Path = "/v1/secret-scanning/github"

// MaxBody is the largest alert accepted: what a Lambda function can be
// sent synchronously (6 MiB, infra/lambdarun's MaxRequestPayload), less
// nothing, since the gateway stops larger requests anyway. GitHub sends
// many tokens in one alert, so there is no smaller cap here.
const MaxBody = 6 << 20

// The headers of GitHub's alerts (names are case-insensitive).
const (
	HeaderKeyID     = "Github-Public-Key-Identifier"
	HeaderSignature = "Github-Public-Key-Signature"
)

// Bounds of the alert text kept with a leak.
const (
	MaxLeakURL    = 2048
	MaxLeakSource = 64
	MaxLeakType   = 128
)

// Labels of the response.
const (
	TruePositive  = "true_positive"
	FalsePositive = "false_positive"
)

// Store reads the keys of tokens that carry this deployment's tag, with
// their verifiers, strongly consistently; a key whose item is gone is
// absent from the map.
type Store interface {
	KeysWithVerifier(ctx context.Context, ids []string) (map[string]*keygate.Record, error)
}

// Responder acts on a key whose token was found in public, as its
// tenant's settings say; recorded is false when the key's leak was
// already recorded (a replayed or repeated alert).
type Responder interface {
	ReportLeak(ctx context.Context, r *keygate.Record, l keygate.Leak) (recorded bool, err error)
}

// Config is what a Handler needs.
type Config struct {
	Format    apikey.Format
	Hasher    *apikey.Hasher
	Keys      *Keys
	Store     Store
	Responder Responder
	Log       *slog.Logger
	Now       func() time.Time // time.Now if nil
}

// Handler serves the secret-scanning route.
type Handler struct {
	cfg Config
}

// New returns the handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// Label is the answer about one token: its SHA-256 (hex), the alert's
// type for it, and whether this deployment minted it.
type Label struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// Handle is the Lambda entry point for API Gateway proxy events: REST API
// (payload 1.0) and HTTP API (payload 2.0), answered in the event's own
// shape. It never returns an error: failures are the error envelope.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := h.cfg.Now()
	req, err := proxyevent.Read(ctx, event)
	var labels []Label
	if err == nil {
		labels, err = h.serve(ctx, req)
	}
	status, body := http.StatusOK, []byte(nil)
	attrs := []slog.Attr{slog.String("request_id", req.ID), slog.String("route", "POST "+Path)}
	if err != nil {
		status, body = apierror.Status(keygate.ErrorCode(err)), apierror.Body(err, req.ID)
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		if labels == nil {
			labels = []Label{}
		}
		body, _ = json.Marshal(labels) // strings only: cannot fail
		attrs = append(attrs, slog.Int("tokens_judged", len(labels)))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs = append(attrs, slog.Int("status", status), slog.Int64("duration_ms", h.cfg.Now().Sub(start).Milliseconds()))
	h.cfg.Log.LogAttrs(ctx, level, "request", attrs...)
	return proxyevent.Respond(req, status, body)
}

// header is the one value of a signature header: missing or given twice
// with different values, the alert is not GitHub's.
func header(r proxyevent.Request, name string) (string, error) {
	vs := r.Header(name)
	if len(vs) != 1 || vs[0] == "" {
		return "", keygate.Errorf(keygate.Unauthorized, "the alert needs exactly one %s header", name)
	}
	return vs[0], nil
}

// serve checks the alert's size and signature, then judges its tokens.
func (h *Handler) serve(ctx context.Context, req proxyevent.Request) ([]Label, error) {
	body, err := req.Body(MaxBody)
	if err != nil {
		return nil, err
	}
	keyID, err := header(req, HeaderKeyID)
	if err != nil {
		return nil, err
	}
	sig, err := header(req, HeaderSignature)
	if err != nil {
		return nil, err
	}
	pub, err := h.cfg.Keys.Key(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if !Verify(pub, body, sig) {
		return nil, keygate.Errorf(keygate.Unauthorized, "the alert's signature does not verify")
	}
	alerts, err := decodeAlerts(body)
	if err != nil {
		return nil, err
	}
	return h.judge(ctx, req.ID, alerts)
}

// Verify reports whether sig (base64 of an ASN.1 DER ECDSA signature) is
// pub's signature over SHA-256 of body.
func Verify(pub *ecdsa.PublicKey, body []byte, sig string) bool {
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(der) == 0 {
		return false
	}
	digest := sha256.Sum256(body)
	return ecdsa.VerifyASN1(pub, digest[:], der)
}

// alert is one token found, as GitHub sends it; fields GitHub may add are
// passed over.
type alert struct {
	Token  *string `json:"token"`
	Type   string  `json:"type"`
	URL    string  `json:"url"`
	Source string  `json:"source"`
}

func decodeAlerts(body []byte) ([]alert, error) {
	var alerts []alert
	err := json.Unmarshal(body, &alerts)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax) || errors.As(err, &typ) || (err == nil && alerts == nil):
		return nil, keygate.Errorf(keygate.Invalid, "the alert must be a JSON array of objects with a string token")
	case err != nil:
		return nil, keygate.Errorf(keygate.Invalid, "the alert is not valid JSON")
	}
	for _, a := range alerts {
		if a.Token == nil {
			return nil, keygate.Errorf(keygate.Invalid, "every alert entry needs a string token")
		}
	}
	return alerts, nil
}

// candidate is a distinct token of the alert with this deployment's tag.
type candidate struct {
	label int // its entry in the labels
	token apikey.Token
	alert alert
}

// judge labels each distinct token of this deployment's format and acts
// on the true positives whose key is still stored.
func (h *Handler) judge(ctx context.Context, requestID string, alerts []alert) ([]Label, error) {
	seen := make(map[string]bool, len(alerts))
	var labels []Label
	var candidates []candidate
	for _, a := range alerts {
		text := *a.Token
		if seen[text] {
			continue
		}
		seen[text] = true
		tok, err := h.cfg.Format.Parse(text)
		if err != nil {
			continue // not of this format: nothing to say about it
		}
		sum := sha256.Sum256([]byte(text))
		labels = append(labels, Label{TokenHash: hex.EncodeToString(sum[:]), TokenType: a.Type, Label: FalsePositive})
		if _, ok := h.cfg.Hasher.Authenticate(tok); !ok {
			h.logToken(ctx, requestID, tok.ID(), FalsePositive, a, "not minted by this deployment")
			continue
		}
		candidates = append(candidates, candidate{label: len(labels) - 1, token: tok, alert: a})
	}
	if len(candidates) == 0 {
		return labels, nil
	}
	ids := make([]string, len(candidates))
	for i, c := range candidates {
		ids[i] = c.token.ID()
	}
	keys, err := h.cfg.Store.KeysWithVerifier(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := h.cfg.Now()
	var failed error
	for _, c := range candidates {
		rec := keys[c.token.ID()]
		if rec == nil {
			// Minted here (the tag says so) but gone: nothing to act on.
			labels[c.label].Label = TruePositive
			h.logToken(ctx, requestID, c.token.ID(), TruePositive, c.alert, "key no longer stored")
			continue
		}
		match, err := h.cfg.Hasher.Verify(c.token, rec.Verifier)
		if err != nil || !match {
			// An unverifiable verifier (a retired pepper) cannot show
			// the token is the key's: nothing changes.
			h.logToken(ctx, requestID, c.token.ID(), FalsePositive, c.alert, "verifier does not match")
			continue
		}
		labels[c.label].Label = TruePositive
		leak := keygate.Leak{At: now, URL: bound(c.alert.URL, MaxLeakURL), Source: bound(c.alert.Source, MaxLeakSource), Type: bound(c.alert.Type, MaxLeakType)}
		recorded, err := h.cfg.Responder.ReportLeak(ctx, rec, leak)
		switch {
		case err != nil:
			h.cfg.Log.LogAttrs(ctx, slog.LevelError, "report leak", slog.String("request_id", requestID),
				slog.String("key_id", rec.ID), slog.String("tenant", rec.Tenant), slog.String("error", err.Error()))
			failed = errors.Join(failed, err)
		case recorded:
			h.logToken(ctx, requestID, rec.ID, TruePositive, c.alert, "leak recorded")
		default:
			h.logToken(ctx, requestID, rec.ID, TruePositive, c.alert, "leak already recorded")
		}
	}
	if failed != nil {
		// GitHub retries a failed alert; what was recorded records
		// nothing new the second time.
		return nil, failed
	}
	return labels, nil
}

// logToken logs what was made of one token of this deployment's format:
// its key's ID (public), never the token.
func (h *Handler) logToken(ctx context.Context, requestID, keyID, label string, a alert, outcome string) {
	h.cfg.Log.LogAttrs(ctx, slog.LevelInfo, "secret-scanning token", slog.String("request_id", requestID),
		slog.String("key_id", keyID), slog.String("label", label), slog.String("outcome", outcome),
		slog.String("url", bound(a.URL, MaxLeakURL)), slog.String("source", bound(a.Source, MaxLeakSource)))
}

// bound is s as valid UTF-8, cut to at most max bytes on a rune boundary.
func bound(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
