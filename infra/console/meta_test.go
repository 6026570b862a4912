package console_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestMetadata: the create form's optional external ID and metadata reach
// the API (the metadata as a JSON object; anything else is refused in the
// form), and the key's details show both, as text.
func TestMetadata(t *testing.T) {
	s, b := signedIn(t, 1280, 1100, seed)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	b.do("open create", chromedp.Click(chromedp.CSS("#open-create")))
	b.waitFor("create dialog open", dialogOpen("create-dialog"))
	b.do("fill with a metadata array",
		chromedp.SendKeys(chromedp.CSS("#c-name"), "tagged"),
		chromedp.SetValue(chromedp.CSS("#c-owner"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#c-scopes"), "GET /v1/whoami"),
		chromedp.SetValue(chromedp.CSS("#c-apis"), "kglocal001"),
		chromedp.SendKeys(chromedp.CSS("#c-external-id"), "c_123"),
		chromedp.SetValue(chromedp.CSS("#c-meta"), `["pro"]`),
		chromedp.Click(chromedp.CSS("#create-submit")),
	)
	b.waitFor("the form's message", `document.getElementById('create-error').textContent.includes('JSON object')`)
	b.do("fix the metadata", chromedp.SetValue(chromedp.CSS("#c-meta"), `{"plan": "pro", "note": "<b id=injected>x</b>"}`))
	b.axe("create dialog with metadata")
	b.do("create", chromedp.Click(chromedp.CSS("#create-submit")))
	b.waitFor("reveal dialog open", dialogOpen("reveal-dialog")+` && !`+dialogOpen("create-dialog"))
	token := eval[string](b, "read the token", `document.getElementById('reveal-token').value`)
	b.do("confirm and close", chromedp.Click(chromedp.CSS("#reveal-ack")), chromedp.Click(chromedp.CSS("#reveal-done")))
	b.waitFor("reveal closed", `!`+dialogOpen("reveal-dialog"))

	status, me := s.call(t, "GET", "/v1/whoami", token, "")
	meta, _ := me["meta"].(map[string]any)
	if status != 200 || me["external_id"] != "c_123" || meta["plan"] != "pro" {
		t.Fatalf("step \"the API holds the metadata\": whoami = %d %v", status, me)
	}
	details := `#keys-body button[aria-label="Details of tagged"]`
	b.waitFor("new key listed", fmt.Sprintf(`document.querySelector(%q) !== null`, details))
	b.do("open its details", chromedp.Click(chromedp.CSS(details)))
	b.waitFor("details loaded", dialogOpen("details-dialog")+` && document.getElementById('details-dialog').dataset.loaded === 'true'`)
	facts := eval[string](b, "read the details", `document.getElementById('details-facts').textContent`)
	b.check("external ID and metadata shown as text", strings.Contains(facts, "External IDc_123") &&
		strings.Contains(facts, `{"plan":"pro","note":"<b id=injected>x</b>"}`) &&
		eval[bool](b, "no injection", `document.getElementById('injected') === null`), "details show %q", facts)
	b.axe("key details with metadata")
}
