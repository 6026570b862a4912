package manage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/dynamotest"
	"github.com/keygate/keygate/infra/testkit"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/store"
)

// Benchmarks of the management operations against DynamoDB Local (the
// server at $DYNAMODB_ENDPOINT, or one started for the process). They
// measure our code plus a loopback round trip to a Java server: DynamoDB
// itself answers in single-digit milliseconds over the network instead.

// benchService is a service on a fresh table with the real clock, limits
// high enough for any number of iterations per owner.
func benchService(b *testing.B) *manage.Service {
	b.Helper()
	db, table := dynamotest.NewTable(b)
	format, hasher := testkit.Tokens(b)
	return manage.New(store.New(db, table), manage.Config{
		Format: format, Hasher: hasher,
		DefaultTTL: 90 * 24 * time.Hour, Retention: 30 * 24 * time.Hour,
		MaxUserKeys: 10, MaxServiceKeys: 5,
	})
}

var benchOperator = keygate.Caller{Operator: true}

// benchCreate mints a viewer key for owner in tenant "bench".
func benchCreate(b *testing.B, svc *manage.Service, owner string) *manage.Created {
	b.Helper()
	c, err := svc.Create(context.Background(), benchOperator, manage.CreateRequest{Tenant: "bench",
		Owner: owner, Name: "bench", APIs: []string{"*"}, Scopes: []string{"GET /v1/whoami"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkCreate is one create: the owner's slots read, then one
// transaction writing slots, key and audit record. Every iteration uses a
// new owner so the per-owner limit never applies.
func BenchmarkCreate(b *testing.B) {
	svc := benchService(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		benchCreate(b, svc, fmt.Sprintf("owner-%d", i))
		i++
	}
}

// BenchmarkList reads one page of a tenant's keys (one Query).
func BenchmarkList(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("%dkeys", n), func(b *testing.B) {
			svc := benchService(b)
			for i := range n {
				benchCreate(b, svc, fmt.Sprintf("owner-%d", i/10))
			}
			req := manage.ListRequest{Tenant: "bench", Limit: n}
			ctx := context.Background()
			if l, err := svc.List(ctx, benchOperator, req); err != nil || len(l.Keys) != n {
				b.Fatalf("List: %v keys, %v", l, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.List(ctx, benchOperator, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet reads one key's metadata (one GetItem), as GET /v1/keys/{id}.
func BenchmarkGet(b *testing.B) {
	svc := benchService(b)
	key := benchCreate(b, svc, "alice")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Get(ctx, benchOperator, manage.GetRequest{Tenant: "bench", ID: key.ID}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevoke revokes an active key: one GetItem, then one transaction
// updating the key and the owner's slots and writing the audit record. The
// key each iteration revokes is created with the timer stopped.
func BenchmarkRevoke(b *testing.B) {
	svc := benchService(b)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		key := benchCreate(b, svc, fmt.Sprintf("owner-%d", i))
		i++
		b.StartTimer()
		k, err := svc.Revoke(ctx, benchOperator, manage.RevokeRequest{Tenant: "bench", ID: key.ID})
		if err != nil || k.Status != keygate.Revoked {
			b.Fatalf("Revoke: %+v, %v", k, err)
		}
	}
}
