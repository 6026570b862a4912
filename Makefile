# Keygate — see README.md. Everything a target needs is fetched by the
# project itself: DynamoDB Local from Maven Central, staticcheck from the Go
# module proxy, SAM tooling from PyPI.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
FN ?=
EVENT ?=

DDB_LIB := infra/dynamodb/lib
TOOLS := $(CURDIR)/.build/tools
STATICCHECK_VERSION := v0.8.2
GO_SOURCES := $(shell find functions shared infra -name '*.go' -not -path '*/testdata/*' 2>/dev/null)

.PHONY: test deps lint unit table invoke clean help

help:
	@echo "make test                     every check, against DynamoDB Local (installs what it needs)"
	@echo "make invoke FN=<name> EVENT=<file>   run one function through the Lambda runtime API, no Docker"
	@echo "make table                    create the table on DYNAMODB_ENDPOINT / TABLE_NAME"

## deps: DynamoDB Local and its native libraries, once.
deps: $(DDB_LIB)/.fetched
$(DDB_LIB)/.fetched: infra/dynamodb/pom.xml
	@command -v java >/dev/null || { echo "Java 17+ is required (DynamoDB Local)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required to fetch DynamoDB Local"; exit 1; }
	rm -rf $(DDB_LIB)
	mvn -q -B -f infra/dynamodb/pom.xml dependency:copy-dependencies
	ls $(DDB_LIB)/DynamoDBLocal-*.jar >/dev/null
	touch $@

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## lint: formatting, vet and staticcheck.
lint: $(TOOLS)/staticcheck
	@unformatted=$$(gofmt -l $(GO_SOURCES)); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

## unit: every Go test, with the race detector, against one DynamoDB Local.
unit: deps
	$(GO) run ./infra/cmd/withddb -- $(GO) test -race -count=1 ./...

test: lint unit

table:
	$(GO) run ./infra/cmd/table

invoke:
	@[ -n "$(FN)" ] || { echo "usage: make invoke FN=<create|list|revoke|authorizer> EVENT=<file>"; exit 2; }
	$(GO) run ./infra/cmd/invoke -fn $(FN) $(if $(EVENT),-event $(EVENT))

clean:
	rm -rf .build .aws-sam
