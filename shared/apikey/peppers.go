package apikey

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keygate/keygate/shared/strictjson"
)

// Peppers are the server's secrets.
//
// TOKEN_PEPPER (or the Secrets Manager secret TOKEN_PEPPER_SECRET_ARN
// names) is either one plain string, which is then both the tag seed and
// pepper version 1 (what the template generates), or a JSON object:
//
//	{"tag_seed": "...", "current": 2, "peppers": {"1": "...", "2": "..."}}
//
// The tag seed keys the anti-forgery tag inside every token, so it cannot
// change without re-issuing every token; its loss only lets a forger make
// tokens that cost a read, never ones that authenticate. The peppers key
// the stored verifiers and the sealing (Hasher.Seal): new keys are stamped
// and new values sealed under "current", keys seen by the authorizer under
// an older version are re-stamped, and a version is retired by leaving it
// out once no key needs it, which retires what it sealed too
// (docs/pepper-rotation.md).
type Peppers struct {
	TagSeed  Secret
	Current  int
	Versions map[int]Secret
}

// ParsePeppers reads the pepper setting. Errors never quote it.
func ParsePeppers(s string) (Peppers, error) {
	trimmed := strings.TrimSpace(s)
	if !strings.HasPrefix(trimmed, "{") {
		p := Peppers{TagSeed: Secret(s), Current: 1, Versions: map[int]Secret{1: Secret(s)}}
		return p, p.check()
	}
	var raw struct {
		TagSeed string            `json:"tag_seed"`
		Current int               `json:"current"`
		Peppers map[string]string `json:"peppers"`
	}
	// Strictly, as operators write it: with encoding/json a second
	// "current" or a "Current" would silently win over the first.
	// strictjson's message is not used: a name it would show could be a
	// pepper pasted in the wrong place.
	if err := strictjson.Decode([]byte(trimmed), &raw); err != nil {
		return Peppers{}, fmt.Errorf("token pepper: not a plain string nor JSON {\"tag_seed\",\"current\",\"peppers\"}")
	}
	p := Peppers{TagSeed: Secret(raw.TagSeed), Current: raw.Current, Versions: map[int]Secret{}}
	for v, pepper := range raw.Peppers {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || strconv.Itoa(n) != v {
			return Peppers{}, fmt.Errorf("token pepper: versions are whole numbers from 1")
		}
		p.Versions[n] = Secret(pepper)
	}
	return p, p.check()
}

func (p Peppers) check() error {
	if len(p.TagSeed) < MinPepperLen {
		return fmt.Errorf("token pepper: the tag seed must be at least %d bytes", MinPepperLen)
	}
	if _, ok := p.Versions[p.Current]; !ok {
		return fmt.Errorf("token pepper: the current version %d has no pepper", p.Current)
	}
	for v, pepper := range p.Versions {
		if len(pepper) < MinPepperLen {
			return fmt.Errorf("token pepper: version %d must be at least %d bytes", v, MinPepperLen)
		}
	}
	return nil
}
