"""Build the Prometheus server configs for the local stack and for clusters."""

from collections.abc import Mapping

from monitoring.codegen import settings as s

RULE_FILES = ["rules/recording.yml", "rules/alerts.yml"]


def _global() -> dict:
    return {
        "scrape_interval": s.SCRAPE_INTERVAL,
        "evaluation_interval": s.EVALUATION_INTERVAL,
    }


def _target_labels(target: s.ScrapeTarget) -> dict[str, str]:
    return {"service": target.service} if target.service else {}


def local_config(
    ports: Mapping[str, int] | None = None,
    alertmanager_port: int = 9093,
    rule_files: list[str] | None = None,
) -> dict:
    """Build the config that scrapes the local stack on 127.0.0.1.

    `ports` maps a job name to the port to scrape in place of the default
    one, so tests can run the stack on free ports.
    """
    ports = dict(ports or {})
    unknown = set(ports) - {target.job for target in s.SCRAPE_TARGETS}
    if unknown:
        known = sorted(target.job for target in s.SCRAPE_TARGETS)
        raise ValueError(f"unknown scrape jobs {sorted(unknown)}; known jobs: {known}")

    scrape_configs = []
    for target in s.SCRAPE_TARGETS:
        port = ports.get(target.job, target.local_port)
        static = {"targets": [f"127.0.0.1:{port}"]}
        labels = _target_labels(target)
        if labels:
            static["labels"] = labels
        scrape_configs.append(
            {
                "job_name": target.job,
                "metrics_path": target.metrics_path,
                "static_configs": [static],
            }
        )
    return {
        "global": _global(),
        "rule_files": list(RULE_FILES if rule_files is None else rule_files),
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}
            ]
        },
        "scrape_configs": scrape_configs,
    }


def cluster_config() -> dict:
    """Build the config for docker compose and Kubernetes.

    Targets are found through DNS A records of the narrative-<service> names,
    so every replica is scraped on its own. In Kubernetes that needs headless
    Services (clusterIP: None); a normal Service name resolves to one virtual
    IP, and Prometheus would then scrape whichever pod answers.
    """
    scrape_configs = []
    for target in s.SCRAPE_TARGETS:
        config = {"job_name": target.job, "metrics_path": target.metrics_path}
        if target.job == "prometheus":
            config["static_configs"] = [
                {
                    "targets": [f"localhost:{target.local_port}"],
                    "labels": {"service": "prometheus"},
                }
            ]
        else:
            config["dns_sd_configs"] = [
                {
                    "names": [target.cluster_host],
                    "type": "A",
                    "port": target.local_port,
                    "refresh_interval": "30s",
                }
            ]
            labels = _target_labels(target)
            if labels:
                config["relabel_configs"] = [
                    {"target_label": name, "replacement": value}
                    for name, value in labels.items()
                ]
        scrape_configs.append(config)
    return {
        "global": _global(),
        "rule_files": list(RULE_FILES),
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": ["narrative-alertmanager:9093"]}]}
            ]
        },
        "scrape_configs": scrape_configs,
    }
