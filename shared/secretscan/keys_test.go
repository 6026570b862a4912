package secretscan_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/secretscan"
)

// signer is a signing key made for the test and its identifier.
type signer struct {
	priv *ecdsa.PrivateKey
	id   string
	list []byte // a key list in GitHub's format holding it
}

func newSigner(t testing.TB) signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, list, err := secretscan.KeyList(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return signer{priv: priv, id: id, list: list}
}

// keyListServer serves list over TLS and counts the fetches; block, if
// set, holds each fetch until it is closed.
type keyListServer struct {
	*httptest.Server
	fetches atomic.Int32
	block   chan struct{}
}

func serveKeyList(t testing.TB, list []byte, block chan struct{}) *keyListServer {
	s := &keyListServer{block: block}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.block != nil {
			<-s.block
		}
		_, _ = w.Write(list)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *keyListServer) keys(t testing.TB, clock *testkit.Clock) *secretscan.Keys {
	t.Helper()
	client := s.Client()
	client.Timeout = 5 * time.Second
	k, err := secretscan.NewKeys(s.URL+"/meta/public_keys/secret_scanning", client, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeysRefreshBounded: an unknown identifier fetches the list again at
// most once a minute, however many arrive; a known one never does.
func TestKeysRefreshBounded(t *testing.T) {
	s := newSigner(t)
	srv := serveKeyList(t, s.list, nil)
	clock := testkit.NewClock(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	keys := srv.keys(t, clock)
	ctx := context.Background()
	steps := []struct {
		name    string
		advance time.Duration
		id      string
		code    keygate.Code // "" for found
		fetches int32        // in total, after the step
	}{
		{"first use fetches", 0, s.id, "", 1},
		{"known id: cached", 0, s.id, "", 1},
		{"unknown id within the minute: no fetch", 30 * time.Second, "unknown-1", keygate.Unauthorized, 1},
		{"unknown id after a minute: one fetch", 31 * time.Second, "unknown-2", keygate.Unauthorized, 2},
		{"another at once: none", 0, "unknown-3", keygate.Unauthorized, 2},
		{"known id still found", 59 * time.Second, s.id, "", 2},
	}
	for _, st := range steps {
		clock.Add(st.advance)
		_, err := keys.Key(ctx, st.id)
		if got := codeOf(err); got != st.code || srv.fetches.Load() != st.fetches {
			t.Fatalf("%s: %v (code %q), %d fetches; want %q, %d", st.name, err, got, srv.fetches.Load(), st.code, st.fetches)
		}
	}
	// A flood of made-up identifiers, a minute later, in parallel: one
	// fetch between them.
	clock.Add(time.Minute)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if _, err := keys.Key(ctx, "flood-"+string(rune('a'+i%26))); codeOf(err) != keygate.Unauthorized {
				t.Errorf("flood: %v", err)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("a flood of unknown ids made %d fetches in all, want 3", n)
	}
}

func codeOf(err error) keygate.Code {
	if err == nil {
		return ""
	}
	return keygate.ErrorCode(err)
}

// TestKeysSharedFetch: requests that arrive while the list is fetched wait
// for that fetch instead of starting their own.
func TestKeysSharedFetch(t *testing.T) {
	s := newSigner(t)
	release := make(chan struct{})
	srv := serveKeyList(t, s.list, release)
	keys := srv.keys(t, testkit.NewClock(time.Now()))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := keys.Key(context.Background(), s.id); err != nil {
				t.Errorf("Key: %v", err)
			}
		})
	}
	for srv.fetches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind it
	close(release)
	wg.Wait()
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("20 concurrent first requests made %d fetches, want 1", n)
	}
}

