package lifecycle

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keygate/keygate/shared/keygate"
)

// mailData is what an e-mail shows: metadata only, never a secret.
type mailData struct {
	Heading string
	Lines   []string
	Key     *KeyInfo
	Name    string // the key's name as quotedName shows it
	Expires string
	Link    string
}

// mailHTML is parsed on first use, not at package initialisation: a
// function that sends no e-mail (no EMAIL_SENDER) never pays for it.
var mailHTML = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("mail").Parse(`<!doctype html>
<html><body style="font-family:sans-serif">
<h1 style="font-size:18px">{{.Heading}}</h1>
{{range .Lines}}<p>{{.}}</p>
{{end}}<table cellpadding="4">
<tr><th align="left">Name</th><td>{{.Name}}</td></tr>
<tr><th align="left">Key</th><td><code>{{.Key.Hint}}…</code> (id {{.Key.ID}})</td></tr>
<tr><th align="left">Tenant</th><td>{{.Key.Tenant}}</td></tr>
<tr><th align="left">Owner</th><td>{{.Key.Owner}}</td></tr>
<tr><th align="left">Expires</th><td>{{.Expires}}</td></tr>
</table>
{{if .Link}}<p><a href="{{.Link}}">Open the Keygate console</a></p>{{end}}
<p style="color:#666;font-size:12px">Keygate never sends API keys by e-mail.</p>
</body></html>
`))
})

// Mail goes out from the operator's SES identity, so text a tenant chose
// must not be able to word it. A key's name is the only such text (tenant,
// owner and actor names are restricted to letters, digits and ._@+-): it
// never reaches a subject, which names the key by its hint and ID, and in
// the body it is quoted, with anything unprintable escaped, so that line
// and paragraph separators or direction overrides cannot fake further
// lines or turn text around. html/template escapes the HTML part on top.
func render(to []string, subject string, d mailData) Mail {
	d.Name = quotedName(d.Key.Name)
	var text strings.Builder
	text.WriteString(d.Heading + "\n\n")
	for _, l := range d.Lines {
		text.WriteString(l + "\n\n")
	}
	fmt.Fprintf(&text, "Name:    %s\nKey:     %s… (id %s)\nTenant:  %s\nOwner:   %s\nExpires: %s\n",
		d.Name, d.Key.Hint, d.Key.ID, d.Key.Tenant, d.Key.Owner, d.Expires)
	if d.Link != "" {
		fmt.Fprintf(&text, "\nConsole: %s\n", d.Link)
	}
	text.WriteString("\nKeygate never sends API keys by e-mail.\n")
	var html bytes.Buffer
	if err := mailHTML().Execute(&html, d); err != nil {
		// The template is fixed and the data plain strings: unreachable.
		panic(err)
	}
	return Mail{To: to, Subject: subject, Text: text.String(), HTML: html.String()}
}

// quotedName is a key's name as a Go string literal: quoted, with every
// character strconv.IsPrint refuses (controls, U+2028, U+2029, bidi
// overrides, invalid UTF-8) escaped.
func quotedName(name string) string {
	if name == "" {
		return "(unnamed)"
	}
	return strconv.Quote(name)
}

// maxQuoted bounds alert text (a leak's URL and source) in an e-mail.
const maxQuoted = 512

// quotedAlert is text from a secret-scanning alert as the e-mail shows
// it: quoted and escaped like a key's name (quotedName), and cut at
// maxQuoted bytes (on a character boundary) so no alert can fill the mail.
func quotedAlert(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// keyLabel names k in a subject by what Keygate chose: its hint and ID.
func keyLabel(k *KeyInfo) string { return k.Hint + "… (id " + k.ID + ")" }

func expiry(k *KeyInfo) string {
	if k.ExpiresAt == nil {
		return "never"
	}
	return k.ExpiresAt.UTC().Format(time.RFC1123)
}

func consoleLink(base string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/")
}

// ServiceKeyMail tells a tenant's owner address that a service key was
// created.
func ServiceKeyMail(k *KeyInfo, to, console string) Mail {
	return render([]string{to}, "Keygate: new service key "+keyLabel(k), mailData{
		Heading: "A service key was created",
		Lines: []string{fmt.Sprintf("A new service key of tenant %s was created by %s. "+
			"If you did not expect it, revoke it in the console.", k.Tenant, k.CreatedBy)},
		Key: k, Expires: expiry(k), Link: consoleLink(console),
	})
}

// ExpiringMail reminds to of k's expiry in days.
func ExpiringMail(k *KeyInfo, to []string, days int, console string) Mail {
	return render(to, fmt.Sprintf("Keygate: key %s expires within %d days", keyLabel(k), days), mailData{
		Heading: fmt.Sprintf("An API key expires within %d days", days),
		Lines: []string{"Rotate it before then (POST /v1/keys/{id}/rotate, or the console's Rotate) " +
			"so the systems using it keep working."},
		Key: k, Expires: expiry(k), Link: consoleLink(console),
	})
}

// LeakedMail tells to that k's token was found in public at url (source
// says where: content, commit, …), as a secret-scanning alert reported,
// and what that did: k's status says whether it is revoked; cascade, that
// the tenant's leak_cascade revoked the keys minted from it too. The URL
// and source are the alert's text: quoted like a key's name, never a link.
func LeakedMail(k *KeyInfo, to []string, url, source string, cascade bool, console string) Mail {
	found := "GitHub secret scanning found this key's token in public"
	if url != "" {
		found += " at " + quotedAlert(url)
	}
	found += " (source " + quotedAlert(source) + "). Anyone who saw it there can use it."
	var done string
	switch k.Status {
	case keygate.Revoked:
		done = "The key is revoked: requests with it are refused."
		if cascade {
			done += " Every key minted from it is revoked too."
		}
		done += " Create a replacement for the systems that used it."
	case keygate.Expired:
		done = "The key has expired, so requests with it are already refused; it was not revoked."
	default:
		done = "The key was NOT revoked (the tenant's leak action is notify) and still works: " +
			"rotate it (POST /v1/keys/{id}/rotate, or the console's Rotate) or revoke it now."
	}
	return render(to, "Keygate: key "+keyLabel(k)+" was found in public", mailData{
		Heading: "An API key was found in public",
		Lines:   []string{found, done, "Remove the token from where it was found as well: its history may still hold it."},
		Key:     k, Expires: expiry(k), Link: consoleLink(console),
	})
}
