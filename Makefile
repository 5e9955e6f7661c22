# Two entry points for newcomers:
#   make run   - set up, build, and run the main job
#   make test  - set up, build, and run every test
# `make setup` installs the Debian packages the project needs (idempotent; root or sudo).

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# ccache (when installed; CMake uses it as the compiler launcher): paths under this tree are hashed
# relative to it and the build directory is left out of the hash, so build/, build-deb/ and other
# clones or worktrees of the tree share their compiles (the package stage of .ci/run is then mostly
# cache hits of the test stage's build). DWARF's compilation directory may name another build dir.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

PACKAGES := build-essential cmake make pkg-config ccache git \
  libyaml-cpp-dev coinor-libcbc-dev coinor-libclp-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  libcpprest-dev libspdlog-dev libfmt-dev libsystemd-dev libprotobuf-dev protobuf-compiler libssl-dev \
  nlohmann-json3-dev libboost-system-dev openssl systemd libcli11-dev \
  iproute2 nftables openssh-server openssh-client \
  clang-14 libclang-rt-14-dev clang-format-14 \
  tesseract-ocr-eng libtesseract-dev pocketsphinx-en-us libpocketsphinx-dev libsphinxbase-dev \
  espeak-ng sox python3-pil python3-numpy fonts-dejavu-core python3-yaml python3-jsonschema \
  hey prometheus \
  etcd-server etcd-client libgrpc++-dev protobuf-compiler-grpc \
  debhelper dpkg-dev fakeroot lintian help2man adduser

.PHONY: setup build test run bench deb deb-test clean format asan tsan fuzz thread-safety docqa-data check-sizes format-check

setup:
	@missing=""; for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "setup: all packages present"; fi
	@$(MAKE) --no-print-directory docqa-data

# The docqa example's labelled data set (docs/real-models.md): generated from Debian packages into
# $(BUILD_DIR)/docqa-data (about 4 s) and checked byte for byte against
# models/docqa/data/SHA256SUMS; nothing to do when it is there and checks.
docqa-data:
	models/docqa/data/build_data.sh $(BUILD_DIR)/docqa-data

