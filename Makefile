# Keygate — see README.md. Everything a target needs is fetched by the
# project itself: DynamoDB Local from Maven Central, staticcheck from the Go
# module proxy, SAM tooling from PyPI.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
FN ?=
MODEL_STEPS ?= 3000
EVENT ?=

DDB_LIB := infra/dynamodb/lib
DDB := $(DDB_LIB)/.fetched
GOMOD := .build/gomod.fetched
TOOLS := $(CURDIR)/.build/tools
STATICCHECK_VERSION := v0.8.2
# gitleaks runs the docs/secret-scanning.md rule in infra/detectors' tests.
GITLEAKS_VERSION := v8.30.1
GO_SOURCES := $(shell find functions shared infra -name '*.go' -not -path '*/testdata/*' 2>/dev/null)

# SAM tooling: a virtualenv built once from pinned versions. sam needs a
# region but no credentials for validate and build; no telemetry.
PYTHON ?= python3
VENV := .venv
SAM_REGION := us-east-1
SAM := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$(SAM_REGION) $(VENV)/bin/sam
SAM_FUNCTIONS := CreateFunction ListFunction RevokeFunction AuthorizerFunction StreamFunction ReminderFunction SettingsFunction SecretScanningFunction VerifyFunction
SNIPPETS := $(wildcard docs/snippets/*.yaml)

# The build flags and target live in infra/lambdarun (BuildFlags), shared
# with make invoke and make bench, so what they measure is what ships.
define lambda_build
	@[ -n "$${ARTIFACTS_DIR:-}" ] || { echo "ARTIFACTS_DIR is unset: sam build runs this target"; exit 2; }
	GO=$(GO) $(GO) run ./infra/cmd/lambdabuild -fn $(1) -o "$$ARTIFACTS_DIR/bootstrap"
endef

.PHONY: test doctor ddb deps lint short unit table invoke clean help venv template events run e2e fuzz bench \
	build-CreateFunction build-ListFunction build-RevokeFunction build-AuthorizerFunction \
	build-StreamFunction build-ReminderFunction build-SettingsFunction build-SecretScanningFunction build-VerifyFunction moto-deps run-events

help:
	@echo "make run                      the whole stack on http://127.0.0.1:3000 (PORT=...), with an admin key"
	@echo "make test                     every check below, against DynamoDB Local (installs what it needs)"
	@echo "make doctor                   check the prerequisites (Go, Java, Maven, Python, jq, curl) and say how to install them"
	@echo "make deps                     fetch everything make test needs: DynamoDB Local, venvs, staticcheck, gitleaks, Go modules, Chromium (apt-get) and axe-core (console-deps), moto_server (moto-deps)"
	@echo "make lint                     gofmt, go vet, staticcheck and go mod tidy -diff"
	@echo "make short                    the fast tier: go test -short ./..., Go alone (no Java, Python, browser or network)"
	@echo "make unit                     every Go test with the race detector, against DynamoDB Local (needs make console-deps once)"
	@echo "make template                 cfn-lint, sam validate --lint, checkov, sam build (no Docker), table check"
	@echo "make events                   run every events/ file through its function against DynamoDB Local"
	@echo "make e2e                      create, use, list, revoke over HTTP on the local stack, then schemathesis"
	@echo "make console-deps             Chromium (apt-get) and axe-core (npm) for the console's browser tests"
	@echo "make console-test             the web console's browser tests alone (screenshots into docs/console)"
	@echo "make fuzz                     every fuzz target for FUZZTIME (default 30s), then the authority model for MODEL_STEPS (3000) from a random seed"
	@echo "make bench                    benchmarks, cost per million, cold start, memory, throughput, scale model"
	@echo "make invoke FN=<name> EVENT=<file>   run one function under AWS's Runtime Interface Emulator, no Docker"
	@echo "make run-events               make run plus the lifecycle functions: prints what would be published and mailed"
	@echo "make moto-deps                moto_server (EventBridge, SES, SQS stand-in) in .venv/moto for the lifecycle tests"
	@echo "make ddb                      keep a DynamoDB Local on :8000 (data in .build/ddb-data) for make invoke"
	@echo "make table                    create the table on DYNAMODB_ENDPOINT / TABLE_NAME"
	@echo "make venv                     the SAM CLI and cfn-lint, and checkov, in .venv (pinned)"
	@echo "make clean                    remove .build and .aws-sam (keeps .venv and DynamoDB Local)"
	@echo "make build-<Fn>Function       what sam build runs per function (needs ARTIFACTS_DIR)"
	@echo "make help                     this list"

## deps: everything make test fetches, once each: DynamoDB Local, the SAM
## and checkov virtualenvs, staticcheck, gitleaks, the Go modules, Chromium (apt-get)
## and axe-core (console-deps) and moto_server (moto-deps), so that a
## machine can be prepared ahead of running offline.
## Each step that runs says what it fetches first ("deps: ...",
## infra/scripts/step.sh) and keeps the tool's own output back unless it
## fails; a step already done prints nothing.
deps: $(DDB) venv $(TOOLS)/staticcheck $(TOOLS)/gitleaks $(GOMOD) console-deps moto-deps

# DynamoDB Local and its native libraries, once: what the targets that
# talk to DynamoDB need, without the rest of deps.
$(DDB): infra/dynamodb/pom.xml
	@command -v java >/dev/null || { echo "Java 17+ is required (DynamoDB Local)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required to fetch DynamoDB Local"; exit 1; }
	@rm -rf $(DDB_LIB)
	@infra/scripts/step.sh "DynamoDB Local jars from Maven Central" \
	  mvn -q -B -f infra/dynamodb/pom.xml dependency:copy-dependencies
	@ls $(DDB_LIB)/DynamoDBLocal-*.jar >/dev/null
	@touch $@

# The Go modules of go.sum, into the module cache.
$(GOMOD): go.mod go.sum
	@infra/scripts/step.sh "Go modules of go.sum (Go module proxy)" $(GO) mod download
	@mkdir -p $(@D); touch $@

$(TOOLS)/staticcheck:
	@GOBIN=$(TOOLS) infra/scripts/step.sh "staticcheck $(STATICCHECK_VERSION) (Go module proxy)" \
	  $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS)/gitleaks: Makefile
	@GOBIN=$(TOOLS) infra/scripts/step.sh "gitleaks $(GITLEAKS_VERSION) (Go module proxy)" \
	  $(GO) install github.com/zricethezav/gitleaks/v8@$(GITLEAKS_VERSION)

## lint: formatting, vet, staticcheck, and go.mod/go.sum exactly what
## the code needs (go mod tidy -diff prints what tidy would change).
lint: $(TOOLS)/staticcheck
	@unformatted=$$(gofmt -l $(GO_SOURCES)); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

## short: the fast tier, Go alone. Tests that need DynamoDB Local,
## moto_server or Chromium skip under -short, and only then
## (testkit.SkipShort); unit runs them.
short:
	$(GO) test -short ./...

## unit: every Go test, with the race detector, against one DynamoDB Local.
## It installs no system packages: the console's browser tests fail,
## naming make console-deps, when Chromium is missing (make test's deps
## stage installs it first).
unit: $(DDB)
	CONSOLE_SCREENSHOTS=0 $(GO) run ./infra/cmd/ddb run -- $(GO) test -race -count=1 ./...

## console-deps: Chromium (apt-get) and axe-core (npm ci) for the web
## console's browser tests, once. console-test: those tests alone.
.PHONY: console-deps console-test
console-deps:
	infra/console/setup.sh
console-test: $(DDB) console-deps
	$(GO) run ./infra/cmd/ddb run -- $(GO) test -count=1 ./infra/console/...

## test: every stage (doctor, deps, lint, template, events, unit, e2e) with
## a heading each, tools' output in .build/test-logs and shown on failure,
## and a summary table (infra/scripts/test.sh).
test:
	@MAKE="$(MAKE)" infra/scripts/test.sh

## doctor: the prerequisites, checked before anything is downloaded.
doctor:
	@infra/scripts/doctor.sh

table:
	$(GO) run ./infra/cmd/ddb table

## run: DynamoDB Local, the table, the authorizer in front of the
## management routes, and a demo admin key, until Ctrl-C.
run: doctor $(DDB)
	@$(GO) run ./infra/cmd/run

## fuzz: every Fuzz target for FUZZTIME each (make test runs their seed
## corpora as ordinary tests). Storage-backed targets need DynamoDB Local.
FUZZTIME ?= 30s
fuzz: $(DDB)
	$(GO) run ./infra/cmd/ddb run -- bash -c 'set -euo pipefail; \
	  for pkg in $$($(GO) list ./...); do \
	    for target in $$($(GO) test -list "^Fuzz" $$pkg | grep "^Fuzz" || true); do \
	      echo "== $$pkg $$target"; \
	      $(GO) test -run "^$$" -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	    done; \
	  done; \
	  seed=$${MODEL_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d " ")}; \
	  echo "== authority model: $(MODEL_STEPS) steps, seed $$seed (MODEL_SEED=$$seed to repeat)"; \
	  $(GO) test -count=1 -run "^TestAuthorityModel$$" ./shared/manage/ -model.steps=$(MODEL_STEPS) -model.seed=$$seed'

## e2e: create -> use -> list -> revoke -> 401 over real HTTP against the
## local stack, then schemathesis against openapi.yaml.
e2e: $(DDB) $(VENV)/.installed
	infra/scripts/e2e.sh $(VENV)

## invoke: one function under AWS's Runtime Interface Emulator. Without
## DYNAMODB_ENDPOINT it uses make ddb's DynamoDB Local (or starts one on the
## same on-disk data), table keygate and a development pepper, so keys
## persist between invocations.
invoke: $(DDB)
	@[ -n "$(FN)" ] || { echo "usage: make invoke FN=<create|list|revoke|authorizer|stream|reminders|settings|secretscan|verify> EVENT=<file>"; exit 2; }
	@$(GO) run ./infra/cmd/invoke -fn $(FN) $(if $(EVENT),-event $(EVENT))

## ddb: a DynamoDB Local on port 8000 with its data in .build/ddb-data,
## for make invoke, until Ctrl-C.
ddb: $(DDB)
	@$(GO) run ./infra/cmd/ddb serve

## bench: the figures of BENCHMARKS.md. Go benchmarks (-benchmem, medians
## of BENCH_COUNT runs through golang.org/x/perf) and their ratio, time and
## allocation targets, the cost of a million authorizations priced from
## them (infra/bench/cost), cold start, memory and size of the real
## binaries, requests/s of the make run stack under vegeta (a library),
## and the scale model of docs/scale.md (infra/scalesim); against one DynamoDB Local. Prints everything, fails
## if a target is missed. Not part of make test (timing is noisy).
BENCH_COUNT ?= 6
bench: $(DDB)
	GO=$(GO) BENCH_COUNT=$(BENCH_COUNT) $(GO) run ./infra/cmd/ddb run -- infra/bench/run.sh

# checkov lives in its own virtualenv (its boto3 pin conflicts with sam's).
CHECKOV_VENV := $(VENV)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov --config-file infra/sam/checkov.yaml
## venv: the SAM CLI and cfn-lint (pinned in infra/sam/requirements.txt),
## and checkov in its own virtualenv (infra/sam/requirements-checkov.txt:
## its boto3 pin conflicts with the SAM CLI's), once.
venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed
$(VENV)/.installed: infra/sam/requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11+ is required for the SAM tooling"; exit 1; }
	@infra/scripts/step.sh "SAM CLI and cfn-lint into $(VENV) (PyPI)" bash -c \
	  '{ [ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV); } && \
	   $(VENV)/bin/python -m pip install -q --disable-pip-version-check -r infra/sam/requirements.txt'
	@touch $@
$(CHECKOV_VENV)/.installed: infra/sam/requirements-checkov.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11+ is required for checkov"; exit 1; }
	@infra/scripts/step.sh "checkov into $(CHECKOV_VENV) (PyPI)" bash -c \
	  '{ [ -x $(CHECKOV_VENV)/bin/python ] || $(PYTHON) -m venv $(CHECKOV_VENV); } && \
	   $(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r infra/sam/requirements-checkov.txt'
	@touch $@

## template: the SAM bundle. Lints the template and the docs' snippets,
## validates it the way `sam deploy` would transform it, runs checkov's
## security checks on it and on its transform (the generated IAM roles,
## permissions and stage; skips and reasons: infra/sam/checkov.yaml;
## output only on failure), builds every function with `sam build` (no Docker:
## build-<Fn> targets below), and checks the template's table against
## store.TableDefinition; then lints and checks it again as deployed with
## two replica regions (infra/sam/replicas.py).
template: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml $(SNIPPETS)
	$(SAM) validate --lint --region $(SAM_REGION)
	@mkdir -p .build; $(VENV)/bin/python infra/sam/transform.py template.yaml >.build/template.cfn.json 2>.build/transform.log || \
	  { cat .build/transform.log; exit 1; }
	@out=$$($(CHECKOV) -f template.yaml -f .build/template.cfn.json 2>&1) || \
	  { echo "$$out"; echo "checkov: template.yaml fails (skips: infra/sam/checkov.yaml)"; exit 1; }; \
	  echo "checkov: template.yaml and its transform pass ($$(echo "$$out" | grep -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*'))"
	$(SAM) build --build-in-source --no-cached --parallel
	@for fn in $(SAM_FUNCTIONS); do \
	  f=.aws-sam/build/$$fn/bootstrap; \
	  [ -x $$f ] || { echo "sam build did not produce $$f"; exit 1; }; \
	  [ "$$(od -An -tx1 -N4 $$f | tr -d ' ')" = 7f454c46 ] && [ "$$(od -An -tx1 -j18 -N2 $$f | tr -d ' ')" = b700 ] || \
	    { echo "$$f is not a linux/arm64 ELF executable"; exit 1; }; \
	done; echo "sam build: $(SAM_FUNCTIONS) are linux/arm64 bootstraps"
	$(GO) run ./infra/cmd/ddb table -print | $(VENV)/bin/python infra/sam/check_table.py template.yaml
	@# The same with two replica regions (docs/regions.md): the template as
	@# CloudFormation resolves it for ReplicaRegions=eu-west-1,ap-southeast-2.
	@out=$$($(VENV)/bin/python infra/sam/test_replicas.py 2>&1) || { echo "$$out"; exit 1; }
	$(VENV)/bin/python infra/sam/replicas.py template.yaml eu-west-1,ap-southeast-2 >.build/template-replicas.json
	$(VENV)/bin/cfn-lint .build/template-replicas.json
	$(SAM) validate --lint --region $(SAM_REGION) -t .build/template-replicas.json
	$(GO) run ./infra/cmd/ddb table -print | $(VENV)/bin/python infra/sam/check_table.py .build/template-replicas.json
	@out=$$($(VENV)/bin/python infra/sam/test_check_docs.py 2>&1) || { echo "$$out"; exit 1; }; \
	  echo "check_docs: its own tests pass ($$(echo "$$out" | grep -o 'Ran [0-9]* tests'))"
	$(VENV)/bin/python infra/sam/check_docs.py docs/attach.md $(SNIPPETS) template.yaml
	$(VENV)/bin/python infra/sam/check_docs.py docs/middleware.md $(SNIPPETS)
	$(VENV)/bin/python infra/sam/check_docs.py docs/deploy.md $(SNIPPETS)

## events: every shipped event through its function under AWS's Runtime
## Interface Emulator (infra/lambdarun, as make invoke; no Docker), against
## DynamoDB Local.
events: $(DDB)
	TABLE_NAME=keygate-events TOKEN_PREFIX=kg_live_ TOKEN_PEPPER_SECRET_ARN= \
	  TOKEN_PEPPER=events-check-pepper-not-a-secret-0123456789 \
	  $(GO) run ./infra/cmd/ddb run -- infra/sam/check_events.sh

# sam build runs these (BuildMethod makefile, --build-in-source) with
# ARTIFACTS_DIR set: one static provided.al2023 arm64 bootstrap each.
build-CreateFunction:
	$(call lambda_build,create)
build-ListFunction:
	$(call lambda_build,list)
build-RevokeFunction:
	$(call lambda_build,revoke)
build-AuthorizerFunction:
	$(call lambda_build,authorizer)
build-StreamFunction:
	$(call lambda_build,stream)
build-ReminderFunction:
	$(call lambda_build,reminders)
build-SettingsFunction:
	$(call lambda_build,settings)
build-SecretScanningFunction:
	$(call lambda_build,secretscan)
build-VerifyFunction:
	$(call lambda_build,verify)

## run-events: make run's stack and, next to it, the lifecycle functions
## on the table's stream (infra/cmd/lifecycle), against a moto EventBridge
## and SES: prints every event published and e-mail sent.
run-events: $(DDB)
	@mkdir -p .build; $(GO) build -o .build/lifecycle ./infra/cmd/lifecycle
	$(GO) run ./infra/cmd/ddb run -- bash -c '.build/lifecycle & w=$$!; trap "kill $$w 2>/dev/null" EXIT; $(GO) run ./infra/cmd/run'

## moto-deps: moto_server (pinned in infra/moto/requirements.txt) in
## .venv/moto, once, for the lifecycle tests' local EventBridge, SQS and
## SES. The tests run it themselves when it is missing (infra/motolocal).
moto-deps:
	infra/moto/setup.sh

clean:
	rm -rf .build .aws-sam
