"""Shared Grafana panel builders: every panel gets a unit and the data source
variable, so no dashboard can forget either."""

import json
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard, stat, timeseries
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")

# Grafana unit ids.
SECONDS = "s"
PER_SECOND = "reqps"
OPS_PER_SECOND = "ops"
PERCENT_UNIT = "percentunit"
COUNT = "short"
BYTES = "bytes"
NONE = "none"


@dataclass(frozen=True)
class Query:
    """A PromQL expression and the legend of the series it returns."""

    expr: str
    legend: str = ""


def _targets(queries: list[Query]) -> list[prom.Dataquery]:
    targets = []
    for index, query in enumerate(queries):
        target = (
            prom.Dataquery()
            .expr(query.expr)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
        )
        if query.legend:
            target = target.legend_format(query.legend)
        targets.append(target)
    return targets


def time_series(
    title: str, unit: str, queries: list[Query], description: str = "", width: int = 12
) -> timeseries.Panel:
    """Build a time series panel of one or more queries."""
    panel = (
        timeseries.Panel()
        .title(title)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(8)
    )
    if description:
        panel = panel.description(description)
    for target in _targets(queries):
        panel = panel.with_target(target)
    return panel


def single_stat(
    title: str, unit: str, query: Query, description: str = "", width: int = 6
) -> stat.Panel:
    """Build a stat panel showing the last value of one query."""
    panel = (
        stat.Panel()
        .title(title)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(4)
    )
    if description:
        panel = panel.description(description)
    for target in _targets([query]):
        panel = panel.with_target(target)
    return panel


def row(title: str) -> dashboard.Row:
    """Build a row that groups the panels added after it."""
    return dashboard.Row(title)


def datasource_variable() -> dashboard.DatasourceVariable:
    """Build the variable that selects the Prometheus data source."""
    return (
        dashboard.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Data source")
        .type("prometheus")
    )


def new_dashboard(uid: str, title: str, tags: list[str]) -> dashboard.Dashboard:
    """Start a dashboard with a fixed uid, the data source variable and the
    same time range and refresh as every other dashboard."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["narrative", *tags])
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("30s")
        .with_variable(datasource_variable())
    )


def to_dict(board: dashboard.Dashboard) -> dict:
    """Return a dashboard as the plain JSON object Grafana provisions.

    Panels built without options get none in the JSON, so Grafana applies its
    defaults instead of reading `"options": null`.
    """
    content = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for panel in content.get("panels", []):
        if panel.get("options") is None:
            panel.pop("options", None)
    return content
