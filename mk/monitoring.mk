# Monitoring targets: promtool and amtool checks, dashboard generation and a
# local Prometheus. Included by the root Makefile.

PYTHON ?= .venv/bin/python
MONITORING_PROM_DIR := monitoring/prometheus
PROMETHEUS_DATA_DIR ?= var/prometheus
# The tests run the same command on a free port with a config for their ports.
PROMETHEUS_LISTEN ?= 127.0.0.1:9090
PROMETHEUS_CONFIG ?= $(MONITORING_PROM_DIR)/prometheus.local.yml

.PHONY: monitoring-tools monitoring-check dashboards monitor

# Debian's prometheus package brings promtool; prometheus-alertmanager brings
# amtool. Installs only when a tool is missing.
monitoring-tools:
	@if command -v promtool >/dev/null && command -v amtool >/dev/null; then \
		echo "promtool and amtool are installed"; \
	else \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			prometheus prometheus-alertmanager; \
	fi

# Fails when a generated file is stale, a rule or config is invalid, or a
# promtool unit test fails.
monitoring-check: monitoring-tools
	$(PYTHON) -m monitoring.codegen --check
	promtool check rules $(MONITORING_PROM_DIR)/rules/*.yml
	promtool check config --syntax-only $(MONITORING_PROM_DIR)/prometheus.local.yml \
		$(MONITORING_PROM_DIR)/prometheus.yml
	cd $(MONITORING_PROM_DIR)/tests && promtool test rules *_test.yml
	@tmp=$$(mktemp -d) && \
		ALERTMANAGER_SMTP_SMARTHOST=127.0.0.1:25 \
		ALERTMANAGER_SMTP_FROM=alertmanager@localhost \
		ALERTMANAGER_SMTP_USERNAME=alertmanager \
		ALERTMANAGER_SLACK_CHANNEL='#alerts' \
		ALERTMANAGER_EMAIL_TO=oncall@localhost \
		ALERTMANAGER_SECRETS_DIR=$$tmp \
		$(PYTHON) -m monitoring.codegen.alertmanager --output $$tmp/alertmanager.yml && \
		amtool check-config $$tmp/alertmanager.yml; \
		status=$$?; rm -rf $$tmp; exit $$status

# Rewrites the rules, scrape configs and dashboards from monitoring/codegen.
dashboards:
	$(PYTHON) -m monitoring.codegen

# Runs Prometheus in the foreground against the local stack's default ports
# (start `make stack` in another terminal first). Ctrl-C stops it.
monitor: monitoring-tools
	mkdir -p $(PROMETHEUS_DATA_DIR)
	exec prometheus \
		--config.file=$(PROMETHEUS_CONFIG) \
		--storage.tsdb.path=$(PROMETHEUS_DATA_DIR) \
		--web.listen-address=$(PROMETHEUS_LISTEN) \
		--web.enable-lifecycle
