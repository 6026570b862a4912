package apikey

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

var testPepper = bytes.Repeat([]byte("p"), 32)

// th is the Hasher that tags the tests' tokens.
var th, _ = NewHasher(testPepper, HMACSHA256, rand.Reader)

func TestNewFormat(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"kg_live_", true},
		{"sk_live_", true},
		{"sairo_", true},
		{"a_", true},
		{"abcdefghijklmno_", true},
		{"abcdefghijklmnop_", false}, // 17 chars
		{"", false},
		{"kg", false},
		{"Kg_live_", false},
		{"1kg_", false},
		{"kg__", false},
		{"kg_live", false},
		{"kg_live_test_", false},
		{"kg-live_", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			_, err := NewFormat(tt.prefix)
			if (err == nil) != tt.ok {
				t.Fatalf("NewFormat(%q) err = %v, want ok=%v", tt.prefix, err, tt.ok)
			}
		})
	}
}

func TestGenerateParse(t *testing.T) {
	for _, prefix := range []string{"kg_live_", "sairo_", "sk_test_"} {
		t.Run(prefix, func(t *testing.T) {
			f, err := NewFormat(prefix)
			if err != nil {
				t.Fatal(err)
			}
			pattern := regexp.MustCompile("^" + f.Pattern() + "$")
			seen := map[string]bool{}
			for i := 0; i < 200; i++ {
				tok, err := f.Generate(rand.Reader, th)
				if err != nil {
					t.Fatal(err)
				}
				s := tok.Reveal()
				if !pattern.MatchString(s) {
					t.Fatalf("token %q does not match %s", s, f.Pattern())
				}
				if len(tok.ID()) != IDLen || !strings.HasPrefix(s, prefix+tok.ID()) {
					t.Fatalf("ID %q not at the start of the body", tok.ID())
				}
				if seen[tok.ID()] {
					t.Fatalf("duplicate ID %q", tok.ID())
				}
				seen[tok.ID()] = true
				got, err := f.Parse(s)
				if err != nil {
					t.Fatalf("Parse(generated) = %v", err)
				}
				if got.Reveal() != s || got.ID() != tok.ID() {
					t.Fatalf("Parse round trip: got %+v want %+v", got, tok)
				}
				if h := f.Hint(tok.ID()); h != prefix+s[len(prefix):len(prefix)+HintLen] {
					t.Fatalf("Hint = %q", h)
				}
			}
		})
	}
}

