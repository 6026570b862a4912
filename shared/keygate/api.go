package keygate

import "fmt"

// A key's APIs say which API Gateway APIs it may call, one entry each:
//
//	"*"            every API that attaches the authorizer
//	"abc123"       every stage of API abc123
//	"abc123/prod"  stage prod of API abc123 only
//
// API ids are what API Gateway puts in a methodArn or routeArn: lowercase
// letters and digits (AWS makes them 10 long; any length up to 32 is taken,
// for local stand-ins). Stage names are letters, digits, '-' and '_' (at
// most 128), or "$default" for an HTTP API's default stage.
const (
	AllAPIs = "*"
	// MaxAPIs bounds the entries of one key.
	MaxAPIs = 20
)

// CheckAPIs validates a key's APIs. An empty list is valid here; whether a
// key may have none is the service's rule.
func CheckAPIs(apis []string) error {
	if len(apis) > MaxAPIs {
		return fmt.Errorf("apis: at most %d entries", MaxAPIs)
	}
	for i, a := range apis {
		if !validAPI(a) {
			return fmt.Errorf("apis[%d]: want \"*\", an API id such as \"abc123def4\" (lowercase letters and digits), or API id/stage such as \"abc123def4/prod\"", i)
		}
	}
	return nil
}

func validAPI(a string) bool {
	if a == AllAPIs {
		return true
	}
	id, stage, hasStage := cut(a, '/')
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	if !hasStage {
		return true
	}
	if stage == "$default" {
		return true
	}
	if len(stage) == 0 || len(stage) > 128 {
		return false
	}
	for i := 0; i < len(stage); i++ {
		if c := stage[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// APIAllowed reports whether apis let a key call stage of API id. Entries
// are compared exactly: API ids and stage names are case-sensitive in ARNs.
// It does not allocate.
func APIAllowed(apis []string, id, stage string) bool {
	for _, a := range apis {
		if a == AllAPIs {
			return true
		}
		aid, astage, hasStage := cut(a, '/')
		if aid == id && (!hasStage || astage == stage) {
			return true
		}
	}
	return false
}

// APIsCovered reports whether every entry of want is within have: what a
// creator may pass on to a key it mints.
func APIsCovered(want, have []string) bool {
	for _, w := range want {
		if !apiCovered(w, have) {
			return false
		}
	}
	return true
}

func apiCovered(w string, have []string) bool {
	for _, h := range have {
		if h == AllAPIs || h == w {
			return true
		}
		hid, _, hasStage := cut(h, '/')
		wid, _, _ := cut(w, '/')
		if !hasStage && w != AllAPIs && hid == wid {
			return true
		}
	}
	return false
}
