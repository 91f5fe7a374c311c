GO ?= go
BIN := bin/divoc

.PHONY: build demo test vet fmt bench clean localnet localnet-stop localnet-status

build:
	$(GO) build -o $(BIN) ./cmd/divoc

# The main job: a single-validator network in a fresh home, 10,000 DIVOC rows
# submitted as facilities would, certificates issued, verified, revoked and
# corrected. Keeps serving until interrupted.
demo: build
	./$(BIN) demo

# The test command (.ci/run calls exactly this). It installs Chromium for the
# dashboard's browser test if missing (DIVOC_SKIP_BROWSER=1: neither), then
# runs the state machine, the ABCI adapter, the API and the node again under
# the race detector (the app reads committed IAVL versions while the next
# block executes).
test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	./scripts/install-chromium.sh
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -race -count=1 -timeout 10m ./app ./abci ./api ./receipt ./node

bench: build
	./$(BIN) bench ingest

# Four validators, one per agency, as separate processes on loopback ports
# (localnet/network.json; homes under localnet/data, created on first use).
localnet: build
	./$(BIN) localnet start

localnet-stop: build
	./$(BIN) localnet stop

localnet-status: build
	./$(BIN) localnet status

clean:
	rm -rf bin .demo