// TestKeysUnreachable: a list that cannot be fetched is 503 (GitHub
// retries), and is not asked for again within the minute.
func TestKeysUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var dials atomic.Int32
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	clock := testkit.NewClock(time.Now())
	keys, err := secretscan.NewKeys("https://api.github.example/meta/public_keys/secret_scanning", client, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i, advance := range []time.Duration{0, 10 * time.Second, 0} {
		clock.Add(advance)
		if _, err := keys.Key(context.Background(), "any"); codeOf(err) != keygate.Unavailable {
			t.Fatalf("request %d: %v, want unavailable", i, err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d fetch attempts within a minute, want 1", n)
	}
}

func TestNewKeysRefuses(t *testing.T) {
	withTimeout := &http.Client{Timeout: time.Second}
	tests := []struct {
		url    string
		client *http.Client
		ok     bool
	}{
		{"https://api.github.com/meta/public_keys/secret_scanning", withTimeout, true},
		{"file:///tmp/keys.json", nil, true},
		{"https://api.github.com/meta/public_keys/secret_scanning", http.DefaultClient, false}, // no timeout
		{"http://api.github.com/meta/public_keys/secret_scanning", withTimeout, false},
		{"https://user:pw@api.github.com/keys", withTimeout, false},
		{"ftp://example.com/keys.json", withTimeout, false},
		{"file://example.com/keys.json", withTimeout, false},
		{"keys.json", withTimeout, false},
		{"", withTimeout, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := secretscan.NewKeys(tt.url, tt.client, time.Now)
			if (err == nil) != tt.ok {
				t.Fatalf("NewKeys(%q) = %v, want ok %v", tt.url, err, tt.ok)
			}
		})
	}
}

// TestKeyListKinds: only ECDSA P-256 keys verify; other kinds in the list
// are passed over, and a list of nothing else is refused (503).
func TestKeyListKinds(t *testing.T) {
	p256 := newSigner(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(id string, pub any) map[string]any {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"key_identifier": id, "key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "is_current": false}
	}
	bad := []map[string]any{entry("p384", &p384.PublicKey), entry("rsa", &rsaKey.PublicKey),
		{"key_identifier": "junk", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}
	tests := []struct {
		name  string
		list  []map[string]any
		found map[string]keygate.Code
	}{
		{"mixed", append(bad, entry(p256.id, &p256.priv.PublicKey)), map[string]keygate.Code{
			p256.id: "", "p384": keygate.Unauthorized, "rsa": keygate.Unauthorized, "junk": keygate.Unauthorized}},
		{"none usable", bad, map[string]keygate.Code{p256.id: keygate.Unavailable, "p384": keygate.Unavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]any{"public_keys": tt.list})
			path := filepath.Join(t.TempDir(), "keys.json")
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			keys, err := secretscan.NewKeys("file://"+path, nil, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range tt.found {
				if _, err := keys.Key(context.Background(), id); codeOf(err) != want {
					t.Errorf("Key(%s) = %v, want %q", id, err, want)
				}
			}
		})
	}
}

// TestKeysListAge: a known key is used from a list at most MaxListAge
// old; the next alert after that fetches the list again, so a key GitHub
// withdrew stops verifying, while a list that cannot be fetched then
// keeps the keys it had.
func TestKeysListAge(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	var list atomic.Pointer[[]byte]
	var down atomic.Bool
	var fetches atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(*list.Load())
	}))
	t.Cleanup(srv.Close)
	list.Store(&a.list)
	clock := testkit.NewClock(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	client := srv.Client()
	client.Timeout = 5 * time.Second
	keys, err := secretscan.NewKeys(srv.URL+"/keys", client, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := keys.Key(ctx, a.id); err != nil {
		t.Fatal(err)
	}
	// Within the hour: cached, however the list changed.
	list.Store(&b.list)
	clock.Add(secretscan.MaxListAge - time.Second)
	if _, err := keys.Key(ctx, a.id); err != nil || fetches.Load() != 1 {
		t.Fatalf("within MaxListAge: %v, %d fetches", err, fetches.Load())
	}
	// GitHub down past the hour: the old list still verifies.
	down.Store(true)
	clock.Add(2 * time.Second)
	if _, err := keys.Key(ctx, a.id); err != nil || fetches.Load() != 2 {
		t.Fatalf("list unreachable past MaxListAge: %v, %d fetches", err, fetches.Load())
	}
	// Back, a minute later: a is withdrawn, b verifies.
	down.Store(false)
	clock.Add(secretscan.RefreshInterval)
	if _, err := keys.Key(ctx, a.id); codeOf(err) != keygate.Unauthorized || fetches.Load() != 3 {
		t.Fatalf("withdrawn key: %v, %d fetches", err, fetches.Load())
	}
	if _, err := keys.Key(ctx, b.id); err != nil || fetches.Load() != 3 {
		t.Fatalf("new key: %v, %d fetches", err, fetches.Load())
	}
}