build: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD_DIR).configure.log 2>&1 || (cat $(BUILD_DIR).configure.log; exit 1)
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The main job: jellybeand in the foreground with a local state dir (.jellybean/), applying at start
# the docqa example on real models (manifests/docqa/: tesseract and pocketsphinx on this machine's
# cores, 2 items/s, docs/real-models.md) and the VQA example (manifests/vqa/, emulated). Both are
# copied into $(BUILD_DIR)/run-manifests/ (one --manifest-dir; docqa's model and data paths point
# into $(BUILD_DIR)); docqa is left out when its models are not built. Ctrl-C stops it.
STATE_DIR ?= $(CURDIR)/.jellybean
RUN_MANIFESTS := $(BUILD_DIR)/run-manifests
run: build docqa-data
	@mkdir -p $(STATE_DIR)
	@rm -rf $(RUN_MANIFESTS) && mkdir -p $(RUN_MANIFESTS)/vqa $(RUN_MANIFESTS)/vqa-ingress && \
	  cp manifests/vqa/*.yaml $(RUN_MANIFESTS)/vqa/ && cp manifests/vqa-ingress/*.yaml $(RUN_MANIFESTS)/vqa-ingress/
	@if [ -x $(BUILD_DIR)/models/docqa/jb-docqa-ocr ] && [ -f $(BUILD_DIR)/docqa-data/documents.jsonl ]; then \
	  mkdir -p $(RUN_MANIFESTS)/docqa && \
	  for f in manifests/docqa/*.yaml; do sed 's#build/#$(BUILD_DIR)/#g' $$f > $(RUN_MANIFESTS)/docqa/$$(basename $$f); done; \
	  echo "== jellybeand: state in $(STATE_DIR), applying manifests/docqa/ (real models), manifests/vqa/ and manifests/vqa-ingress/ (emulated)"; \
	else echo "== jellybeand: state in $(STATE_DIR), applying manifests/vqa/ and manifests/vqa-ingress/ (emulated; docqa's models are not built)"; fi
	@echo "== In another terminal, read the status with:"
	@echo "     export JB_STATE_DIR=$(STATE_DIR)"
	@echo "     $(BUILD_DIR)/cli/jbctl get workflows"
	@echo "     $(BUILD_DIR)/cli/jbctl describe workflow docqa      # real models: observed throughput, latency, accuracy"
	@echo "     $(BUILD_DIR)/cli/jbctl describe workflow vqa        # emulated"
	@echo "     $(BUILD_DIR)/cli/jbctl describe workflow vqa-ingress  # the inference endpoint: URL, CA, token file (README: curl)"
	@echo "     curl --cacert $(STATE_DIR)/tls/ca.crt -H \"Authorization: Bearer \$$(cat $(STATE_DIR)/token)\" \\"
	@echo "          \$$(cat $(STATE_DIR)/endpoint)/apis/jellybean.dev/v1alpha1/workflows/docqa/status"
	@echo "     $(BUILD_DIR)/cli/jbctl rollout history workflow vqa      # plans adopted as inputs change"
	@echo "== Offline planning needs no daemon: $(BUILD_DIR)/cli/jbctl plan -f manifests/docqa/ --baseline most-accurate"
	exec $(BUILD_DIR)/daemon/jellybeand --state-dir $(STATE_DIR) --listen 127.0.0.1:8443 --manifest-dir $(RUN_MANIFESTS) --stop-workers-on-exit

bench: build
	$(BUILD_DIR)/bench/bench_planner
	$(BUILD_DIR)/bench/bench_rest
	$(BUILD_DIR)/bench/bench_dataplane
	$(BUILD_DIR)/bench/bench_replan
	$(BUILD_DIR)/bench/bench_three_tier
	$(BUILD_DIR)/bench/bench_ingress
	$(BUILD_DIR)/bench/bench_docqa

# ASan + UBSan (gcc) over the test suites in ASAN_SUITES (`make asan ASAN_SUITES=all` runs every
# suite). Left out by default: the network-namespace lab suites (root, exclusive use of the
# machine's network) and the data-plane e2e suites (dataplane_test, replan_e2e_test), whose SLO and
# delivery-time checks fail at ASan's 2-3x slowdown without any sanitizer report; `make test` runs
# them uninstrumented. Suppressions: tools/sanitizers/.
ASAN_SUITES ?= api_test cli_test planner_test reconciler_test worker_test drivers_test daemon_test
asan: setup
	cmake -S . -B build-asan -DJB_SANITIZE=ON -DJB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug > build-asan.configure.log 2>&1 || (cat build-asan.configure.log; exit 1)
	tools/sanitizers/run_suites.sh asan build-asan $(JOBS) $(ASAN_SUITES)

# ThreadSanitizer over the multi-threaded core (store, work queue, controller, worker). The daemon's
# HTTP tests are left out: cpprestsdk/Boost.Asio are not instrumented and only produce noise.
TSAN_SUITES ?= reconciler_test worker_test
tsan: setup
	cmake -S . -B build-tsan -DJB_TSAN=ON -DJB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug > build-tsan.configure.log 2>&1 || (cat build-tsan.configure.log; exit 1)
	tools/sanitizers/run_suites.sh tsan build-tsan $(JOBS) $(TSAN_SUITES)

# libFuzzer targets (fuzz/) under ASan+UBSan, built with Debian's clang, each run FUZZ_SECONDS, as many
# at once as there are cores (FUZZ_JOBS).
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++-14
FUZZ_CC ?= clang-14
fuzz: setup
	cmake -S . -B build-fuzz -DJB_FUZZ=ON -DJB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DCMAKE_C_COMPILER=$(FUZZ_CC) > build-fuzz.configure.log 2>&1 || (cat build-fuzz.configure.log; exit 1)
	cmake --build build-fuzz -j $(JOBS) --target fuzz_manifest fuzz_agent_frame fuzz_worker_frame fuzz_exec_frame fuzz_oip_request fuzz_seeds
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh build-fuzz

# clang's -Wthread-safety over every translation unit (syntax only: no code generation). Prints the
# warnings and their number and fails on any (TSA_STRICT=0 only reports). Warnings in the folders of
# TSA_EXCLUDE are reported but do not fail: worker/ until its locks are jb::Mutex (then remove it).
TSA_STRICT ?= 1
TSA_EXCLUDE ?=
thread-safety: setup
	tools/sanitizers/thread_safety.sh build-tsa $(JOBS) $(TSA_STRICT) "$(TSA_EXCLUDE)"

# No source file over 600 lines, no function over 120 (tests and generated code left out).
check-sizes:
	tools/check_sizes_test.sh
	tools/check_sizes.sh

# clang-format (Debian's clang-format-14, .clang-format) over every tracked .cc/.h: `format`
# rewrites the files, `format-check` fails on the first file that differs and changes nothing.
CLANG_FORMAT ?= clang-format-14
format:
	$(CLANG_FORMAT) -i $$(git ls-files '*.cc' '*.h')

format-check: setup
	$(CLANG_FORMAT) --dry-run --Werror $$(git ls-files '*.cc' '*.h')

# The Debian package (debian/): the four programs, their systemd units, the sample config, man pages
# from --help, the system user jellybean. Built with dh (cmake) in build-deb/, where the .deb and
# its -dbgsym land; then lintian over it (overrides: debian/jellybean.lintian-overrides).
# tests/packaging/deb_test.sh installs, runs and purges it.
# debhelper (compat 13) points HOME and XDG_* at a directory of its own, where ccache would start an
# empty cache: the package build gets the user's cache and configuration, so it is cache hits of
# the test build (same flags, CCACHE_BASEDIR above) instead of a second full build.
DEB_CCACHE = $(shell command -v ccache >/dev/null 2>&1 && ccache -sv 2>/dev/null | \
  sed -n -e 's/^Cache directory: *\(.*\)/CCACHE_DIR=\1/p' -e 's/^Config file: *\(.*\)/CCACHE_CONFIGPATH=\1/p' | tr '\n' ' ')
# noautodbgsym: no -dbgsym package (and no dwz pass, debian/rules); `make deb DEB_OPTIONS="nocheck
# parallel=2"` builds it too.
DEB_OPTIONS ?= nocheck parallel=$(JOBS) noautodbgsym
deb: setup
	dpkg-checkbuilddeps
	@[ -d build-deb ] || rm -f debian/debhelper-build-stamp  # build-deb removed by hand: build again
	$(DEB_CCACHE) DEB_BUILD_OPTIONS="$(DEB_OPTIONS)" debian/rules build
	$(DEB_CCACHE) DEB_BUILD_OPTIONS="$(DEB_OPTIONS)" fakeroot debian/rules binary
	lintian --fail-on error,warning build-deb/jellybean_*.deb

# `make deb`, then tests/packaging/deb_test.sh (root): dpkg -i, the programs, the units, the user,
# dpkg --purge leaving nothing behind (.ci/run stage "package").
deb-test: deb
	tests/packaging/deb_test.sh build-deb

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log build-deb
