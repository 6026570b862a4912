package lifecycle_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/infra/motolocal"
)

// validate checks every delivered event against its JSON Schema in
// docs/events (with jsonschema from moto's virtualenv), so the documented
// schemas are the published shape.
func validate(t *testing.T, evs []motolocal.Envelope) {
	t.Helper()
	if len(evs) == 0 {
		return
	}
	py, err := motolocal.Python()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "events.json")
	raw, _ := json.Marshal(evs)
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	const script = `
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
events = json.load(open(sys.argv[1]))
bad = 0
for e in events:
    schema = json.load(open("../../docs/events/%s.schema.json" % e["detail-type"]))
    for err in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(e):
        print("%s: %s at %s" % (e["detail-type"], err.message, list(err.absolute_path)))
        bad += 1
print("%d events checked" % len(events))
sys.exit(1 if bad else 0)
`
	out, err := exec.Command(py, "-c", script, file).CombinedOutput()
	if err != nil {
		t.Fatalf("events do not match docs/events: %v\n%s", err, out)
	}
}
