package config

import (
	"slices"
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

// eventsBase is the lifecycle functions' environment: no pepper.
func eventsBase() map[string]string {
	return map[string]string{"TABLE_NAME": "keygate", "EVENT_BUS_NAME": "keygate-events"}
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenPrefix != "kg_live_" || c.TokenHash != "hmac-sha256" || c.DefaultKeyTTL != 90*24*time.Hour ||
		c.KeyRetention != 30*24*time.Hour || c.MaxUserKeys != 10 || c.MaxServiceKeys != 5 ||
		c.AuthCacheTTL != 5*time.Second || c.LastUsedInterval != time.Minute || c.AllowQueryToken ||
		c.SecretScanningKeysURL != "https://api.github.com/meta/public_keys/secret_scanning" {
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
	m["SECRET_SCANNING_KEYS_URL"] = "file:///work/.build/secret-scanning-keys.json"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenPrefix != "sairo_" || c.DefaultKeyTTL != 0 || c.AuthCacheTTL != 0 || c.MaxUserKeys != 3 || !c.AllowQueryToken || c.TokenHash != "argon2id" ||
		c.SecretScanningKeysURL != "file:///work/.build/secret-scanning-keys.json" {
		t.Fatalf("overrides = %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name, key, value, want string
		events                 bool // LoadEvents, else Load
	}{
		{"no table", "TABLE_NAME", "", "TABLE_NAME is required", false},
		{"days", "DEFAULT_KEY_TTL", "90d", `write 90 days as "2160h"`, false},
		{"negative", "AUTH_CACHE_TTL", "-1s", "must not be negative", false},
		{"prefix", "TOKEN_PREFIX", "KG-", "TOKEN_PREFIX", false},
		{"hash", "TOKEN_HASH", "md5", "TOKEN_HASH", false},
		{"short pepper", "TOKEN_PEPPER", "short", "at least 32 bytes", false},
		{"no pepper", "TOKEN_PEPPER", "", "TOKEN_PEPPER (local) or TOKEN_PEPPER_SECRET_ARN (AWS) is required", false},
		{"limit", "MAX_USER_KEYS", "ten", "MAX_USER_KEYS", false},
		{"zero limit", "MAX_SERVICE_KEYS", "0", "at least 1", false},
		{"bool", "ALLOW_QUERY_TOKEN", "yes please", "ALLOW_QUERY_TOKEN", false},
		{"interval", "LAST_USED_INTERVAL", "10ms", "at least 1s", false},
		{"usage identifier", "USAGE_IDENTIFIER", "name", "USAGE_IDENTIFIER", false},
		{"key list over http", "SECRET_SCANNING_KEYS_URL", "http://api.github.com/meta/public_keys/secret_scanning", "SECRET_SCANNING_KEYS_URL", false},
		{"key list relative file", "SECRET_SCANNING_KEYS_URL", "file://keys.json", "SECRET_SCANNING_KEYS_URL", false},
		{"events: no table", "TABLE_NAME", "", "TABLE_NAME is required", true},
		{"events: no bus", "EVENT_BUS_NAME", "", "EVENT_BUS_NAME is required", true},
		{"events: sender", "EMAIL_SENDER", "Keys <keys@acme.example>", "EMAIL_SENDER", true},
		{"events: console", "CONSOLE_URL", "keys.acme.example", "CONSOLE_URL", true},
		{"events: console scheme", "CONSOLE_URL", "javascript:alert(1)", "CONSOLE_URL", true},
		{"events: days", "REMINDER_DAYS", "14d", "REMINDER_DAYS", true},
		{"events: days range", "REMINDER_DAYS", "90", "REMINDER_DAYS", true},
		{"events: days repeated", "REMINDER_DAYS", "3,3", "REMINDER_DAYS", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.events {
				m := eventsBase()
				m[tt.key] = tt.value
				_, err = LoadEvents(env(m))
			} else {
				m := base()
				m[tt.key] = tt.value
				_, err = Load(env(m))
			}
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

func TestEvents(t *testing.T) {
	e, err := LoadEvents(env(eventsBase()))
	if err != nil {
		t.Fatal(err)
	}
	if e.TableName != "keygate" || e.EventBusName != "keygate-events" || e.EmailSender != "" || !slices.Equal(e.ReminderDays, []int{14, 3}) {
		t.Fatalf("defaults = %+v", e)
	}
	m := eventsBase()
	m["EMAIL_SENDER"] = "keys@acme.example"
	m["CONSOLE_URL"] = "https://keys.acme.example/console"
	m["REMINDER_DAYS"] = "3, 30,7"
	if e, err = LoadEvents(env(m)); err != nil {
		t.Fatal(err)
	}
	if e.EmailSender != m["EMAIL_SENDER"] || e.ConsoleURL != m["CONSOLE_URL"] || !slices.Equal(e.ReminderDays, []int{30, 7, 3}) {
		t.Fatalf("overrides = %+v", e)
	}
}
