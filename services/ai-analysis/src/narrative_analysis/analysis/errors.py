"""Errors the analysis routes return."""

from narrative_common.errors import NotFoundError


class AnalysisNotFoundError(NotFoundError):
    code = "analysis_not_found"

    def __init__(self, analysis_id: str) -> None:
        super().__init__(
            f"Analysis {analysis_id} was not found. List your analyses with "
            "GET /api/v1/analysis."
        )
