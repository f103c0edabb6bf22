.PHONY: build test
build:
	go build -o bin/warden ./cmd/warden
test:
	./scripts/test
