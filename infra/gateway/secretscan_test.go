package gateway_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/secretscan"
)

// TestSecretScanningRoute: the local gateway serves the secret-scanning
// route without an authorizer, through the real handler and the key
// management service: a signed alert for the admin key revokes it (the
// default leak action), an unsigned one is refused and changes nothing.
func TestSecretScanningRoute(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, list, err := secretscan.KeyList(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, list, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, 0, map[string]string{"AUTH_CACHE_TTL": "0", "SECRET_SCANNING_KEYS_URL": "file://" + path})
	body := []byte(`[{"token":"` + s.admin + `","type":"keygate_api_key","url":"https://github.com/octo/repo/blob/main/.env","source":"content"}]`)
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	post := func(headers map[string]string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, s.url+secretscan.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// No signature: 401 in the envelope, and the key still works.
	status, raw := post(nil)
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	wantEnvelope(t, status, env, 401, keygate.Unauthorized)
	if status, who := s.do(t, "GET", "/v1/whoami", s.admin, ""); status != 200 {
		t.Fatalf("whoami after an unsigned alert = %d %v", status, who)
	}

	status, raw = post(map[string]string{secretscan.HeaderKeyID: id, secretscan.HeaderSignature: base64.StdEncoding.EncodeToString(sig)})
	if status != 200 || !strings.Contains(string(raw), `"label":"true_positive"`) {
		t.Fatalf("signed alert = %d %s", status, raw)
	}
	status, who := s.do(t, "GET", "/v1/whoami", s.admin, "")
	wantEnvelope(t, status, who, 401, keygate.Unauthorized)
}
