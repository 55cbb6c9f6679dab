# Encore Box Office. `make run` sets everything up and serves the app; `make test` sets up and runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PORT ?= 5000
WORKERS ?= 4
SCALE ?= small

.PHONY: run test setup venv npm assets db-server redis db browser nginx cluster cluster-down clean

run: setup db
	@$(FLASK) demo load --scale $(SCALE) --if-empty
	@echo ""
	@echo "  Encore Box Office: http://127.0.0.1:$(PORT)/"
	@echo "  Admin:     http://127.0.0.1:$(PORT)/admin/  admin@example.com / boxoffice-demo"
	@echo "  Customers: vip@example.com / boxoffice-demo (VIP), customer@example.com / boxoffice-demo"
	@echo ""
	$(BIN)/gunicorn --workers $(WORKERS) --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

test: setup browser nginx
	@BOXOFFICE_DB=$${BOXOFFICE_DB:-boxoffice_test} $(BIN)/pytest

setup: venv npm db-server redis assets

# The virtualenv is rebuilt when requirements change; constraints.txt pins every transitive package.
$(BIN)/.installed: requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

venv: $(BIN)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

npm: node_modules/.package-lock.json

assets: venv npm
	@$(FLASK) assets build >/dev/null

db-server:
	@.ci/ensure-mariadb.sh

# The hold rate limits' shared counts (boxoffice/rate_limits.py).
redis:
	@.ci/ensure-redis.sh

db: setup
	@$(FLASK) db setup

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
browser:
	@.ci/ensure-debian-packages.sh /usr/bin/chromium "the browser tests" chromium chromium-driver fonts-dejavu-core

# nginx in front of the app servers: the cluster rehearsal and its test (tests/cluster/) run Debian's nginx.
nginx:
	@.ci/ensure-debian-packages.sh /usr/sbin/nginx "the cluster rehearsal and its test" nginx-light

# The production topology on one machine (docs/deployment.md): a primary and a replica MariaDB (GTID
# replication) on ports of their own, two app servers and nginx, in the background until cluster-down.
cluster: setup nginx
	@$(BIN)/python -m deploy.cluster up --scale $(SCALE)

cluster-down:
	@$(BIN)/python -m deploy.cluster down


clean:
	rm -rf $(VENV) node_modules static/gen .webassets-cache .pytest_cache
