package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/apikey"
	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/store"
	"github.com/keygate/keygate/shared/usage"
)

// defaultLastUsedInterval is LAST_USED_INTERVAL's default
// (shared/config).
const defaultLastUsedInterval = time.Minute

// direct decides with the authorizer's own code, wired as
// shared/setup/authsetup wires the authorizer function: store → usage meter
// → authorizer.
type direct struct {
	auth       *authorizer.Authorizer
	api, stage string
	tenant     string
	log        *slog.Logger
}

// directStore is the table as the middleware may use it: the authorizer's
// reads, last-used writes and (through the meter) usage counters, but no
// re-stamping of verifiers under a newer pepper version. That write is the
// authorizer function's (docs/pepper-rotation.md), and leaving it out keeps
// the service's grant to last_used_at on key items (docs/middleware.md).
type directStore struct{ *store.Store }

// RestampVerifier writes nothing: see directStore.
func (directStore) RestampVerifier(context.Context, string, string, string) (bool, error) {
	return false, nil
}

var (
	_ authorizer.Store = directStore{}
	_ usage.Store      = (*store.Store)(nil)
)

func newDirect(cfg Config, format apikey.Format) (*direct, error) {
	switch {
	case cfg.DynamoDB == nil || cfg.Table == "":
		return nil, errors.New("middleware: Direct mode needs DynamoDB and Table")
	case cfg.Hasher == nil:
		return nil, errors.New("middleware: Direct mode needs the Hasher (the pepper)")
	}
	if cfg.LastUsedInterval <= 0 {
		cfg.LastUsedInterval = defaultLastUsedInterval
	}
	st := store.New(cfg.DynamoDB, cfg.Table)
	api, stage, _ := strings.Cut(cfg.API, "/")
	return &direct{
		auth: authorizer.New(directStore{st}, authorizer.Config{
			Format:           format,
			Hasher:           cfg.Hasher,
			CacheTTL:         cfg.CacheTTL,
			LastUsedInterval: cfg.LastUsedInterval,
			Meter:            usage.NewMeter(st),
			Now:              cfg.Now,
		}, cfg.Logger),
		api: api, stage: stage, tenant: cfg.Tenant, log: cfg.Logger,
	}, nil
}

func (d *direct) decide(ctx context.Context, token string, r *http.Request) verdict {
	req := authorizer.Request{Token: token, API: d.api, Stage: d.stage, Method: r.Method, Path: r.URL.EscapedPath()}
	var dec authorizer.Decision
	var err error
	if d.tenant != "" {
		dec, err = d.auth.Check(ctx, req, d.tenant)
	} else {
		dec, _, err = d.auth.Authorize(ctx, req)
	}
	if err != nil {
		d.log.LogAttrs(ctx, slog.LevelError, "key check failed", slog.String("reason", dec.Reason), slog.String("error", err.Error()))
		return unavailable
	}
	switch dec.Outcome {
	case authorizer.Allow:
		k := dec.Key()
		if k == nil { // an Allow always has its key; never admit without one
			return unavailable
		}
		return verdict{identity: k}
	case authorizer.Deny:
		if dec.Refusal == keygate.ReasonRateLimited || dec.Refusal == keygate.ReasonCreditsExhausted {
			return limited(dec.Refusal, dec.RetryAfter)
		}
		return forbidden
	}
	return unauthorized
}
