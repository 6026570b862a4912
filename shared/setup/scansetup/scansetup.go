// Package scansetup wires the secret-scanning function and its local
// stand-in: setup.Env → GitHub's key list (SECRET_SCANNING_KEYS_URL) →
// DynamoDB store → key management service (keysetup, which acts on a
// leak) → secretscan handler. It links no console, authorizer, lifecycle
// event or e-mail code.
package scansetup

import (
	"net/http"
	"os"
	"time"

	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/secretscan"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/keysetup"
	"github.com/keygate/keygate/shared/store"
)

// The store reads the alerts' keys and the management service acts on
// their leaks.
var (
	_ secretscan.Store     = (*store.Store)(nil)
	_ secretscan.Responder = (*manage.Service)(nil)
)

// KeyListTimeout bounds one fetch of GitHub's key list, well inside the
// function's 25 s (GitHub waits 30 s for an answer).
const KeyListTimeout = 5 * time.Second

// Handler is the secret-scanning function's handler. An unusable
// SECRET_SCANNING_KEYS_URL is an error, so the function stops at start.
func Handler(env *setup.Env) (*secretscan.Handler, error) {
	keys, err := secretscan.NewKeys(env.Config.SecretScanningKeysURL, &http.Client{Timeout: KeyListTimeout}, time.Now)
	if err != nil {
		return nil, err
	}
	st := keysetup.Store(env)
	return secretscan.New(secretscan.Config{
		Format:    env.Format,
		Hasher:    env.Hasher,
		Keys:      keys,
		Store:     st,
		Responder: manage.New(st, keysetup.Config(env)),
		Log:       env.Logger,
	}), nil
}

// MustHandler is Handler for the main: like setup.MustLoad, it logs
// why it cannot start and exits.
func MustHandler(env *setup.Env) *secretscan.Handler {
	h, err := Handler(env)
	if err != nil {
		env.Logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	return h
}
