package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func base() map[string]string {
	return map[string]string{"TABLE_NAME": "keygate", "TOKEN_PEPPER": strings.Repeat("p", 32)}
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenPrefix != "kg_live_" || c.TokenHash != "hmac-sha256" || c.DefaultKeyTTL != 90*24*time.Hour ||
		c.KeyRetention != 30*24*time.Hour || c.MaxUserKeys != 10 || c.MaxServiceKeys != 5 ||
		c.AuthCacheTTL != 5*time.Second || c.LastUsedInterval != time.Minute || c.AllowQueryToken {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestOverrides(t *testing.T) {
	m := base()
	m["TOKEN_PREFIX"] = "sairo_"
	m["DEFAULT_KEY_TTL"] = "0"
	m["AUTH_CACHE_TTL"] = "0s"
	m["MAX_USER_KEYS"] = "3"
	m["ALLOW_QUERY_TOKEN"] = "true"
	m["TOKEN_HASH"] = "argon2id"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenPrefix != "sairo_" || c.DefaultKeyTTL != 0 || c.AuthCacheTTL != 0 || c.MaxUserKeys != 3 || !c.AllowQueryToken || c.TokenHash != "argon2id" {
		t.Fatalf("overrides = %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"no table", "TABLE_NAME", "", "TABLE_NAME is required"},
		{"days", "DEFAULT_KEY_TTL", "90d", `write 90 days as "2160h"`},
		{"negative", "AUTH_CACHE_TTL", "-1s", "must not be negative"},
		{"prefix", "TOKEN_PREFIX", "KG-", "TOKEN_PREFIX"},
		{"hash", "TOKEN_HASH", "md5", "TOKEN_HASH"},
		{"short pepper", "TOKEN_PEPPER", "short", "at least 32 bytes"},
		{"no pepper", "TOKEN_PEPPER", "", "TOKEN_PEPPER (local) or TOKEN_PEPPER_SECRET_ARN (AWS) is required"},
		{"limit", "MAX_USER_KEYS", "ten", "MAX_USER_KEYS"},
		{"zero limit", "MAX_SERVICE_KEYS", "0", "at least 1"},
		{"bool", "ALLOW_QUERY_TOKEN", "yes please", "ALLOW_QUERY_TOKEN"},
		{"interval", "LAST_USED_INTERVAL", "10ms", "at least 1s"},
		{"usage identifier", "USAGE_IDENTIFIER", "name", "USAGE_IDENTIFIER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			m[tt.key] = tt.value
			_, err := Load(env(m))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), strings.Repeat("p", 32)) {
				t.Fatal("error quotes the pepper")
			}
		})
	}
	m := base()
	m["TOKEN_PEPPER_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("both peppers: %v", err)
	}
}
