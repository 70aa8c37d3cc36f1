"""Markdown rendering of an analysis, for people and for `?format=markdown`."""

from narrative_analysis.analysis.schemas import (
    DatasetInsights,
    Evidence,
    Finding,
    ModelInsights,
)

_SEVERITY = {"critical": "**critical**", "warning": "warning", "info": "info"}


def render_markdown(
    title: str,
    insights: DatasetInsights | ModelInsights,
    analyzer: str,
    fallback_reason: str | None,
) -> str:
    lines = [f"# {title}", "", insights.summary, ""]
    origin = f"_Written by the {analyzer} analyzer"
    origin += f" ({fallback_reason})._" if fallback_reason else "._"
    lines += [origin, ""]
    _findings(lines, "Key findings", insights.key_findings)
    if isinstance(insights, DatasetInsights):
        _findings(lines, "Data-quality risks", insights.data_quality_risks)
        if insights.recommended_targets:
            lines += ["## Recommended targets", ""]
            for target in insights.recommended_targets:
                lines.append(
                    f"- **{target.column}** ({target.problem_type}): {target.reason}"
                    + _sources(target.evidence)
                )
            lines.append("")
        if insights.recommended_model_types:
            lines += ["## Recommended model types", ""]
            for model in insights.recommended_model_types:
                lines.append(f"- **{model.model_type}**: {model.reason}")
            lines.append("")
    else:
        if insights.prediction_drivers:
            lines += ["## What drives the predictions", ""]
            for driver in insights.prediction_drivers:
                lines.append(
                    f"- **{driver.feature}**: {driver.explanation}"
                    + _sources(driver.evidence)
                )
            lines.append("")
        _findings(lines, "Weak spots", insights.weaknesses)
        _findings(lines, "Data-quality risks", insights.data_quality_risks)
    if insights.next_steps:
        lines += ["## Next steps", ""]
        lines += [f"{i}. {step}" for i, step in enumerate(insights.next_steps, 1)]
        lines.append("")
    return "\n".join(lines)


def _findings(lines: list[str], heading: str, findings: list[Finding]) -> None:
    if not findings:
        return
    lines += [f"## {heading}", ""]
    for finding in findings:
        lines.append(
            f"- {_SEVERITY[finding.severity]}: **{finding.title}**. {finding.detail}"
            + _sources(finding.evidence)
        )
    lines.append("")


def _sources(evidence: list[Evidence]) -> str:
    if not evidence:
        return ""
    cited = ", ".join(f"`{e.source}` = {e.value:g}" for e in evidence)
    return f" _(source: {cited})_"
