package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
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
	// Strictly, as operators write it: with encoding/json alone a second
	// "current" or a "Current" would silently win over the first. No
	// message quotes the document: a name could be a pepper pasted in the
	// wrong place.
	bad := errors.New(`token pepper: not a plain string nor JSON {"tag_seed","current","peppers"}, each once`)
	if err := exactMembers([]byte(trimmed), "tag_seed", "current", "peppers"); err != nil {
		return Peppers{}, bad
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Peppers{}, bad
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

// exactMembers walks a JSON document with encoding/json's tokenizer and
// refuses what encoding/json's decoding would let pass: a member name twice
// in one object, or a top-level name that is not exactly one of names
// (encoding/json matches names case-insensitively), or trailing data.
//
// The pepper is the one strictly read input the authorizer has, and the
// authorizer's size budget (BENCHMARKS.md, "Binary size") has no room for
// the strict decoder the management functions link (shared/strictjson,
// half a megabyte): for a three-member document read once at start-up this
// walk does the same job.
func exactMembers(data []byte, names ...string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > 8 {
			return errors.New("nested too deeply")
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				name, _ := tok.(string)
				if seen[name] || (depth == 0 && !slices.Contains(names, name)) {
					return errors.New("a member is repeated or unknown")
				}
				seen[name] = true
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
		case json.Delim('['):
			for dec.More() {
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
		default:
			return nil
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	if err := walk(0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the document")
	}
	return nil
}
