// Package config reads Keygate's settings from the environment: Load for
// the key functions (create, list, revoke, authorizer), LoadEvents for the
// lifecycle functions. A missing or invalid setting is an error that names
// the variable, so a function stops at start with one clear line.
package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/shared/apikey"
)

// Config is the environment of the key functions.
type Config struct {
	TableName            string
	DynamoDBEndpoint     string // local only
	TokenPrefix          string
	TokenPepper          apikey.Secret // local; in AWS the secret named below
	TokenPepperSecretARN string
	TokenHash            string
	DefaultKeyTTL        time.Duration
	KeyRetention         time.Duration
	MaxUserKeys          int
	MaxServiceKeys       int
	AuthCacheTTL         time.Duration
	LastUsedInterval     time.Duration
	AllowQueryToken      bool
	// ImportedKeys (IMPORTED_KEYS=on) lets the authorizer accept imported
	// keys' values, which lack the token format (docs/import.md).
	ImportedKeys    bool
	UsageIdentifier string // "", "id", "tenant" or "owner"
	// SecretScanningKeysURL is where the secret-scanning function reads
	// GitHub's signing keys: https://, or file:// locally.
	SecretScanningKeysURL string
}

// Defaults, as documented in the README's configuration table.
const (
	DefaultKeyTTL           = 2160 * time.Hour // 90 days
	DefaultKeyRetention     = 720 * time.Hour  // 30 days
	DefaultMaxUserKeys      = 10
	DefaultMaxServiceKeys   = 5
	DefaultAuthCacheTTL     = 5 * time.Second
	DefaultLastUsedInterval = 60 * time.Second
	// DefaultSecretScanningKeysURL is GitHub's list of the keys that sign
	// secret-scanning alerts.
	DefaultSecretScanningKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"
)

// Load reads the configuration through getenv (os.Getenv in production).
// It reports every problem at once.
func Load(getenv func(string) string) (*Config, error) {
	r := reader{getenv: getenv}
	c := &Config{
		TableName:             r.str("TABLE_NAME", ""),
		DynamoDBEndpoint:      r.str("DYNAMODB_ENDPOINT", ""),
		TokenPrefix:           r.str("TOKEN_PREFIX", apikey.DefaultPrefix),
		TokenPepper:           apikey.Secret(r.str("TOKEN_PEPPER", "")),
		TokenPepperSecretARN:  r.str("TOKEN_PEPPER_SECRET_ARN", ""),
		TokenHash:             r.str("TOKEN_HASH", apikey.HMACSHA256),
		DefaultKeyTTL:         r.duration("DEFAULT_KEY_TTL", DefaultKeyTTL),
		KeyRetention:          r.duration("KEY_RETENTION", DefaultKeyRetention),
		MaxUserKeys:           r.count("MAX_USER_KEYS", DefaultMaxUserKeys),
		MaxServiceKeys:        r.count("MAX_SERVICE_KEYS", DefaultMaxServiceKeys),
		AuthCacheTTL:          r.duration("AUTH_CACHE_TTL", DefaultAuthCacheTTL),
		LastUsedInterval:      r.duration("LAST_USED_INTERVAL", DefaultLastUsedInterval),
		AllowQueryToken:       r.boolean("ALLOW_QUERY_TOKEN", false),
		UsageIdentifier:       r.str("USAGE_IDENTIFIER", ""),
		ImportedKeys:          r.str("IMPORTED_KEYS", "off") == "on",
		SecretScanningKeysURL: r.str("SECRET_SCANNING_KEYS_URL", DefaultSecretScanningKeysURL),
	}
	if u := c.SecretScanningKeysURL; !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "file:///") {
		r.fail("SECRET_SCANNING_KEYS_URL must be an https:// URL or a file:/// path, not %q", u)
	}
	if v := r.str("IMPORTED_KEYS", "off"); v != "on" && v != "off" {
		r.fail("IMPORTED_KEYS must be on or off, not %q", v)
	}
	switch c.UsageIdentifier {
	case "", "id", "tenant", "owner":
	default:
		r.fail("USAGE_IDENTIFIER must be empty, id, tenant or owner, not %q", c.UsageIdentifier)
	}
	if c.TableName == "" {
		r.fail("TABLE_NAME is required")
	}
	if _, err := apikey.NewFormat(c.TokenPrefix); err != nil {
		r.fail("TOKEN_PREFIX: %v", err)
	}
	switch c.TokenHash {
	case apikey.HMACSHA256, apikey.Argon2ID:
	default:
		r.fail("TOKEN_HASH must be %s or %s, not %q", apikey.HMACSHA256, apikey.Argon2ID, c.TokenHash)
	}
	switch {
	case len(c.TokenPepper) > 0 && c.TokenPepperSecretARN != "":
		r.fail("set TOKEN_PEPPER or TOKEN_PEPPER_SECRET_ARN, not both")
	case len(c.TokenPepper) == 0 && c.TokenPepperSecretARN == "":
		r.fail("TOKEN_PEPPER (local) or TOKEN_PEPPER_SECRET_ARN (AWS) is required")
	case c.TokenPepperSecretARN == "":
		if _, err := apikey.ParsePeppers(string(c.TokenPepper)); err != nil {
			r.fail("TOKEN_PEPPER: %v", err)
		}
	}
	if c.KeyRetention == 0 {
		r.fail("KEY_RETENTION must be more than 0")
	}
	if c.MaxUserKeys == 0 || c.MaxServiceKeys == 0 {
		r.fail("MAX_USER_KEYS and MAX_SERVICE_KEYS must be at least 1")
	}
	if c.LastUsedInterval < time.Second {
		r.fail("LAST_USED_INTERVAL must be at least 1s")
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return c, nil
}

type reader struct {
	getenv func(string) string
	errs   []error
}

// err is every problem found, or nil.
func (r *reader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(r.errs...))
}

func (r *reader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(format, args...))
}

func (r *reader) str(name, def string) string {
	if v := r.getenv(name); v != "" {
		return v
	}
	return def
}

// duration accepts Go durations only ("2160h", not "90d") and rejects
// negative values.
func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		hint := ""
		if strings.HasSuffix(v, "d") {
			hint = ` (days are not Go syntax: write 90 days as "2160h")`
		}
		r.fail("%s: %q is not a Go duration such as 5s, 1m or 2160h%s", name, v, hint)
		return def
	}
	if d < 0 {
		r.fail("%s must not be negative", name)
		return def
	}
	return d
}

func (r *reader) count(name string, def int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1000 {
		r.fail("%s: %q must be a whole number from 0 to 1000", name, v)
		return def
	}
	return n
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail("%s: %q must be true or false", name, v)
		return def
	}
	return b
}
