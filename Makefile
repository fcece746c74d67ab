# AeronTensorPool for Swift — every set-up step is here, so `make test` and `make run` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# Where Tools/aeron/install.sh puts Aeron: /usr/local as root, ~/.local otherwise (override with AERON_PREFIX=...).
AERON_PREFIX ?= $(shell Tools/aeron/install.sh --print-prefix)
export PKG_CONFIG_PATH := $(AERON_PREFIX)/lib/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
export TP_AERONMD := $(AERON_PREFIX)/bin/aeronmd

SWIFT ?= swift
SWIFT_FORMAT ?= swift format
FORMAT_PATHS := Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Benchmarks Benchmarks/Sources

.PHONY: aeron build build-release test run bench format lint clean clean-shm help

help:
	@echo "make build  - install Aeron if needed, build debug"
	@echo "make test   - install Aeron if needed, build, run every test"
	@echo "make run    - install Aeron if needed, run the end-to-end demo on an embedded media driver"
	@echo "make bench  - Swift-vs-C Aeron baseline and malloc-counting benchmarks (release)"
	@echo "make format - swift format in place; make lint - check formatting"

aeron:
	@Tools/aeron/install.sh --prefix "$(AERON_PREFIX)"

build: aeron
	$(SWIFT) build

build-release: aeron
	$(SWIFT) build -c release --product tp-aeron

test: aeron clean-shm
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	@$(MAKE) --no-print-directory clean-shm

# Until the tensor clients exist, the demo is an IPC ping-pong through an embedded media driver.
run: build-release clean-shm
	$(SWIFT) run -c release --skip-build tp-aeron pingpong --messages 100000 --warmup 20000

bench: aeron
	$(MAKE) -C Benchmarks bench

format:
	$(SWIFT_FORMAT) format --in-place --recursive --parallel $(FORMAT_PATHS)

lint:
	$(SWIFT_FORMAT) lint --recursive --parallel $(FORMAT_PATHS)

# Remove driver directories that killed test processes left in /dev/shm (only those whose process is gone).
clean-shm:
	@Tools/clean-shm.sh

clean:
	rm -rf .build Benchmarks/.build Benchmarks/c/build
