package console_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var tokenPattern = regexp.MustCompile(`^kg_live_[0-9A-Za-z]{77}$`)

// seed gives the table the variety a real tenant has.
func seed(t *testing.T, s *stack) {
	t.Helper()
	bob, _ := s.create(t, `{"owner":"bob","name":"bob laptop","apis":["kglocal001"],"scopes":["GET /v1/whoami","GET /v1/keys"],"expires_in_hours":720}`)
	s.call(t, "GET", "/v1/whoami", bob, "") // last used: just now
	s.create(t, `{"type":"service","name":"billing sync","apis":["*"],"scopes":["GET /invoices/*","POST /invoices","GET /customers/*","GET /reports/*"],"expires_in_hours":0}`)
	s.create(t, `{"owner":"carol","name":"staging deploy","apis":["kglocal001/local"],"scopes":["* /v1/keys"],"expires_in_hours":60}`)
	_, old := s.create(t, `{"owner":"bob","name":"old laptop","apis":["kglocal001"],"scopes":["GET /v1/whoami"]}`)
	if status, _ := s.call(t, "DELETE", "/v1/keys/"+old, s.admin, ""); status != 200 {
		t.Fatalf("seed revoke = %d", status)
	}
}

func dialogOpen(id string) string { return fmt.Sprintf(`document.getElementById(%q).open`, id) }

