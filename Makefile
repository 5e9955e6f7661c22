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
  nlohmann-json3-dev openssl

.PHONY: setup build test run bench clean format

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

# The main job. Until the daemon lands this validates every example and plans the VQA workflow
# with the exact solver, printing the plan beside the prototype / most-accurate / cloud-only baselines.
run: build
	$(BUILD_DIR)/cli/jbctl validate -f manifests/
	$(BUILD_DIR)/cli/jbctl plan -f manifests/vqa/ --baseline prototype --baseline most-accurate --baseline cloud-only
	$(BUILD_DIR)/cli/jbctl plan -f manifests/vehicle-tracking/ --baseline prototype --baseline cloud-only

bench: build
	$(BUILD_DIR)/bench/bench_planner

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log
