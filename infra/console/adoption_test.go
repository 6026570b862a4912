package console_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/keygate/keygate/infra/gateway"
)

// TestSignInIsQuiet: signing in makes no request that fails (the browser's
// devtools shows no red line): the page learns which routes exist from
// console/routes.json instead of probing them, and still offers rotate,
// disable and activity where the deployment has them.
func TestSignInIsQuiet(t *testing.T) {
	s := newStack(t)
	seed(t, s)
	b := newBrowser(t, 1280, 860)
	b.open(s.url)
	b.signIn(s.admin)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	b.waitFor("rotate and disable offered", `!!document.querySelector('#keys-body button[aria-label="Rotate bob laptop"]') && !!document.querySelector('#keys-body button[aria-label="Disable bob laptop"]')`)
	b.do("let late requests land", chromedp.Sleep(500*time.Millisecond))
	if f := b.failures(); len(f) > 0 {
		t.Fatalf("signing in made failing requests: %q", f)
	}
	b.check("activity offered", eval[bool](b, "activity tab", `!document.getElementById('tab-activity').classList.contains('unavailable') && document.getElementById('capability-note').hidden`), "a control the deployment has is marked missing")
}

// TestSignOutIsNotAnError: signing out says so as a neutral status, not
// as an alert in the error colour; a refused key still is an error.
func TestSignOutIsNotAnError(t *testing.T) {
	_, b := signedIn(t, 1280, 860, nil)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 1`)
	b.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	b.waitFor("signed out", `!document.getElementById('signin-view').hidden`)
	got := eval[map[string]any](b, "read the message", `(() => {
		const shown = [...document.querySelectorAll('#signin-view p')].find(p => p.textContent.includes('Signed out'));
		const danger = getComputedStyle(document.documentElement).getPropertyValue('--danger').trim();
		const probe = document.createElement('span'); probe.style.color = danger; document.body.append(probe);
		const dangerRGB = getComputedStyle(probe).color; probe.remove();
		return { found: !!shown, role: shown?.getAttribute('role') ?? '', alertInside: !!shown?.closest('[role=alert]'),
			color: shown ? getComputedStyle(shown).color : '', danger: dangerRGB,
			error: document.getElementById('signin-error').textContent };
	})()`)
	b.check("signed out is a neutral status", got["found"] == true && got["role"] == "status" && got["alertInside"] == false &&
		got["color"] != got["danger"] && got["error"] == "", "sign-out message %v", got)
	b.axe("signed out")

	b.signIn("kg_live_nope")
	b.waitFor("a refused key is an error", `document.getElementById('signin-error').textContent.includes('not accepted') && document.getElementById('signin-status').textContent === ''`)
}

// TestRevokeInList: under the default status filter (Active), a key
// revoked from its row stays in the list marked revoked, and the notice
// says how to see revoked keys later.
func TestRevokeInList(t *testing.T) {
	_, b := signedIn(t, 1280, 1000, seed)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	b.check("the default filter is Active", eval[string](b, "filter", `document.getElementById('filter-status').value`) == "active", "the status filter does not default to Active")
	b.do("revoke from its row", chromedp.Click(chromedp.CSS(`#keys-body button[aria-label="Revoke bob laptop"]`)))
	b.waitFor("revoke dialog open", dialogOpen("revoke-dialog"))
	b.do("confirm", chromedp.Click(chromedp.CSS("#revoke-submit")))
	b.waitFor("revoked notice", `document.getElementById('flash').textContent.includes('Revoked “bob laptop”')`)
	b.do("let a reload land", chromedp.Sleep(500*time.Millisecond))
	got := eval[map[string]any](b, "read the list", `(() => {
		const row = [...document.querySelectorAll('#keys-body tr')].find(r => r.querySelector('.name-text')?.textContent === 'bob laptop');
		return { status: row?.dataset.status ?? 'gone', badge: row?.querySelector('.status-cell')?.textContent ?? '',
			revokeButton: !!row?.querySelector('button[aria-label^="Revoke"]'), flash: document.getElementById('flash').textContent };
	})()`)
	flash, _ := got["flash"].(string)
	b.check("the row stays, marked revoked", got["status"] == "revoked" && got["badge"] == "revoked" && got["revokeButton"] == false, "after revoking: %v", got)
	b.check("the notice says where revoked keys are", strings.Contains(flash, "“Revoked”") && strings.Contains(flash, "“All”"), "notice %q", flash)
	// Clicking the row's Revoke scrolled the wide table sideways: back to its start for the picture.
	eval[bool](b, "scroll the table back", `(document.querySelectorAll('#keys-region, #keys-region *').forEach(e => { e.scrollLeft = 0; }), true)`)
	b.screenshot("revoked")
	b.axe("a key revoked in the list")
}

