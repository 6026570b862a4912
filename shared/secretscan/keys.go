package secretscan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/keygate/keygate/shared/keygate"
)

const (
	// RefreshInterval is the least time between two fetches of the key
	// list: an alert signed by a key not in the list fetches it again, but
	// a flood of made-up identifiers costs at most one fetch per interval.
	RefreshInterval = time.Minute
	// MaxListAge is how long a fetched list is used for keys it holds: an
	// alert after that fetches it again, so a signing key GitHub withdraws
	// stops verifying within MaxListAge of the next alert.
	MaxListAge = time.Hour
	// MaxKeyList bounds the key list read: GitHub's is a few kilobytes.
	MaxKeyList = 1 << 20
)

// Keys is GitHub's list of secret-scanning signing keys, fetched on first
// use and cached. It is fetched again only when an alert names a key
// identifier the cached list lacks, and then at most once per
// RefreshInterval; requests that arrive during a fetch wait for it rather
// than starting their own. Safe for concurrent use.
type Keys struct {
	fetch func(context.Context) ([]byte, error)
	now   func() time.Time

	mu       sync.Mutex
	keys     map[string]*ecdsa.PublicKey
	last     time.Time // when the last fetch started; zero before the first
	loaded   time.Time // when the list in keys was fetched
	lastErr  error     // how the last fetch failed, nil if it did not
	inflight chan struct{}
}

// NewKeys returns the key list at rawURL: an https:// URL, fetched with
// client (whose Timeout bounds each fetch), or a file:// URL naming a
// local file (tests and make run). Anything else is refused, so a
// misconfiguration stops the function at start. now is the clock
// (time.Now in production).
func NewKeys(rawURL string, client *http.Client, now func() time.Time) (*Keys, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("secret-scanning key list URL %q: %w", rawURL, err)
	}
	k := &Keys{now: now}
	switch {
	case u.Scheme == "https" && u.Host != "" && u.User == nil:
		if client == nil || client.Timeout <= 0 {
			return nil, errors.New("secret-scanning key list: an https URL needs an HTTP client with a timeout")
		}
		k.fetch = func(ctx context.Context) ([]byte, error) { return get(ctx, client, u.String()) }
	case u.Scheme == "file" && (u.Host == "" || u.Host == "localhost") && u.Path != "" && u.RawQuery == "":
		path := u.Path
		k.fetch = func(context.Context) ([]byte, error) { return readFile(path) }
	default:
		return nil, fmt.Errorf("secret-scanning key list URL %q: want https://host/path or file:///absolute/path", rawURL)
	}
	return k, nil
}

// Key returns the public key named id. An identifier the list does not
// hold, even after a fetch, is Unauthorized; one that could not be looked
// up because the list could not be fetched is Unavailable (GitHub retries
// the alert later).
func (k *Keys) Key(ctx context.Context, id string) (*ecdsa.PublicKey, error) {
	for {
		k.mu.Lock()
		now := k.now()
		if pub, ok := k.keys[id]; ok && (now.Sub(k.loaded) < MaxListAge || k.inflight != nil || now.Sub(k.last) < RefreshInterval) {
			// A known key is used from a list fetched within MaxListAge;
			// past it, the next alert fetches the list again (a key GitHub
			// withdrew stops verifying), unless a fetch is under way or
			// failed within RefreshInterval: then the list as it was.
			k.mu.Unlock()
			return pub, nil
		}
		if wait := k.inflight; wait != nil {
			k.mu.Unlock()
			select {
			case <-wait:
				k.mu.Lock()
				pub, ok, err := k.keys[id], k.keys[id] != nil, k.lastErr
				k.mu.Unlock()
				if ok {
					return pub, nil
				}
				return nil, unknown(err)
			case <-ctx.Done():
				return nil, keygate.Errorf(keygate.Unavailable, "request cancelled while the key list was fetched")
			}
		}
		if !k.last.IsZero() && k.now().Sub(k.last) < RefreshInterval {
			err := k.lastErr
			k.mu.Unlock()
			return nil, unknown(err)
		}
		done := make(chan struct{})
		k.inflight, k.last = done, k.now()
		k.mu.Unlock()

		// The fetch is shared: it must not end because the request that
		// started it gave up. The client's timeout bounds it.
		keys, err := k.load(context.WithoutCancel(ctx))
		k.mu.Lock()
		if err == nil {
			k.keys, k.loaded = keys, k.now()
		}
		k.lastErr, k.inflight = err, nil
		close(done)
		k.mu.Unlock()
		// Look again, in the fresh list or, if the fetch failed, in the
		// list as it was (the loop ends: last is now).
	}
}

// unknown is the answer for an identifier not in the list: Unauthorized
// when the list is fresh, Unavailable when it could not be fetched.
func unknown(fetchErr error) error {
	if fetchErr != nil {
		return &keygate.Error{Code: keygate.Unavailable, Message: "the secret-scanning key list cannot be read now; retry later", Err: fetchErr}
	}
	return keygate.Errorf(keygate.Unauthorized, "unknown secret-scanning key identifier")
}

func (k *Keys) load(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	raw, err := k.fetch(ctx)
	if err != nil {
		return nil, err
	}
	return parseKeys(raw)
}

// parseKeys reads GitHub's key list format:
//
//	{"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…","is_current":true}]}
//
// Every listed key verifies, current or not (GitHub rotates keys and may
// still sign with the previous one). Only ECDSA P-256 keys are kept,
// what GitHub signs with: an entry of another kind or curve is passed
// over, so a key GitHub adds in another algorithm cannot stop the rest
// from verifying, and cannot verify anything itself. A list with no
// usable key is an error.
func parseKeys(raw []byte) (map[string]*ecdsa.PublicKey, error) {
	var list struct {
		PublicKeys []struct {
			KeyIdentifier string `json:"key_identifier"`
			Key           string `json:"key"`
		} `json:"public_keys"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("secret-scanning key list: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, e := range list.PublicKeys {
		if pub := parseKey(e.Key); pub != nil && e.KeyIdentifier != "" {
			keys[e.KeyIdentifier] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("secret-scanning key list holds no ECDSA P-256 key")
	}
	return keys, nil
}

// parseKey is a PEM "PUBLIC KEY" (PKIX) if it is ECDSA on P-256, else nil.
func parseKey(s string) *ecdsa.PublicKey {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil
	}
	return pub
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the secret-scanning key list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the secret-scanning key list: %s", resp.Status)
	}
	return readAtMost(resp.Body)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the secret-scanning key list: %w", err)
	}
	defer f.Close()
	return readAtMost(f)
}

func readAtMost(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxKeyList+1))
	if err != nil {
		return nil, fmt.Errorf("read the secret-scanning key list: %w", err)
	}
	if len(b) > MaxKeyList {
		return nil, fmt.Errorf("the secret-scanning key list is larger than %d bytes", MaxKeyList)
	}
	return b, nil
}

// KeyList is a key list in GitHub's format holding pub, current, under its
// KeyIdentifier: what make run serves itself, for alerts signed locally.
func KeyList(pub *ecdsa.PublicKey) (id string, list []byte, err error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", nil, err
	}
	id = KeyIdentifier(der)
	type entry struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	}
	list, err = json.MarshalIndent(map[string][]entry{"public_keys": {{
		KeyIdentifier: id,
		Key:           string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		IsCurrent:     true,
	}}}, "", "  ")
	return id, list, err
}

// KeyIdentifier names a locally made key by its DER (PKIX) encoding: the
// hex SHA-256, shaped like GitHub's identifiers.
func KeyIdentifier(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
