package lifecycle_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/lifecycle"
	"github.com/keygate/keygate/shared/manage"
)

func TestWindow(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		left    time.Duration
		windows []int
		want    int
	}{
		{20 * 24 * time.Hour, []int{3, 14}, 0},
		{14 * 24 * time.Hour, []int{3, 14}, 14},
		{10 * 24 * time.Hour, []int{3, 14}, 14},
		{3*24*time.Hour + time.Second, []int{3, 14}, 14},
		{3 * 24 * time.Hour, []int{3, 14}, 3},
		{time.Hour, []int{3, 14}, 3},
		{time.Hour, nil, 0},
	}
	for _, tt := range tests {
		if got := lifecycle.Window(now.Add(tt.left), now, tt.windows); got != tt.want {
			t.Errorf("Window(%s left, %v) = %d, want %d", tt.left, tt.windows, got, tt.want)
		}
	}
}

// TestReminders runs the daily function against DynamoDB Local and moto:
// key.expiring once per key and window (the tenant's windows, else the
// default 14 and 3 days), e-mails to the owner's address and the tenant's,
// and an "expired" audit record for a key whose time ran out; nothing
// twice, however often it runs.
func TestReminders(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	tenantMail := "admin-" + strconv.FormatInt(now.UnixNano()%100000, 10) + "@acme.example"
	if err := f.store.PutSettings(ctx, "acme", keygate.Settings{OwnerEmail: tenantMail}, f.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutSettings(ctx, "globex", keygate.Settings{ReminderDays: []int{7}}, f.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	in := func(tenant, owner string, d time.Duration) *manage.Created {
		exp := now.Add(d).Format(time.RFC3339)
		return f.create(t, manage.CreateRequest{Tenant: tenant, Owner: owner, Name: owner + " key", Scopes: []string{"GET /x"}, ExpiresAt: &exp})
	}
	const day = 24 * time.Hour
	tenDays := in("acme", "bob", 10*day)
	twoDays := in("acme", "bob", 2*day)
	twenty := in("acme", "bob", 20*day) // outside every window, for now
	in("acme", "bob", 100*day)          // beyond the run's horizon
	carol := in("acme", "carol@acme.example", 5*day)
	revoked := in("acme", "bob", 2*day)
	soon := in("acme", "dan", time.Hour)
	globex10 := in("globex", "gil", 10*day) // globex's only window is 7 days
	gil := in("globex", "gil", 6*day)
	moved := in("acme", "bob", 60*day)
	if _, err := f.svc.Revoke(ctx, operator, manage.RevokeRequest{Tenant: "acme", ID: revoked.ID}); err != nil {
		t.Fatal(err)
	}
	// An update moves a key to its new expiry day in the index.
	earlier := now.Add(day).Format(time.RFC3339)
	if _, err := f.svc.Update(ctx, operator, manage.UpdateRequest{Tenant: "acme", ID: moved.ID, ExpiresAt: &earlier}); err != nil {
		t.Fatal(err)
	}
	f.stream.Read(t) // the creations are TestStreamPublishes' business

	type want struct {
		id     string
		window int
	}
	check := func(rep lifecycle.Report, wantRep lifecycle.Report, wants ...want) {
		t.Helper()
		if rep != wantRep {
			t.Errorf("report %+v, want %+v; logs:\n%s", rep, wantRep, f.logs)
		}
		var got, exp []string
		for _, e := range f.drain(t) {
			if e.DetailType != lifecycle.KeyExpiring || e.D.Key == nil || e.D.Key.Status != keygate.Active {
				t.Errorf("unexpected %s %+v", e.DetailType, e.D)
			}
			got = append(got, e.D.KeyID+"/"+strconv.Itoa(e.D.WindowDays))
			if e.D.EventID != lifecycle.EventID("expiring", e.D.KeyID, strconv.Itoa(e.D.WindowDays), e.D.Changes["expires_at"]) {
				t.Errorf("event id %s is not the stable one", e.D.EventID)
			}
		}
		for _, w := range wants {
			exp = append(exp, w.id+"/"+strconv.Itoa(w.window))
		}
		slices.Sort(got)
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Fatalf("key.expiring %v, want %v", got, exp)
		}
	}

	f.clock.Add(2 * time.Hour) // soon has expired
	rep, err := f.reminders().Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Mails: bob's keys go to the tenant's address, carol's also to her.
	check(rep, lifecycle.Report{Expired: 1, Expiring: 5, Mails: 5},
		want{tenDays.ID, 14}, want{twoDays.ID, 3}, want{carol.ID, 14}, want{gil.ID, 7}, want{moved.ID, 3})
	if got := f.mailTo(t, "carol@acme.example"); len(got) != 1 || got[0].Source != sender {
		t.Fatalf("carol's reminders: %+v", got)
	}
	if got := f.mailTo(t, tenantMail); len(got) != 4 {
		t.Fatalf("%d reminders to the tenant's address, want 4", len(got))
	}
	// The expiry is recorded, and the stream publishes it as key.expired.
	recs := f.stream.Read(t)
	if failed := f.handle(t, f.handler, recs); len(failed) > 0 {
		t.Fatal(failed)
	}
	var expired []string
	for _, e := range f.drain(t) {
		if e.DetailType == lifecycle.KeyExpired {
			expired = append(expired, e.D.KeyID+" "+e.D.Changes["cause"])
		}
	}
	if !slices.Equal(expired, []string{soon.ID + " expiry"}) {
		t.Fatalf("key.expired %v", expired)
	}

	// Again the same day: nothing new.
	rep, err = f.reminders().Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check(rep, lifecycle.Report{})

	// A day at a time for eight days: each run records the keys that
	// expired since the one before (the revoked key never expires), and
	// keys enter their windows: carol's its 3 (to her and the tenant), the
	// 20-day key its 14, globex's 10-day key its 7, ten-days its 3.
	var total lifecycle.Report
	for range 8 {
		f.clock.Add(day)
		rep, err := f.reminders().Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total.Expired += rep.Expired
		total.Expiring += rep.Expiring
		total.Mails += rep.Mails
	}
	check(total, lifecycle.Report{Expired: 4, Expiring: 4, Mails: 4}, want{carol.ID, 3}, want{tenDays.ID, 3}, want{twenty.ID, 14}, want{globex10.ID, 7})
	if got := f.mailTo(t, tenantMail); len(got) != 7 {
		t.Fatalf("%d reminders to the tenant's address, want 7", len(got))
	}
}