// TestViewerKeyAPIs: an admin whose key reaches every API creating a
// viewer key gets this API alone prefilled (its id from routes.json), not
// "*", and the key made with it can use the management API.
func TestViewerKeyAPIs(t *testing.T) {
	s, b := signedIn(t, 1280, 1000, nil)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 1`)
	b.do("open create", chromedp.Click(chromedp.CSS("#open-create")))
	b.waitFor("create dialog open", dialogOpen("create-dialog"))
	b.check("a viewer key by default", eval[string](b, "role", `document.querySelector('input[name="c-role"]:checked').value`) == "viewer", "the create form does not start with a viewer key")
	apis := eval[string](b, "read apis", `document.getElementById('c-apis').value`)
	b.check("this API prefilled", apis == gateway.APIID, "apis prefilled %q, want %q", apis, gateway.APIID)
	b.do("fill", chromedp.SendKeys(chromedp.CSS("#c-name"), "viewer"), chromedp.SendKeys(chromedp.CSS("#c-scopes"), "GET /v1/whoami"),
		chromedp.Click(chromedp.CSS("#create-submit")))
	b.waitFor("reveal open", dialogOpen("reveal-dialog"))
	token := eval[string](b, "read the token", `document.getElementById('reveal-token').value`)
	if status, me := s.call(t, "GET", "/v1/whoami", token, ""); status != 200 || fmt.Sprint(me["apis"]) != "["+gateway.APIID+"]" {
		t.Fatalf("the new viewer key: whoami = %d %v", status, me)
	}
}

// TestExpiryNotice: "the expiry was shortened" shows only when the cap
// took something off what was asked: not for the 90-day default under a
// 90-day key made moments before, but for "never".
func TestExpiryNotice(t *testing.T) {
	_, b := signedIn(t, 1280, 1000, nil)
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 1`)
	b.check("the admin key expires", eval[bool](b, "admin expiry", `document.getElementById('who-expiry').querySelector('time') !== null`), "the admin key never expires: nothing to cap")
	create := func(step, expiry string) bool {
		b.do(step+": open create", chromedp.Click(chromedp.CSS("#open-create")))
		b.waitFor(step+": create open", dialogOpen("create-dialog"))
		b.do(step+": fill", chromedp.SendKeys(chromedp.CSS("#c-name"), step), chromedp.SendKeys(chromedp.CSS("#c-scopes"), "GET /v1/whoami"),
			chromedp.SetValue(chromedp.CSS("#c-expiry"), expiry), chromedp.Click(chromedp.CSS("#create-submit")))
		b.waitFor(step+": reveal open", dialogOpen("reveal-dialog"))
		shown := eval[bool](b, step+": notice", `!document.getElementById('reveal-capped').hidden`)
		b.do(step+": close", chromedp.Click(chromedp.CSS("#reveal-ack")), chromedp.Click(chromedp.CSS("#reveal-done")))
		b.waitFor(step+": closed", "!"+dialogOpen("reveal-dialog"))
		return shown
	}
	b.check("default under a default key: no notice", !create("default expiry", "default"), "the notice shows though nothing asked for was cut")
	b.check("never under an expiring key: notice", create("never expires", "never"), "no notice though the key was asked never to expire")
}

// TestActivityNames: the activity view names keys next to their IDs and
// shows actors as a person reads them.
func TestActivityNames(t *testing.T) {
	s, b := signedIn(t, 1280, 1000, seed)
	adminID := eval[string](b, "admin id", `fetch('/v1/whoami', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('keygate.console.key')}}).then(r => r.json()).then(m => m.id)`)
	bob := s.keyID(t, "bob laptop")
	// Events the API writes for itself (a leak found by GitHub, an expiry)
	// need a GitHub alert or a day to pass: added to the page's audit answer.
	eval[bool](b, "add system events", fmt.Sprintf(`(() => {
		const real = window.fetch;
		window.fetch = async (input, init) => {
			const resp = await real(input, init);
			if (!new URL(String(input)).pathname.endsWith('/v1/audit') || !resp.ok) return resp;
			const body = await resp.json();
			body.events.unshift({ at: new Date().toISOString(), action: 'revoked', key_id: %[1]q, actor: 'keygate:secret-scanning', request_id: 'r1' },
				{ at: new Date().toISOString(), action: 'expired', key_id: %[1]q, actor: 'keygate:expiry', request_id: 'r2' });
			return new Response(JSON.stringify(body), { status: resp.status, headers: resp.headers });
		};
		return true;
	})()`, bob))
	b.waitFor("keys listed", `document.querySelectorAll('#keys-body tr').length === 4`)
	b.do("open activity", chromedp.Click(chromedp.CSS("#tab-activity")))
	b.waitFor("events listed", `document.querySelectorAll('#activity-body tr').length >= 6`)
	rows := eval[[]map[string]string](b, "read events", `[...document.querySelectorAll('#activity-body tr')].map(r => ({
		key: r.querySelector('td[data-label=Key]').textContent, actor: r.querySelector('td[data-label=Actor]').textContent }))`)
	actors := map[string]bool{}
	bobNamed := false
	for _, r := range rows {
		actors[r["actor"]] = true
		bobNamed = bobNamed || (strings.Contains(r["key"], "bob laptop") && strings.Contains(r["key"], bob))
	}
	admin := fmt.Sprintf("key %s… (alice admin)", adminID[:8])
	b.check("keys named next to their IDs", bobNamed, "no event names bob laptop next to %s: %v", bob, rows)
	b.check("readable actors", actors[admin] && actors["GitHub secret scanning"] && actors["expiry"] && actors["operator"], "actors %v, want %q, GitHub secret scanning, expiry, operator", actors, admin)
	for a := range actors {
		b.check("no raw actor", !regexp.MustCompile(`^(key|keygate):`).MatchString(a), "raw actor %q shown", a)
	}
	b.axe("activity with names")
}