func TestGenerateIsDeterministicFromRandom(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	zero, err := f.Generate(bytes.NewReader(make([]byte, 64)), th)
	if err != nil {
		t.Fatal(err)
	}
	// All-zero randomness encodes as all-'0' digits; the checksum still validates.
	if want := DefaultPrefix + strings.Repeat("0", IDLen+SecretLen); !strings.HasPrefix(zero.Reveal(), want) {
		t.Fatalf("zero token = %q", zero)
	}
	if _, err := f.Parse(zero.Reveal()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Generate(bytes.NewReader(make([]byte, 10)), th); err == nil {
		t.Fatal("short random source: want error")
	}
}

func TestParseRejects(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	tok, _ := f.Generate(rand.Reader, th)
	s := tok.Reveal()
	flip := func(i int) string { return flipAt(s, i) }
	tests := []struct {
		name, token, reason string
	}{
		{"empty", "", "wrong length"},
		{"prefix only", DefaultPrefix, "wrong length"},
		{"truncated", s[:len(s)-1], "wrong length"},
		{"extra", s + "a", "wrong length"},
		{"other prefix", "sk_live_" + s[len(DefaultPrefix):], "wrong prefix"},
		{"upper prefix", strings.ToUpper(DefaultPrefix) + s[len(DefaultPrefix):], "wrong prefix"},
		{"not base62", s[:20] + "-" + s[21:], "bad checksum"},
		{"unicode", s[:20] + "é" + s[22:], "bad checksum"},
		{"typo in id", flip(len(DefaultPrefix) + 2), "bad checksum"},
		{"typo in secret", flip(len(DefaultPrefix) + IDLen + 5), "bad checksum"},
		{"typo in checksum", flip(len(s) - 1), "bad checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Parse(tt.token)
			var me *MalformedError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &me) || me.Reason != tt.reason {
				t.Fatalf("Parse = %v, want malformed (%s)", err, tt.reason)
			}
			if strings.Contains(err.Error(), s[len(DefaultPrefix):]) {
				t.Fatal("error quotes the token")
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	tok, _ := f.Generate(rand.Reader, th)
	bad := tok.Reveal()[:len(tok.Reveal())-1] + "x"
	for _, s := range []string{tok.Reveal(), bad} {
		if n := testing.AllocsPerRun(100, func() { _, _ = f.Parse(s) }); n != 0 {
			t.Fatalf("Parse allocates %v times", n)
		}
	}
}

func TestDigestIsHMAC(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	for _, pepper := range [][]byte{testPepper, bytes.Repeat([]byte("q"), 100)} {
		h, err := NewHasher(pepper, HMACSHA256, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := f.Generate(rand.Reader, th)
		mac := hmac.New(sha256.New, pepper)
		mac.Write([]byte(tok.material()))
		if d := h.Digest(tok); !bytes.Equal(d[:], mac.Sum(nil)) {
			t.Fatalf("Digest differs from crypto/hmac for pepper of %d bytes", len(pepper))
		}
		if n := testing.AllocsPerRun(100, func() { h.Digest(tok) }); n != 0 {
			t.Fatalf("Digest allocates %v times", n)
		}
	}
}

func TestVerify(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	for _, alg := range []string{HMACSHA256, Argon2ID} {
		t.Run(alg, func(t *testing.T) {
			h, err := NewHasher(testPepper, alg, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := f.Generate(rand.Reader, th)
			other, _ := f.Generate(rand.Reader, th)
			v, err := h.Verifier(tok)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(v, alg+"$") {
				t.Fatalf("verifier %q does not name %s", v, alg)
			}
			if strings.Contains(v, tok.Reveal()[len(DefaultPrefix)+IDLen:]) {
				t.Fatal("verifier contains the secret")
			}
			if ok, err := h.Verify(tok, v); !ok || err != nil {
				t.Fatalf("Verify(right) = %v, %v", ok, err)
			}
			if ok, err := h.Verify(other, v); ok || err != nil {
				t.Fatalf("Verify(wrong) = %v, %v", ok, err)
			}
			otherPepper, _ := NewHasher(bytes.Repeat([]byte("x"), 32), alg, rand.Reader)
			if ok, _ := otherPepper.Verify(tok, v); ok {
				t.Fatal("verifier accepted under another pepper")
			}
		})
	}
	// A hasher configured for HMAC still verifies argon2id keys: TOKEN_HASH
	// can change without breaking existing keys.
	tok, _ := f.Generate(rand.Reader, th)
	ah, _ := NewHasher(testPepper, Argon2ID, rand.Reader)
	hh, _ := NewHasher(testPepper, HMACSHA256, rand.Reader)
	v, _ := ah.Verifier(tok)
	if ok, err := hh.Verify(tok, v); !ok || err != nil {
		t.Fatalf("HMAC hasher verifying argon2id = %v, %v", ok, err)
	}
}

func TestVerifyUnreadable(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	h, _ := NewHasher(testPepper, HMACSHA256, rand.Reader)
	tok, _ := f.Generate(rand.Reader, th)
	for _, v := range []string{"", "plain", "hmac-sha256$", "hmac-sha256$!!!", "argon2id$v=19$m=1,t=1$a$b",
		"argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "argon2id$v=1$m=1,t=1,p=1$AAAA$AAAA"} {
		if ok, err := h.Verify(tok, v); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false and an error", v, ok, err)
		}
	}
}

func TestNewHasherRejects(t *testing.T) {
	if _, err := NewHasher([]byte("short"), HMACSHA256, rand.Reader); err == nil {
		t.Error("short pepper accepted")
	}
	if _, err := NewHasher(testPepper, "md5", rand.Reader); err == nil {
		t.Error("unknown algorithm accepted")
	}
}

func TestSeal(t *testing.T) {
	h, _ := NewHasher(testPepper, HMACSHA256, rand.Reader)
	secret := []byte("a value worth keeping secret")
	sealed, err := h.Seal(secret, "IDEM#a")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "secret") {
		t.Fatal("sealed value shows its plaintext")
	}
	got, err := h.Open(sealed, "IDEM#a")
	if err != nil || string(got) != string(secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := NewHasher(bytes.Repeat([]byte("x"), 32), HMACSHA256, rand.Reader)
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"other context": func() ([]byte, error) { return h.Open(sealed, "IDEM#b") },
		"other pepper":  func() ([]byte, error) { return other.Open(sealed, "IDEM#a") },
		"garbage":       func() ([]byte, error) { return h.Open("!!", "IDEM#a") },
		"empty":         func() ([]byte, error) { return h.Open("", "IDEM#a") },
		"tampered":      func() ([]byte, error) { return h.Open(string(tampered), "IDEM#a") },
		"truncated":     func() ([]byte, error) { return h.Open(sealed[:len(sealed)-2], "IDEM#a") },
	} {
		if _, err := try(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func flipAt(s string, i int) string {
	b := []byte(s)
	if b[i] == 'a' {
		b[i] = 'b'
	} else {
		b[i] = 'a'
	}
	return string(b)
}

// forgeTail changes a token's last secret character and fixes its checksum.
func forgeTail(tok string) string {
	n := len(tok) - ChecksumLen
	b := []byte(tok[:n])
	if b[n-1] == 'a' {
		b[n-1] = 'b'
	} else {
		b[n-1] = 'a'
	}
	sum := checksumDigits(crc32.ChecksumIEEE(b))
	return string(b) + string(sum[:])
}

// retag rebuilds a token's tag and checksum for a different secret, as a
// forger who knows the format (it is public) but not the pepper would.
func retag(t *testing.T, tok string, tag string) string {
	t.Helper()
	n := len(DefaultPrefix) + IDLen + SecretLen
	b := []byte(tok[:n] + tag)
	sum := checksumDigits(crc32.ChecksumIEEE(b))
	return string(b) + string(sum[:])
}

// TestAuthenticate: only tokens tagged with this pepper are authentic. A
// forger knows IDs (they are public) and the checksum (public too), so each
// forgery below parses; none authenticates.
func TestAuthenticate(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	tok, _ := f.Generate(rand.Reader, th)
	s := tok.Reveal()
	otherPepper, _ := NewHasher(bytes.Repeat([]byte("x"), 32), HMACSHA256, rand.Reader)
	fromOther, _ := f.Generate(rand.Reader, otherPepper)
	tag := s[len(DefaultPrefix)+IDLen+SecretLen : len(s)-ChecksumLen]
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"minted here", s, true},
		{"other pepper", fromOther.Reveal(), false},
		{"real id, other secret, copied tag", retag(t, flipAt(s, len(DefaultPrefix)+IDLen+5), tag), false},
		{"zero tag", retag(t, s, strings.Repeat("0", TagLen)), false},
		{"tag over 64 bits", retag(t, s, strings.Repeat("z", TagLen)), false},
		{"tag off by one digit", retag(t, s, tag[:TagLen-1]+string(base62Alphabet[(base62Value[tag[TagLen-1]]+1)%62])), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parsed, err := f.Parse(tt.token)
			if err != nil {
				t.Fatalf("Parse = %v: a forgery must be well formed to test the tag", err)
			}
			d, ok := th.Authenticate(parsed)
			if ok != tt.want {
				t.Fatalf("Authenticate = %v, want %v", ok, tt.want)
			}
			if d != th.Digest(parsed) {
				t.Fatal("Authenticate's digest differs from Digest")
			}
		})
	}
}

func TestAuthenticateDoesNotAllocate(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	tok, _ := f.Generate(rand.Reader, th)
	forged, _ := f.Parse(forgeTail(tok.Reveal()))
	for _, x := range []Token{tok, forged} {
		if n := testing.AllocsPerRun(100, func() { _, _ = th.Authenticate(x) }); n != 0 {
			t.Fatalf("Authenticate allocates %v times", n)
		}
	}
}

// TestSecretsRedactThemselves prints every secret-bearing type with every
// fmt verb, every slog handler and encoding/json; none may show the secret.
func TestSecretsRedactThemselves(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	tok, _ := f.Generate(rand.Reader, th)
	pepper := Secret(testPepper)
	h, _ := NewHasher(pepper, HMACSHA256, rand.Reader)
	type holder struct {
		Token  Token
		Pepper Secret
		Hasher *Hasher
	}
	values := map[string]any{
		"token": tok, "*token": &tok, "pepper": pepper, "hasher": h,
		"struct": holder{tok, pepper, h}, "*struct": &holder{tok, pepper, h},
		"slice": []Token{tok}, "map": map[string]Secret{"p": pepper},
	}
	secrets := []string{tok.Reveal()[len(DefaultPrefix):], tok.Reveal()[len(DefaultPrefix)+IDLen:], string(testPepper), "pppp", "112, 112"}
	check := func(t *testing.T, how, out string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Fatalf("%s prints a secret: %s", how, out)
			}
		}
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
				check(t, verb, fmt.Sprintf(verb, v))
			}
			check(t, "Sprint", fmt.Sprint(v))
			check(t, "Sprintln", fmt.Sprintln(v))
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			check(t, "json.Marshal", string(b))
			var buf bytes.Buffer
			for hname, handler := range map[string]slog.Handler{
				"json": slog.NewJSONHandler(&buf, nil),
				"text": slog.NewTextHandler(&buf, nil),
			} {
				log := slog.New(handler)
				log.Info("msg", "v", v)
				log.Info("msg", slog.Any("v", v))
				log.Info(fmt.Sprint(v))
				check(t, hname+" handler", buf.String())
				buf.Reset()
			}
		})
	}
	// The one way to the secret still works.
	if tok.Reveal() == "" || !strings.HasPrefix(tok.Reveal(), DefaultPrefix+tok.ID()) {
		t.Fatal("Reveal lost the token")
	}
}

