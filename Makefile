# The single entry point for building, synthesizing, testing, benchmarking and deploying.
# Every tool comes pinned from go.mod, package-lock.json and scripts/install-tools.sh.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := synth

# Node 22 from node_modules for the CDK CLI and for jsii (the machine's Node 20 is past its
# CDK support date).
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.tools/bin:$(PATH)
export JSII_NODE := $(CURDIR)/node_modules/.bin/node
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true

# One build configuration for every Go build on this machine (the app, go vet, go test, the
# tools, the Tracetest build, the functions built for the local emulator): static and
# path-free, as the Lambda binaries are. The Go build cache then holds one copy of the
# standard library and of each shared dependency rather than one per configuration (cgo on
# or off, paths kept or trimmed), which a cold CI run would otherwise compile twice. No
# DWARF debug information, as in the Lambda binaries (-s -w): the compiler does not generate
# it (-dwarf=false) and the linker does not write it (-w). The code is the same, and a cold
# build takes about 14% less CPU. To debug a test with Delve, build it outside make.
export CGO_ENABLED := 0
GO_BUILD_FLAGS := -trimpath -gcflags=all=-dwarf=false -ldflags=-w
export GOFLAGS := $(strip $(GO_BUILD_FLAGS) $(filter-out $(GO_BUILD_FLAGS),$(GOFLAGS)))

CDK := node_modules/.bin/cdk
OUT ?= cdk.out
BASE ?= origin/main
OUTPUTS ?= cdk-outputs.json
# Extra CDK CLI arguments, e.g. CDK_ARGS="-c natGateways=2".
CDK_ARGS ?=
# When `make deploy` asks before deploying: broadening (IAM or security-group changes that
# widen access); CI, which has no terminal to answer, sets never.
REQUIRE_APPROVAL ?= broadening
# Region the idle cost is priced in (the stacks are environment-agnostic); COST_ARGS adds
# cmd/cost flags, e.g. COST_ARGS="-hours 1 -format markdown".
COST_REGION ?= us-east-1
COST_ARGS ?=
# The stack name prefix the deployment used (cdk.json's, unless deployed with -c prefix=...).
PREFIX ?= $(shell sed -n 's/.*"prefix": *"\([^"]*\)".*/\1/p' cdk.json)

.PHONY: tools synth guard diagrams cost cost-doc lint test test-all e2e bench determinism diff deploy destroy tracetest tracetest-local clean

# The Tracetest server and CLI take minutes of CPU to build cold, and only make tracetest
# and make tracetest-local run them. make tools asked for by name waits for the build
# (wait); as the prerequisite of any other target it starts the build in the background and
# returns (background), so that a first make synth or make test does not wait for a tool it
# does not use. The targets that run Tracetest always wait for it (a build in progress is
# found by its lock, never started twice). .ci/run exports background.
ifneq ($(filter tools,$(MAKECMDGOALS)),)
TRACETEST_BUILD ?= wait
else
TRACETEST_BUILD ?= background
endif
tracetest tracetest-local: TRACETEST_BUILD = wait

tools: ## install the pinned tools (npm packages, DynamoDB Local, Lambda RIE, Tracetest server and CLI, PostgreSQL)
	TRACETEST_BUILD=$(TRACETEST_BUILD) bash scripts/install-tools.sh

synth: tools ## the main job: every stack into cdk.out, offline, strict template validation
	@# Into an empty directory, so cdk.out holds this synth only (the CLI leaves the assets
	@# of earlier synths there); only a cloud assembly is removed.
	@if [ -f "$(OUT)/manifest.json" ]; then rm -rf "$(OUT)"; fi
	$(CDK) synth --quiet --output $(OUT) $(CDK_ARGS)
	@echo "synth: $$(ls $(OUT)/*.template.json | wc -l) templates in $(OUT)"

guard: ## cfn-guard with the AWS Control Tower rules over cdk.out (run make synth first)
	bash scripts/cfn-guard.sh $(OUT)

diagrams: synth ## regenerate docs/ARCHITECTURE.md (Mermaid) from cdk.out and the ASL
	go run ./cmd/diagrams -cdk-out $(OUT) -o docs/ARCHITECTURE.md -readme README.md

cost: synth ## idle monthly cost of the synthesized stacks, per stack, from internal/cost/prices.json
	go run ./cmd/cost -cdk-out $(OUT) -region $(COST_REGION) $(COST_ARGS)

cost-doc: synth ## regenerate docs/COST.md from cdk.out and the price table (a test fails when it is stale)
	go run ./cmd/cost -cdk-out $(OUT) -doc docs/COST.md

