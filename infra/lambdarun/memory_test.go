//go:build linux

package lambdarun

import (
	"os"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestMemorySizeIsTheTemplates: the harness tells functions (and make
// invoke's REPORT line shows) the memory the template deploys them with.
func TestMemorySizeIsTheTemplates(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Globals struct {
			Function struct {
				MemorySize string `yaml:"MemorySize"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	if got, err := strconv.Atoi(tpl.Globals.Function.MemorySize); err != nil || got != MemorySizeMB {
		t.Fatalf("template MemorySize %q, harness %d", tpl.Globals.Function.MemorySize, MemorySizeMB)
	}
}