// TestJourney: sign in as an admin, create a viewer key, use it from Go,
// revoke it in the console, and see the API refuse it.
func TestJourney(t *testing.T) {
	s, b := signedIn(t, 1280, 1000, seed)
	b.waitFor("signed in, keys listed", `!document.getElementById('app-view').hidden && document.querySelectorAll('#keys-body tr').length === 4`)
	who := eval[map[string]string](b, "read identity", `({tenant: document.getElementById('who-tenant').textContent,
		owner: document.getElementById('who-owner').textContent, role: document.getElementById('who-role').textContent})`)
	b.check("identity shown", who["tenant"] == "demo" && who["owner"] == "alice" && strings.Contains(who["role"], "admin"), "identity panel shows %v", who)
	storage := eval[map[string]any](b, "key storage", fmt.Sprintf(`({session: sessionStorage.getItem('keygate.console.key') === %s,
		local: localStorage.length, inURL: location.href.includes(%s)})`, js(s.admin), js(s.admin[8:30])))
	b.check("key kept in sessionStorage only", storage["session"] == true && storage["local"] == float64(0) && storage["inURL"] == false, "storage: %v", storage)
	// The list as a new user first sees it: the default filter, Active.
	b.check("the default filter is Active", eval[string](b, "filter", `document.getElementById('filter-status').value`) == "active", "the status filter does not default to Active")
	b.screenshot("keys")
	b.axe("keys screen")

	eval[bool](b, "show every status", `(document.getElementById('filter-status').value = '', true)`)
	b.do("apply the filter", chromedp.Click(chromedp.CSS("#filters button[type=submit]")))
	b.waitFor("all keys listed", `document.querySelectorAll('#keys-body tr').length === 5 && document.querySelector('#keys-body tr[data-status=revoked]') !== null`)
	b.axe("keys screen, every status")

	// Create, first with a scope the API rejects: its own message shows.
	b.do("open create", chromedp.Click(chromedp.CSS("#open-create")))
	b.waitFor("create dialog open", dialogOpen("create-dialog"))
	b.check("focus moves into the create dialog", b.focused("create focus", "#c-name"), "focus is not on the name field")
	b.do("fill the create form",
		chromedp.SendKeys(chromedp.CSS("#c-name"), "ci smoke test"),
		chromedp.SetValue(chromedp.CSS("#c-owner"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#c-scopes"), "GET v1/whoami"),
		chromedp.SetValue(chromedp.CSS("#c-apis"), "kglocal001"),
		chromedp.SetValue(chromedp.CSS("#c-expiry"), "720"),
	)
	b.screenshot("create")
	b.axe("create dialog")
	b.do("submit a bad scope", chromedp.Click(chromedp.CSS("#create-submit")))
	b.waitFor("the API's 400 message", `document.getElementById('create-error').textContent.includes('scope')`)
	b.do("fix the scope", chromedp.SetValue(chromedp.CSS("#c-scopes"), "GET /v1/whoami"),
		chromedp.Click(chromedp.CSS("#create-submit")))
	b.waitFor("reveal dialog open", dialogOpen("reveal-dialog")+` && !`+dialogOpen("create-dialog"))
	token := eval[string](b, "read the token", `document.getElementById('reveal-token').value`)
	b.check("token revealed", tokenPattern.MatchString(token), "reveal shows %q, not a token", token)
	b.check("done needs the confirmation", eval[bool](b, "done disabled", `document.getElementById('reveal-done').disabled`), "Done is enabled before the checkbox")
	b.check("focus moves into the reveal dialog", b.focused("reveal focus", "#reveal-dialog *"), "focus is outside the reveal dialog")
	b.screenshot("reveal")
	b.axe("token reveal dialog")
	b.press("Escape on reveal", kb.Escape)
	b.check("Escape keeps the token on screen", eval[bool](b, "still open", dialogOpen("reveal-dialog")), "Escape closed the reveal dialog before confirmation")
	b.do("confirm and close", chromedp.Click(chromedp.CSS("#reveal-ack")), chromedp.Click(chromedp.CSS("#reveal-done")))
	b.waitFor("reveal closed", `!`+dialogOpen("reveal-dialog")+` && document.getElementById('reveal-token').value === ''`)
	b.check("focus returns to Create key", b.focused("focus back", "#open-create"), "focus did not return to the Create key button")

	// The token works against the API.
	status, me := s.call(t, "GET", "/v1/whoami", token, "")
	if status != 200 || me["owner"] != "bob" || me["role"] != "viewer" || me["name"] != "ci smoke test" {
		t.Fatalf("step \"use the new key\": whoami = %d %v", status, me)
	}
	id := me["id"].(string)

	// Revoke it in the console, with cascade.
	row := fmt.Sprintf(`#keys-body tr[data-id=%q]`, id)
	b.waitFor("new key listed", fmt.Sprintf(`document.querySelector(%q) !== null`, row))
	b.do("revoke from its row", chromedp.Click(chromedp.CSS(row+` button[aria-label^="Revoke"]`)))
	b.waitFor("revoke dialog open", dialogOpen("revoke-dialog"))
	b.do("Cancel closes revoke", chromedp.Click(chromedp.CSS("#revoke-cancel")))
	b.waitFor("revoke dialog closed", "!"+dialogOpen("revoke-dialog"))
	b.check("focus returns to the row's Revoke", b.focused("revoke focus back", row+` button[aria-label^="Revoke"]`), "focus did not return to the Revoke button")
	b.do("revoke from its row again", chromedp.Click(chromedp.CSS(row+` button[aria-label^="Revoke"]`)))
	b.waitFor("revoke dialog open again", dialogOpen("revoke-dialog"))
	b.check("revoke focus", b.focused("revoke focus", "#revoke-dialog *"), "focus is outside the revoke dialog")
	b.do("confirm revoke with cascade", chromedp.Click(chromedp.CSS("#revoke-cascade")), chromedp.Click(chromedp.CSS("#revoke-submit")))
	b.waitFor("revoked message", `document.getElementById('flash').textContent.includes('Revoked') && document.getElementById('flash').textContent.includes('No keys had been minted from it')`)
	b.waitFor("list shows it revoked", fmt.Sprintf(`document.querySelector(%q)?.dataset.status === 'revoked'`, row))

	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := s.call(t, "GET", "/v1/whoami", token, "")
		if status == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("step \"API refuses the revoked key\": still %d %v after 10 s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Activity: a screenshot when the deployment has the audit route.
	b.do("open activity", chromedp.Click(chromedp.CSS("#tab-activity")))
	b.waitFor("activity settles", `!document.getElementById('activity-note').hidden || !document.getElementById('activity-table').hidden || !document.getElementById('activity-empty').hidden`)
	if eval[bool](b, "activity available", `!document.getElementById('activity-table').hidden`) {
		b.screenshot("activity")
	} else {
		note := eval[string](b, "activity note", `document.getElementById('activity-note').textContent`)
		t.Logf("activity: %s", note)
	}
	b.do("back to keys", chromedp.Click(chromedp.CSS("#tab-keys")))

	// Small screens: no horizontal scrolling at 375 px.
	b.do("narrow viewport", chromedp.EmulateViewport(375, 812))
	b.waitFor("375 px fits", `document.documentElement.scrollWidth <= 375`)
	b.screenshot("keys-mobile")
	b.do("wide viewport", chromedp.EmulateViewport(1280, 1000))

	b.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	b.waitFor("signed out", `!document.getElementById('signin-view').hidden && sessionStorage.length === 0 && document.getElementById('keys-body').childElementCount === 0`)
}

// TestBadKey: a key the API refuses gets a clear message and is not kept.
func TestBadKey(t *testing.T) {
	s := newStack(t)
	revoked, id := s.create(t, `{"owner":"bob","apis":["kglocal001"],"scopes":["GET /v1/whoami"]}`)
	s.call(t, "DELETE", "/v1/keys/"+id, s.admin, "")
	otherAPI, _ := s.create(t, `{"owner":"dave","apis":["other123"],"scopes":["GET /v1/whoami"]}`)
	if status, body := s.call(t, "GET", "/v1/whoami", otherAPI, ""); status != 403 {
		t.Fatalf("a key for another API: whoami = %d %v, want 403", status, body)
	}

	b := newBrowser(t, 1280, 860)
	b.open(s.url)
	b.do("submit nothing", chromedp.Click(chromedp.CSS("#signin-submit")))
	b.waitFor("empty key message", `document.getElementById('signin-error').textContent.includes('Paste your API key')`)

	for _, c := range []struct{ name, key, want string }{
		{"malformed key", "kg_live_nope", "not accepted"},
		{"revoked key", revoked, "not accepted"},
		{"key for another API", otherAPI, "may not use the management API"},
	} {
		eval[bool](b, c.name, `(document.getElementById('token').value = '', true)`)
		b.signIn(c.key)
		b.waitFor(c.name+" message", fmt.Sprintf(`document.getElementById('signin-error').textContent.includes(%s)`, js(c.want)))
		b.check(c.name+" not kept", eval[bool](b, c.name, `sessionStorage.length === 0 && document.getElementById('app-view').hidden`), "the refused key was kept or the app shown")
	}
	b.screenshot("sign-in-error")
}

// TestNamesAreText: API data is rendered as text, never as markup.
func TestNamesAreText(t *testing.T) {
	const evil = `<img src=x onerror=alert(1)>`
	_, b := signedIn(t, 1280, 860, func(t *testing.T, s *stack) {
		s.create(t, fmt.Sprintf(`{"owner":"bob","name":%s,"apis":["kglocal001"],"scopes":["GET /v1/whoami"]}`, js(evil)))
	})
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 2`)
	b.check("name shown as text", eval[bool](b, "name text",
		fmt.Sprintf(`[...document.querySelectorAll('#keys-body .name-text')].some(e => e.textContent === %s)`, js(evil))), "the name is not shown literally")
	b.check("no markup from data", eval[int](b, "no img", `document.querySelectorAll('main img, dialog img').length`) == 0, "an <img> element was created from API data")

	const evil2 = `<b id=injected>bold</b><script>alert(2)</script>`
	b.do("create with a markup name", chromedp.Click(chromedp.CSS("#open-create")))
	b.waitFor("create open", dialogOpen("create-dialog"))
	b.do("fill", chromedp.SendKeys(chromedp.CSS("#c-name"), evil2), chromedp.SendKeys(chromedp.CSS("#c-scopes"), "GET /v1/whoami"),
		chromedp.Click(chromedp.CSS("#create-submit")))
	b.waitFor("reveal open", dialogOpen("reveal-dialog"))
	b.check("reveal shows the name as text", eval[bool](b, "reveal name",
		fmt.Sprintf(`document.getElementById('reveal-name').textContent.includes(%s) && document.getElementById('flash').textContent.includes(%s)`, js(evil2), js(evil2))), "the name is not shown literally")
	b.do("close", chromedp.Click(chromedp.CSS("#reveal-ack")), chromedp.Click(chromedp.CSS("#reveal-done")))
	b.waitFor("listed", `document.querySelectorAll('#keys-body tr').length === 3`)
	b.check("no injected element", eval[bool](b, "no injection", `document.getElementById('injected') === null && document.querySelectorAll('#keys-body script, #keys-body b').length === 0`), "markup from a name reached the DOM")
	b.do("let any handler fire", chromedp.Sleep(300*time.Millisecond))
}

// TestKeyboardOnly: sign in, create a key and close the reveal with the
// keyboard alone; focus moves into and out of the dialogs.
func TestKeyboardOnly(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, 1280, 860)
	b.open(s.url)
	b.check("focus starts on the key field", b.focused("initial focus", "#token"), "the key field does not have focus")
	b.press("type the key", s.admin)
	b.press("Enter signs in", kb.Enter)
	b.waitFor("signed in", `!document.getElementById('app-view').hidden && document.querySelectorAll('#keys-body tr').length === 1`)

	b.tabTo("Tab to Create key", "#open-create")
	b.press("Enter opens create", kb.Enter)
	b.waitFor("create open", dialogOpen("create-dialog"))
	b.check("focus in dialog", b.focused("create focus", "#c-name"), "focus is not on the name field")
	b.press("type a name", "keyboard key")
	b.tabTo("Tab to the role", `input[name="c-role"]:checked`)
	b.tabTo("Tab to scopes", "#c-scopes")
	b.press("type a scope", "GET /v1/whoami")
	b.tabTo("Tab to expiry", "#c-expiry")
	b.press("ArrowDown picks 1 day", kb.ArrowDown)
	b.check("1 day chosen", eval[string](b, "expiry", `document.getElementById('c-expiry').value`) == "24", "ArrowDown did not choose 1 day")
	b.tabTo("Tab to submit", "#create-submit")
	b.press("Enter creates", kb.Enter)
	b.waitFor("reveal open", dialogOpen("reveal-dialog"))
	b.check("focus in reveal", b.focused("reveal focus", "#reveal-dialog *"), "focus is outside the reveal dialog")
	b.tabTo("Tab to the confirmation", "#reveal-ack")
	b.press("Space ticks it", " ")
	b.tabTo("Tab to Done", "#reveal-done")
	b.press("Enter closes", kb.Enter)
	b.waitFor("reveal closed", `!`+dialogOpen("reveal-dialog"))
	b.check("focus returns", b.focused("focus back", "#open-create"), "focus did not return to Create key")
	b.waitFor("key listed", `[...document.querySelectorAll('#keys-body .name-text')].some(e => e.textContent === 'keyboard key')`)
	b.check("visible focus", eval[bool](b, "focus ring", `getComputedStyle(document.activeElement).outlineStyle !== 'none'`), "the focused button has no visible outline")

	// A filter that matches nothing shows the empty state, not a bare table.
	b.tabTo("Tab to the status filter", "#filter-status")
	b.press("choose Expired", kb.End)
	b.waitFor("empty state", `!document.getElementById('keys-empty').hidden && document.getElementById('keys-table').hidden`)
	b.screenshot("empty")
}

// TestSecondRoundControls: against the real rotate, update and audit
// routes, Rotate reveals the successor's token (which the API accepts),
// Disable makes the API refuse the key, and Activity lists the real events
// with every value rendered as text.
func TestSecondRoundControls(t *testing.T) {
	s, b := signedIn(t, 1280, 860, func(t *testing.T, s *stack) {
		seed(t, s)
		// A name that would be markup, so the update's detail must show as text.
		if status, _ := s.call(t, "PATCH", "/v1/keys/"+s.keyID(t, "staging deploy"), s.admin, `{"name":"<img src=x onerror=alert(3)>"}`); status != 200 {
			t.Fatalf("seed rename = %d", status)
		}
	})
	bob := s.keyID(t, "bob laptop")
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	b.waitFor("rotate and disable offered", `!!document.querySelector('#keys-body button[aria-label="Rotate bob laptop"]') && !!document.querySelector('#keys-body button[aria-label="Disable bob laptop"]')`)

	rotateBob := `#keys-body button[aria-label="Rotate bob laptop"]`
	b.do("open rotate", chromedp.Click(chromedp.CSS(rotateBob)))
	b.waitFor("rotate dialog", dialogOpen("rotate-dialog"))
	b.press("Escape closes rotate", kb.Escape)
	b.waitFor("rotate dialog closed", "!"+dialogOpen("rotate-dialog"))
	b.check("focus returns to Rotate", b.focused("rotate focus back", rotateBob), "focus did not return to the Rotate button")
	b.do("open rotate again", chromedp.Click(chromedp.CSS(rotateBob)))
	b.waitFor("rotate dialog again", dialogOpen("rotate-dialog"))
	b.do("no grace", chromedp.SetValue(chromedp.CSS("#rotate-grace"), "0"))
	b.do("rotate", chromedp.Click(chromedp.CSS("#rotate-submit")))
	b.waitFor("successor revealed", dialogOpen("reveal-dialog")+` && document.getElementById('reveal-token').value.startsWith('kg_live_')`)
	token := eval[string](b, "read token", `document.getElementById('reveal-token').value`)
	if status, body := s.call(t, "GET", "/v1/whoami", token, ""); status != 200 || body["rotated_from"] != bob {
		t.Fatalf("the rotated key: whoami = %d %v", status, body)
	}
	b.do("acknowledge", chromedp.Click(chromedp.CSS("#reveal-ack")))
	b.do("close reveal", chromedp.Click(chromedp.CSS("#reveal-done")))
	b.waitFor("reveal closed", "!"+dialogOpen("reveal-dialog"))

	// Without grace the old key has expired: the one "bob laptop" left to
	// disable is the successor.
	b.waitFor("old key expired", `document.querySelectorAll('#keys-body button[aria-label="Disable bob laptop"]').length === 1`)
	b.do("disable the successor", chromedp.Click(chromedp.CSS(`#keys-body button[aria-label="Disable bob laptop"]`)))
	b.waitFor("disabled message", `document.getElementById('flash').textContent.includes('Disabled')`)
	if status, _ := s.call(t, "GET", "/v1/whoami", token, ""); status != 401 {
		t.Fatalf("a disabled key: whoami = %d, want 401", status)
	}

	b.do("open activity", chromedp.Click(chromedp.CSS("#tab-activity")))
	b.waitFor("events listed", `document.querySelectorAll('#activity-body tr').length >= 6`)
	b.check("detail as text", eval[bool](b, "detail text",
		`[...document.querySelectorAll('#activity-body td')].some(td => td.textContent.includes('<img src=x onerror=alert(3)>')) && !document.querySelector('#activity-body img')`), "an event detail was not rendered as text")
	b.screenshot("activity")
	b.axe("activity tab")
}

// TestSettings: an admin reads and changes the tenant's notification
// settings in the Settings tab; a bad value shows the API's own message;
// the change is what the API then returns.
func TestSettings(t *testing.T) {
	s, b := signedIn(t, 1280, 860, seed)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	b.do("open settings", chromedp.Click(chromedp.CSS("#tab-settings")))
	b.waitFor("settings loaded", `!document.getElementById('panel-settings').hidden && document.getElementById('settings-form').dataset.loaded === 'true'`)
	b.do("bad e-mail", chromedp.SetValue(chromedp.CSS("#settings-email"), "not an address"))
	b.do("save", chromedp.Click(chromedp.CSS("#settings-save")))
	b.waitFor("the API's message", `document.getElementById('settings-error').textContent.includes('e-mail')`)
	b.do("good e-mail", chromedp.SetValue(chromedp.CSS("#settings-email"), "ops@demo.example"))
	b.do("windows", chromedp.SetValue(chromedp.CSS("#settings-days"), "21, 7"))
	b.do("save", chromedp.Click(chromedp.CSS("#settings-save")))
	b.waitFor("saved", `document.getElementById('flash').textContent.includes('Settings saved')`)
	if status, body := s.call(t, "GET", "/v1/settings", s.admin, ""); status != 200 || body["owner_email"] != "ops@demo.example" {
		t.Fatalf("settings after saving = %d %v", status, body)
	}

	// What a found-in-public key does: revoke by default; notify only,
	// under which revoking its descendants does not apply.
	b.check("revoke by default", eval[bool](b, "leak default", `document.querySelector('input[name="settings-leak"][value="revoke"]').checked && !document.getElementById('settings-cascade').checked`), "the leak action does not default to revoke")
	saveSettings := func(step string) {
		eval[bool](b, "clear the flash "+step, `(document.getElementById('flash').textContent = '', true)`)
		b.do("save "+step, chromedp.Click(chromedp.CSS("#settings-save")))
		b.waitFor("saved "+step, `document.getElementById('flash').textContent.includes('Settings saved')`)
	}
	b.do("notify only", chromedp.Click(chromedp.CSS(`input[name="settings-leak"][value="notify"]`)))
	b.check("no cascade under notify", eval[bool](b, "cascade disabled", `document.getElementById('settings-cascade').disabled`), "the cascade checkbox is enabled under notify")
	saveSettings("notify")
	if status, body := s.call(t, "GET", "/v1/settings", s.admin, ""); status != 200 || body["leak_action"] != "notify" || body["leak_cascade"] != false || body["owner_email"] != "ops@demo.example" {
		t.Fatalf("settings after notify = %d %v", status, body)
	}
	b.do("revoke", chromedp.Click(chromedp.CSS(`input[name="settings-leak"][value="revoke"]`)))
	b.do("and the descendants", chromedp.Click(chromedp.CSS("#settings-cascade")))
	saveSettings("revoke with cascade")
	if status, body := s.call(t, "GET", "/v1/settings", s.admin, ""); status != 200 || body["leak_action"] != "revoke" || body["leak_cascade"] != true {
		t.Fatalf("settings after revoke with cascade = %d %v", status, body)
	}
	// Read back: the tab shows what the API holds.
	b.do("leave settings", chromedp.Click(chromedp.CSS("#tab-keys")))
	b.do("open settings again", chromedp.Click(chromedp.CSS("#tab-settings")))
	b.waitFor("settings reloaded", `document.getElementById('settings-form').dataset.loaded === 'true'`)
	b.check("the saved leak settings show", eval[bool](b, "leak settings shown",
		`document.querySelector('input[name="settings-leak"][value="revoke"]').checked && document.getElementById('settings-cascade').checked && !document.getElementById('settings-cascade').disabled`), "the tab does not show revoke with cascade")
	b.screenshot("settings")
	b.axe("settings tab")
}

// TestLeakedBadge: a key's details show its leak report (GET
// /v1/keys/{id}'s "leaked") as a Leaked badge with the date and the
// address, a link only for an http(s) URL, and every part as text.
func TestLeakedBadge(t *testing.T) {
	s, b := signedIn(t, 1280, 860, seed)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	const evilURL = `https://github.com/octo/app/blob/1/config.env?<img src=x onerror=alert(4)>`
	leaks := map[string]map[string]string{
		s.keyID(t, "bob laptop"):   {"at": "2026-11-23T19:42:52.07Z", "url": evilURL, "source": "content", "type": "keygate_api_key"},
		s.keyID(t, "billing sync"): {"at": "2026-11-24T08:00:00Z", "url": "javascript:alert(5)", "source": "gist_content", "type": "keygate_api_key"},
	}
	raw, _ := json.Marshal(leaks)
	// The page's own fetch answers GET /v1/keys/{id} from the real API and
	// adds the leak report the API would carry for these keys (leaks are
	// recorded by secret-scanning alerts, tested with the endpoint), so what
	// is tested here is the console's rendering of the documented field.
	eval[bool](b, "report leaks on two keys", fmt.Sprintf(`(() => {
		const leaks = %s, real = window.fetch;
		window.fetch = async (input, init) => {
			const resp = await real(input, init);
			const m = new URL(String(input)).pathname.match(/\/v1\/keys\/([0-9A-Za-z]{17})$/);
			if (!m || !leaks[m[1]] || (init && init.method !== 'GET') || !resp.ok) return resp;
			const body = await resp.json();
			body.leaked = leaks[m[1]];
			return new Response(JSON.stringify(body), { status: resp.status, headers: resp.headers });
		};
		return true;
	})()`, raw))

	details := `#keys-body button[aria-label="Details of bob laptop"]`
	b.do("open bob's details", chromedp.Click(chromedp.CSS(details)))
	b.waitFor("details loaded", dialogOpen("details-dialog")+` && document.getElementById('details-dialog').dataset.loaded === 'true'`)
	got := eval[map[string]any](b, "read the leak", `(() => {
		const box = document.getElementById('details-leak'), a = box.querySelector('a');
		return { hidden: box.hidden, badge: box.querySelector('.badge')?.textContent, time: box.querySelector('time')?.getAttribute('datetime'),
			href: a?.getAttribute('href'), rel: a?.rel, text: a?.textContent, source: box.textContent.includes('(content)'),
			markup: document.querySelectorAll('dialog img, #details-leak b').length };
	})()`)
	b.check("the leak shows", got["hidden"] == false && got["badge"] == "Leaked" && got["time"] == "2026-11-23T19:42:52.07Z" && got["source"] == true,
		"details show %v", got)
	b.check("the address is a safe link, as text", got["text"] == evilURL && strings.HasPrefix(got["href"].(string), "https://github.com/octo/app/blob/1/config.env?") &&
		got["rel"] == "noopener noreferrer" && got["markup"] == float64(0), "link %v", got)
	b.check("focus in details", b.focused("details focus", "#details-close"), "focus is not on Close")
	b.screenshot("leaked")
	b.axe("key details with a leak")
	b.press("Escape closes details", kb.Escape)
	b.waitFor("details closed", "!"+dialogOpen("details-dialog"))
	b.check("focus returns to Details", b.focused("details focus back", details), "focus did not return to the Details button")

	b.do("open billing's details", chromedp.Click(chromedp.CSS(`#keys-body button[aria-label="Details of billing sync"]`)))
	b.waitFor("billing loaded", dialogOpen("details-dialog")+` && document.getElementById('details-dialog').dataset.loaded === 'true'`)
	b.check("a javascript: address is no link", eval[bool](b, "no link", `!document.getElementById('details-leak').hidden && document.querySelector('#details-leak a') === null &&
		document.getElementById('details-leak').textContent.includes('javascript:alert(5)')`), "a javascript: URL became a link or vanished")
	b.do("close", chromedp.Click(chromedp.CSS("#details-close")))
	b.waitFor("closed", "!"+dialogOpen("details-dialog"))

	b.do("open carol's details", chromedp.Click(chromedp.CSS(`#keys-body button[aria-label="Details of staging deploy"]`)))
	b.waitFor("carol loaded", dialogOpen("details-dialog")+` && document.getElementById('details-dialog').dataset.loaded === 'true'`)
	b.check("no leak, no badge", eval[bool](b, "no leak", `document.getElementById('details-leak').hidden && document.querySelector('#details-dialog .badge-danger') === null`), "a key without a report shows one")
}

// TestUsageLimits: the create form sends a rate limit and credits with a
// refill, and the key's details show its limits and a usage meter of each
// (what is left of the window and of the credits), accessible.
func TestUsageLimits(t *testing.T) {
	s, b := signedIn(t, 1280, 1100, seed)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	b.do("open create", chromedp.Click(chromedp.CSS("#open-create")))
	b.waitFor("create dialog open", dialogOpen("create-dialog"))
	b.do("fill the create form with limits",
		chromedp.SendKeys(chromedp.CSS("#c-name"), "metered"),
		chromedp.SetValue(chromedp.CSS("#c-owner"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#c-scopes"), "GET /v1/whoami"),
		chromedp.SetValue(chromedp.CSS("#c-apis"), "kglocal001"),
		chromedp.SendKeys(chromedp.CSS("#c-rate-limit"), "100"),
		chromedp.SetValue(chromedp.CSS("#c-rate-window"), "1h"),
		chromedp.SendKeys(chromedp.CSS("#c-credits"), "5000"),
		chromedp.SetValue(chromedp.CSS("#c-refill"), "month"),
	)
	b.axe("create dialog with limits")
	b.do("create", chromedp.Click(chromedp.CSS("#create-submit")))
	b.waitFor("reveal dialog open", dialogOpen("reveal-dialog")+` && !`+dialogOpen("create-dialog"))
	token := eval[string](b, "read the token", `document.getElementById('reveal-token').value`)
	b.do("confirm and close", chromedp.Click(chromedp.CSS("#reveal-ack")), chromedp.Click(chromedp.CSS("#reveal-done")))
	b.waitFor("reveal closed", `!`+dialogOpen("reveal-dialog"))

	status, me := s.call(t, "GET", "/v1/whoami", token, "")
	rl, _ := me["rate_limit"].(map[string]any)
	cr, _ := me["credits"].(map[string]any)
	if status != 200 || rl["limit"] != 100.0 || rl["window"] != "1h" || cr["remaining"] != 5000.0 || cr["refill"] == nil {
		t.Fatalf("step \"the API holds the limits\": whoami = %d %v", status, me)
	}
	details := `#keys-body button[aria-label="Details of metered"]`
	b.waitFor("new key listed", fmt.Sprintf(`document.querySelector(%q) !== null`, details))
	b.do("open its details", chromedp.Click(chromedp.CSS(details)))
	b.waitFor("details loaded", dialogOpen("details-dialog")+` && document.getElementById('details-dialog').dataset.loaded === 'true'`)
	got := eval[map[string]any](b, "read the details", `(() => {
		const facts = document.getElementById('details-facts').textContent, usage = document.getElementById('details-usage');
		const meters = [...usage.querySelectorAll('meter')].map(m => ({value: m.value, max: m.max}));
		return { facts, hidden: usage.hidden, text: usage.textContent, meters };
	})()`)
	facts, _ := got["facts"].(string)
	text, _ := got["text"].(string)
	meters, _ := got["meters"].([]any)
	// The whoami above was a metered call: this environment leased a
	// slice of the window and of the credits (docs/usage-limits.md), so
	// what is left is what the meters say, a little under the limits.
	meter := func(i int, max float64) bool {
		m, _ := meters[i].(map[string]any)
		v, _ := m["value"].(float64)
		return m["max"] == max && v >= max*0.9 && v < max && strings.Contains(text, fmt.Sprintf("%d of %d left", int(v), int(max)))
	}
	b.check("limits and usage shown", got["hidden"] == false && strings.Contains(facts, "100 per 1h") && strings.Contains(facts, "5000, refilled to 5000 every month") &&
		len(meters) == 2 && meter(0, 100) && meter(1, 5000), "details show %v", got)
	b.screenshot("usage")
	b.axe("key details with usage")
	b.do("close", chromedp.Click(chromedp.CSS("#details-close")))
	b.waitFor("closed", "!"+dialogOpen("details-dialog"))

	// An unmetered key shows no meter.
	b.do("open bob laptop's details", chromedp.Click(chromedp.CSS(`#keys-body button[aria-label="Details of bob laptop"]`)))
	b.waitFor("loaded", dialogOpen("details-dialog")+` && document.getElementById('details-dialog').dataset.loaded === 'true'`)
	b.check("no usage for an unmetered key", eval[bool](b, "usage hidden", `document.getElementById('details-usage').hidden`), "an unmetered key shows usage")

	// A bad number is refused in the form, before any request.
	b.do("close again", chromedp.Click(chromedp.CSS("#details-close")))
	b.waitFor("closed again", "!"+dialogOpen("details-dialog"))
	b.do("open create again", chromedp.Click(chromedp.CSS("#open-create")))
	b.waitFor("create open again", dialogOpen("create-dialog"))
	b.do("a refill without credits", chromedp.SendKeys(chromedp.CSS("#c-scopes"), "GET /v1/whoami"), chromedp.SetValue(chromedp.CSS("#c-apis"), "kglocal001"),
		chromedp.SetValue(chromedp.CSS("#c-refill"), "day"), chromedp.Click(chromedp.CSS("#create-submit")))
	b.waitFor("the form's message", `document.getElementById('create-error').textContent.includes('credits')`)
}

// TestCheckKey: the "Check a key" tab asks POST /v1/verify with a pasted
// key and shows the verdict and the key's fields as text; the pasted key
// is cleared from the field and stored nowhere (the session keeps only the
// signed-in key); a key outside the tenant is only NOT_FOUND.
func TestCheckKey(t *testing.T) {
	s, b := signedIn(t, 1280, 900, seed)
	bob, bobID := s.create(t, `{"owner":"bob","name":"<b>bob</b> phone","apis":["kglocal001"],"scopes":["GET /v1/whoami"]}`)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length >= 4`)
	b.do("open the check tab", chromedp.Click(chromedp.CSS("#tab-check")))
	b.waitFor("check tab shown", `!document.getElementById('panel-check').hidden`)
	// fill types into the form (an empty value too, which SetValue
	// refuses).
	fill := func(step, key, method, path string) {
		eval[bool](b, step+": fill", fmt.Sprintf(`(document.getElementById('check-key').value = %q,
			document.getElementById('check-method').value = %q, document.getElementById('check-path').value = %q, true)`, key, method, path))
	}
	check := func(step, key, method, path string) string {
		fill(step, key, method, path)
		b.do(step, chromedp.Click(chromedp.CSS("#check-submit")))
		b.waitFor(step+": answered", `document.getElementById('check-result').dataset.loaded === 'true'`)
		return eval[string](b, step+": code", `document.getElementById('check-result').dataset.code`)
	}
	if code := check("check bob's key", bob, "GET", "/v1/whoami"); code != "VALID" {
		t.Fatalf("bob's key: %s", code)
	}
	got := eval[map[string]any](b, "read the result", `({
		facts: document.getElementById('check-facts').textContent,
		bold: document.querySelectorAll('#check-facts b').length,
		field: document.getElementById('check-key').value,
		stored: JSON.stringify(Object.assign({}, sessionStorage)) + JSON.stringify(Object.assign({}, localStorage)),
	})`)
	facts, _ := got["facts"].(string)
	stored, _ := got["stored"].(string)
	b.check("the key's fields, as text", strings.Contains(facts, bobID) && strings.Contains(facts, "<b>bob</b> phone") && got["bold"] == 0.0, "facts %v", got)
	b.check("the pasted key is kept nowhere", got["field"] == "" && !strings.Contains(stored, bob[8:]) && strings.Contains(stored, s.admin[8:]), "field and storage %v", got)
	b.screenshot("check")
	b.axe("check a key")

	if code := check("check a route outside its scopes", bob, "DELETE", "/v1/keys/x"); code != "FORBIDDEN" {
		t.Fatalf("outside the scopes: %s", code)
	}
	if code := check("check a made-up key", "kg_live_madeup", "", ""); code != "NOT_FOUND" {
		t.Fatalf("made-up key: %s", code)
	}
	b.check("no fields for an unknown key", eval[int](b, "facts", `document.querySelectorAll('#check-facts div').length`) == 0, "facts shown for NOT_FOUND")
	fill("method without path", bob, "GET", "")
	b.do("method without path", chromedp.Click(chromedp.CSS("#check-submit")))
	b.waitFor("the form's message", `document.getElementById('check-error').textContent.includes('together')`)
	b.axe("check a key, refused")
}
