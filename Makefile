# Two entry points for newcomers:
#   make run   - set up, build, and run the main job
#   make test  - set up, build, and run every test
# `make setup` installs the Debian packages the project needs (idempotent; root or sudo).

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PACKAGES := build-essential cmake make pkg-config ccache git \
  libyaml-cpp-dev coinor-libcbc-dev coinor-libclp-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  libcpprest-dev libspdlog-dev libfmt-dev libsystemd-dev libprotobuf-dev protobuf-compiler libssl-dev \
  nlohmann-json3-dev libboost-system-dev openssl systemd \
  iproute2 nftables openssh-server openssh-client

.PHONY: setup build test run bench clean format asan tsan

setup:
	@missing=""; for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "setup: all packages present"; fi

build: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD_DIR).configure.log 2>&1 || (cat $(BUILD_DIR).configure.log; exit 1)
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The main job: jellybeand in the foreground with a local state dir (.jellybean/), applying
# manifests/vqa/ at start; status through jbctl and curl (commands printed first). Ctrl-C stops it.
STATE_DIR ?= $(CURDIR)/.jellybean
run: build
	@mkdir -p $(STATE_DIR)
	@echo "== jellybeand: state in $(STATE_DIR), applying manifests/vqa/ at start"
	@echo "== In another terminal, read the status with:"
	@echo "     export JB_STATE_DIR=$(STATE_DIR)"
	@echo "     $(BUILD_DIR)/cli/jbctl get workflows"
	@echo "     $(BUILD_DIR)/cli/jbctl describe workflow vqa"
	@echo "     curl --cacert $(STATE_DIR)/tls/ca.crt -H \"Authorization: Bearer \$$(cat $(STATE_DIR)/token)\" \\"
	@echo "          \$$(cat $(STATE_DIR)/endpoint)/apis/jellybean.dev/v1alpha1/workflows/vqa/status"
	@echo "     $(BUILD_DIR)/cli/jbctl rollout history workflow vqa      # plans adopted as inputs change"
	@echo "== Offline planning needs no daemon: $(BUILD_DIR)/cli/jbctl plan -f manifests/vqa/ --baseline prototype"
	exec $(BUILD_DIR)/daemon/jellybeand --state-dir $(STATE_DIR) --listen 127.0.0.1:8443 --manifest-dir manifests/vqa --stop-workers-on-exit

bench: build
	$(BUILD_DIR)/bench/bench_planner
	$(BUILD_DIR)/bench/bench_rest
	$(BUILD_DIR)/bench/bench_dataplane
	$(BUILD_DIR)/bench/bench_replan
	$(BUILD_DIR)/bench/bench_three_tier

# ASan + UBSan build of everything and its tests (suppressions: tools/sanitizers/).
asan: setup
	cmake -S . -B build-asan -DJB_SANITIZE=ON -DJB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug > build-asan.configure.log
	cmake --build build-asan -j $(JOBS)
	cd build-asan && LSAN_OPTIONS=suppressions=$(CURDIR)/tools/sanitizers/lsan.supp \
	  UBSAN_OPTIONS=suppressions=$(CURDIR)/tools/sanitizers/ubsan.supp:print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

# ThreadSanitizer over the multi-threaded core (store, work queue, controller). The daemon's HTTP
# tests are left out: cpprestsdk/Boost.Asio are not instrumented and only produce noise.
tsan: setup
	cmake -S . -B build-tsan -DJB_TSAN=ON -DJB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug > build-tsan.configure.log
	cmake --build build-tsan -j $(JOBS) --target reconciler_test worker_test
	build-tsan/tests/reconciler_test
	build-tsan/tests/worker_test

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log
