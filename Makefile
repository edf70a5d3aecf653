# Two commands on a fresh machine: `make demo` (see the engines paint) and `make test` (the whole suite).
# Both set up .venv first, once: again only when pyproject.toml changes or .venv is gone.

PYTHON := .venv/bin/python
SETUP_STAMP := .venv/.installed
SHARED := $(abspath $(CURDIR)/../shared)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup redis test demo

# Print the two commands.
help:
	@echo "make demo    paint docs/astronaut.jpg with every engine into out/demo/ (0.5-3 minutes on 2 cores;"
	@echo "             options: make demo ARGS='--size 128'); with BOT_TOKEN set (environment or .env), start"
	@echo "             the full bot instead"
	@echo "make test    run the whole test suite (about 15 minutes); pytest options: make test ARGS='-k demo -x'"

# Create .venv and install the project with its test extra.
setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml
	python3 -m venv .venv
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

# The Redis store's tests run against a real redis-server (tests/redis_server.py): install it when missing.
redis:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# Run the README's test command on the real weights and images (default: ../shared, when the variables are unset).
test: export STYLEBOT_WEIGHTS_DIR := $(or $(STYLEBOT_WEIGHTS_DIR),$(SHARED)/weights)
test: export STYLEBOT_IMAGES_DIR := $(or $(STYLEBOT_IMAGES_DIR),$(SHARED)/images)
test: setup redis
	$(PYTHON) -m pytest -q $(ARGS)

# Run the demo (run_demo.py); it takes ../shared/weights only when STYLEBOT_WEIGHTS_DIR is unset and that folder
# exists, else the weights module's default folder (weights/) and its own messages apply.
ifeq ($(STYLEBOT_WEIGHTS_DIR),)
ifneq ($(wildcard $(SHARED)/weights),)
demo: export STYLEBOT_WEIGHTS_DIR := $(SHARED)/weights
endif
endif
demo: setup
	$(PYTHON) run_demo.py $(ARGS)
