# AeronTensorPool for Swift — every set-up step is here, so `make test` and `make run` work on a fresh machine.
SHELL := /bin/bash
# The roles' log level (swift-log, tensorpool.<role>): warnings and above unless asked (TP_LOG_LEVEL=info make run).
export TP_LOG_LEVEL ?= warning
.DEFAULT_GOAL := build

# Where Tools/aeron/install.sh puts Aeron: /usr/local as root, ~/.local otherwise (override with AERON_PREFIX=...).
AERON_PREFIX ?= $(shell Tools/aeron/install.sh --print-prefix)
export PKG_CONFIG_PATH := $(AERON_PREFIX)/lib/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
export TP_AERONMD := $(AERON_PREFIX)/bin/aeronmd

SWIFT ?= swift
SWIFT_FORMAT ?= swift format
FORMAT_PATHS := Package.swift Sources Tests Conformance Tools/sbe-swift Benchmarks/Package.swift Benchmarks/Benchmarks Benchmarks/Sources

.PHONY: aeron prerequisites build build-release test test-under-load run bench soak format lint clean clean-shm help \
	generate check-generated compliance report

# Each schema and the namespace its codecs live in.
SCHEMAS := wire:WireSchema driver:DriverSchema bridge:BridgeSchema join-barrier:JoinBarrierSchema \
	trace-link:TraceLinkSchema discovery:DiscoverySchema
GENERATED_DIR := Sources/TensorPoolWire/Generated
# A test-only schema with versioned fields; its codecs are generated into the test target.
TEST_SCHEMA_DIR := Tests/TensorPoolWireTests/Schemas
TEST_GENERATED_DIR := Tests/TensorPoolWireTests/Generated

help:
	@echo "make build  - install Aeron if needed, build debug"
	@echo "make test   - install Aeron if needed, build, run every test and case once, then the compliance verdict"
	@echo "make test-under-load - make test LOAD_RUNS times (default 10) while a CPU hog keeps every core busy"
	@echo "make run    - install Aeron if needed, run the end-to-end demo on an embedded media driver"
	@echo "make bench  - Swift-vs-C Aeron baseline, SHM core and malloc-counting benchmarks (release)"
	@echo "make soak   - multi-process torn-read stress of the SHM seqlock for SOAK_SECONDS (default 120)"
	@echo "make format - swift format in place; make lint - check formatting"
	@echo "make generate - regenerate the SBE codecs from Specs/schemas"
	@echo "make report - conformance reports (md, html, json, junit) in .build/compliance/"

aeron: prerequisites
	@Tools/aeron/install.sh --prefix "$(AERON_PREFIX)"

prerequisites:
	@Tools/prerequisites.sh

build: aeron
	$(SWIFT) build

build-release: aeron
	$(SWIFT) build -c release --product tp-aeron
	$(SWIFT) build -c release --product tp-shm
	$(SWIFT) build -c release --product tp-driver
	$(SWIFT) build -c release --product tp-client
	$(SWIFT) build -c release --product tp-supervisor

# Regenerate the codecs of every schema into $(1) and those of the test-only schema into $(2).
define generate_into
	@mkdir -p $(1) $(2)
	@for entry in $(SCHEMAS); do \
		name=$${entry%%:*}; namespace=$${entry##*:}; \
		$(SWIFT) run --skip-build sbe-swift Specs/schemas/$$name.xml --namespace $$namespace \
			--source-name Specs/schemas/$$name.xml --output $(1)/$$namespace.swift || exit 1; \
	done
	@$(SWIFT) run --skip-build sbe-swift $(TEST_SCHEMA_DIR)/versioned.xml --namespace VersionedTestSchema \
		--source-name $(TEST_SCHEMA_DIR)/versioned.xml --output $(2)/VersionedTestSchema.swift
endef

generate:
	$(SWIFT) build --product sbe-swift
	$(call generate_into,$(GENERATED_DIR),$(TEST_GENERATED_DIR))

# Fails when the committed codecs differ from what the schemas generate (a schema changed without `make generate`).
check-generated:
	$(SWIFT) build --product sbe-swift
	@rm -rf .build/generated-check
	$(call generate_into,.build/generated-check/codecs,.build/generated-check/tests)
	@diff -r $(GENERATED_DIR) .build/generated-check/codecs && \
		diff -r $(TEST_GENERATED_DIR) .build/generated-check/tests || \
		{ echo "error: generated codecs are stale: run 'make generate' and commit the result" >&2; exit 1; }

# One `swift test` runs every unit test and conformance case once; the compliance verdict is computed from that run's
# results (Swift Testing writes them to <name>-swift-testing.xml). The verdict is printed even when a test failed, and
# the target fails when either did.
TEST_RESULTS := .build/compliance/tests.xml
test: aeron clean-shm check-generated
	$(SWIFT) build --build-tests
	$(SWIFT) build --product tp-compliance
	@mkdir -p .build/compliance && rm -f .build/compliance/tests*.xml
	@status=0; \
	$(SWIFT) test --skip-build --xunit-output $(TEST_RESULTS) || status=$$?; \
	$(MAKE) --no-print-directory clean-shm; \
	$(TP_COMPLIANCE) sync && $(TP_COMPLIANCE) run --results $(TEST_RESULTS:.xml=-swift-testing.xml) \
		&& $(TP_COMPLIANCE) verify || { [ $$status -ne 0 ] || status=1; }; \
	exit $$status

# The gate under stress: the whole `make test`, LOAD_RUNS times in a row, while a CPU hog keeps every core busy.
# Each run's log goes to .build/under-load/; the target fails unless every run passed. Not part of `make test`.
LOAD_RUNS ?= 10
test-under-load:
	Tools/test-under-load.sh $(LOAD_RUNS)

# The compliance gate on its own: parse Specs/ and Conformance/, run the conformance cases, then verify (see
# Specs/README.md). `make test` records the cases from its single test run instead of running them again.
TP_COMPLIANCE := $(SWIFT) run --skip-build tp-compliance
compliance:
	$(SWIFT) build --product tp-compliance
	$(TP_COMPLIANCE) sync
	$(TP_COMPLIANCE) run --skip-build
	$(TP_COMPLIANCE) verify

# Conformance reports from the latest run (Markdown, HTML, JSON, JUnit) into .build/compliance/.
report: compliance
	$(TP_COMPLIANCE) report --format md --output .build/compliance/report.md
	$(TP_COMPLIANCE) report --format html --output .build/compliance/report.html
	$(TP_COMPLIANCE) report --format json --output .build/compliance/report.json
	$(TP_COMPLIANCE) report --format junit --output .build/compliance/report-junit.xml

# The demo: an IPC ping-pong through an embedded media driver (the Aeron baseline), then a writer and a
# reader process racing on a 4-slot SHM ring (every accepted frame checked byte for byte), then the tensor pool itself:
# tp-driver, a producer process and a consumer process streaming a 480x1280 tensor (fps, MiB/s, drops, pattern
# checked on every frame), and an orderly shutdown.
run: build-release clean-shm
	$(SWIFT) run -c release --skip-build tp-aeron pingpong --messages 100000 --warmup 20000
	$(SWIFT) run -c release --skip-build tp-shm stress --seconds 3
	Tools/demo.sh .build/release 3

# The longer run of the multi-process torn-read stress (`make test` runs it for 5 s).
SOAK_SECONDS ?= 120
soak: aeron clean-shm
	$(SWIFT) build -c release --product tp-shm
	$(SWIFT) run -c release --skip-build tp-shm stress --seconds $(SOAK_SECONDS)

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