# shellcheck and pyflakes are off: actionlint would use whatever version the machine has,
# and every tool here is pinned.
lint: tools ## actionlint (pinned in scripts/install-tools.sh) over every GitHub Actions workflow
	actionlint -shellcheck= -pyflakes= .github/workflows/*.yml

# The fast set, for the edit loop: every test but those that start a JVM (DynamoDB Local),
# build the Lambda functions, run the end-to-end harness or the importing module, or call
# the CDK CLI; the app's tests skip the built-in template validation (testing.Short).
# make test-all, what CI runs, runs every test. docs/BENCHMARKS.md lists what -short skips.
# go test runs with -vet=off after go vet ./...: vet has just run every analyzer over the same
# packages, test files included, and go test's built-in subset would analyse the CDK again.
test: tools ## the fast set: go vet + go test -short (no JVM, no Lambda builds, no e2e, no template validation)
	go vet ./...
	go test -short -count=1 -vet=off ./...

# As root, make tracetest-local runs alongside go vet and go test ./...: it spends most of its minute
# waiting for Tracetest's polling, in network and mount namespaces of its own (no port is
# shared). Its output follows go test's. Its test binary is compiled first, alone: started
# together, the rig's go test and go vet would both compile e2e's dependencies (a cold cache
# has neither). Every go test runs with -vet=off, as in make test.
test-all: tools ## every test, as CI runs them: go vet + go test ./... (DynamoDB Local, Lambda builds, e2e, validation) and make tracetest-local (root)
	@test -f $(OUT)/$(PREFIX)-Workflow.template.json || $(MAKE) --no-print-directory synth
	@rig=""; rig_log=$$(mktemp); trap 'rm -f "$$rig_log"' EXIT; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "go test -c -vet=off -o /dev/null ./e2e/"; go test -c -vet=off -o /dev/null ./e2e/; \
	  echo "make tracetest-local (alongside go vet and go test; its output follows)"; \
	  $(MAKE) --no-print-directory tracetest-local >"$$rig_log" 2>&1 & rig=$$!; \
	else echo "test-all: make tracetest-local skipped: it needs root (sudo -E make tracetest-local); CI runs it"; fi; \
	tests=0; echo "go vet ./..."; go vet ./... || tests=$$?; \
	if [ "$$tests" = 0 ]; then \
	  echo "PREFIX=$(PREFIX) CDK_OUT=$(abspath $(OUT)) go test -count=1 -vet=off ./..."; \
	  PREFIX=$(PREFIX) CDK_OUT=$(abspath $(OUT)) go test -count=1 -vet=off ./... || tests=$$?; \
	fi; \
	if [ -n "$$rig" ]; then \
	  status=0; wait "$$rig" || status=$$?; \
	  echo "== make tracetest-local:"; cat "$$rig_log"; \
	  if [ "$$status" != 0 ]; then echo "test-all: make tracetest-local failed" >&2; exit 1; fi; \
	fi; \
	exit "$$tests"

e2e: synth ## the workflow end to end on local stand-ins, running the synthesized API, functions and state machine
	PREFIX=$(PREFIX) CDK_OUT=$(abspath $(OUT)) go test -count=1 -v ./e2e/...

bench: tools ## benchmarks; figures are written down in docs/BENCHMARKS.md
	bash scripts/bench.sh

# AGAINST=<cloud assembly> (CI: a copy of the main job's cdk.out) synthesizes once, at another
# checkout path, and compares with that assembly.
determinism: tools ## synthesize from two checkout paths and compare byte for byte
	bash scripts/check-determinism.sh $(AGAINST)

diff: tools ## offline diff of every stack against the synth of $(BASE), with the idle cost change (no credentials)
	COST_REGION=$(COST_REGION) bash scripts/diff.sh $(BASE)

deploy: tools ## deploy every stack (needs AWS credentials)
	$(CDK) deploy --all --require-approval $(REQUIRE_APPROVAL) --outputs-file $(OUTPUTS) $(CDK_ARGS)

destroy: tools ## destroy every stack (the database keeps a final snapshot by default)
	$(CDK) destroy --all $(CDK_ARGS)

tracetest: tools ## run the trace-based tests against the deployed stacks (JUNIT=report.xml for a JUnit report)
	CDK_OUTPUTS=$(OUTPUTS) PREFIX=$(PREFIX) TRACETEST=$(CURDIR)/.tools/bin/tracetest bash scripts/run-tracetest.sh

# -parallel 3: the three tests start at once whatever the core count (two take turns on the
# first Tracetest server, the late-documents test has a second one; docs/TRACETEST.md).
# -vet=off: go vet ./... is make test's and make test-all's job, tests included.
tracetest-local: tools ## the trace-based tests with the real Tracetest server and CLI on the local workflow (root; uses cdk.out)
	@test -f $(OUT)/$(PREFIX)-Tracetest.template.json || $(MAKE) --no-print-directory synth
	E2E_TRACETEST=1 PREFIX=$(PREFIX) CDK_OUT=$(abspath $(OUT)) go test -count=1 -parallel 3 -vet=off -v -run '^TestTracetest' ./e2e/

clean:
	rm -rf $(OUT) cdk.*.out
