GO ?= go
BIN := bin/divoc

.PHONY: build demo test vet fmt bench clean

build:
	$(GO) build -o $(BIN) ./cmd/divoc

# The main job: a single-validator network in a fresh home, 10,000 DIVOC rows
# submitted as facilities would, certificates issued, verified, revoked and
# corrected. Keeps serving until interrupted.
demo: build
	./$(BIN) demo

# The test command (.ci/run calls exactly this).
test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

bench: build
	./$(BIN) bench ingest

clean:
	rm -rf bin .demo