// TestTokenInUnexportedFields: fmt cannot call a method on a value it
// reached through an unexported struct field and prints it by reflection,
// so Token's own Format does not help there. The token must still not
// show, however it is nested, under every verb and every encoder.
func TestTokenInUnexportedFields(t *testing.T) {
	f, _ := NewFormat(DefaultPrefix)
	tok, _ := f.Generate(rand.Reader, th)
	type inner struct{ tok Token }
	type outer struct {
		in    inner
		ptr   *inner
		list  []Token
		byKey map[string]Token
		deep  []map[string][]inner
		Pub   inner // exported, but its Token is not
	}
	in := inner{tok}
	o := outer{in: in, ptr: &in, list: []Token{tok, {}}, byKey: map[string]Token{"k": tok},
		deep: []map[string][]inner{{"k": {in}}}, Pub: in}
	values := map[string]any{
		"field": in, "*field": &in, "nested": o, "*nested": &o,
		"slice": []inner{in}, "map": map[string]inner{"k": in}, "map of nested": map[string]outer{"k": o},
		"array": [1]outer{o}, "interface field": struct{ v any }{o},
	}
	secret := tok.Reveal()[len(DefaultPrefix)+IDLen : len(DefaultPrefix)+IDLen+SecretLen]
	// %x and %X of a string print its bytes in hex.
	forms := []string{secret, hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret)))}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var out []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
				out = append(out, verb+": "+fmt.Sprintf(verb, v))
			}
			out = append(out, "Sprint: "+fmt.Sprint(v), "Sprintln: "+fmt.Sprintln(v))
			if b, err := json.Marshal(v); err != nil {
				t.Fatalf("json.Marshal: %v", err)
			} else {
				out = append(out, "json: "+string(b))
			}
			var buf bytes.Buffer
			for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
				log := slog.New(h)
				log.Info("msg", "v", v)
				log.Info("msg", slog.Group("g", slog.Any("v", v)))
			}
			out = append(out, "slog: "+buf.String())
			for _, o := range out {
				for _, form := range forms {
					if strings.Contains(o, form) {
						t.Errorf("prints the token under %s", o)
					}
				}
			}
		})
	}
}
