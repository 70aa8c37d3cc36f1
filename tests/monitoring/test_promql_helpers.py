"""The query collection and the relaxed form that the live tests rely on."""

import pytest
from promql import relax, split_commented_block, split_promql_blocks, substitute


@pytest.mark.parametrize(
    ("expr", "relaxed"),
    [
        ("up == 0", "up == bool 0"),
        ("x > 0.6", "x > bool 0.6"),
        ("x >= bool 1", "x >= bool 1"),
        ('x{code!="200",le=~"0.+"} < 1', 'x{code!="200",le=~"0.+"} < bool 1'),
        ("a > on(job) group_left b", "a > bool on(job) group_left b"),
        ("max(y offset 1w) < 10", "max(y) < bool 10"),
        (
            'label_replace(up == 0, "a", "<b>", "c", "d")',
            'label_replace(up == bool 0, "a", "<b>", "c", "d")',
        ),
        ("sum(rate(x[5m]))", "sum(rate(x[5m]))"),
    ],
)
def test_relax_cases(expr, relaxed):
    assert relax(expr) == relaxed


def test_split_keeps_multiline_query_whole():
    block = "# rate\nrate(a[5m])\n\n# ratio\nsum(b) /\nsum(c) * 100\n"

    assert split_commented_block(block) == ["rate(a[5m])", "sum(b) / sum(c) * 100"]


def test_split_promql_blocks_read_promql_blocks_only():
    text = "```bash\ncurl x\n```\n```promql\n# one\nup\n# two\nsum(up)\n```\n"

    assert split_promql_blocks(text) == ["up", "sum(up)"]


def test_substitute_grafana_variables():
    expr = 'rate(x{service="$service"}[$__rate_interval]) / ${other}'

    result = substitute(expr, {"service": "inference", "other": "2"})

    assert result == 'rate(x{service="inference"}[1m]) / 2'


def test_substitute_rejects_unknown_variable():
    with pytest.raises(KeyError, match="missing"):
        substitute("x[$missing]", {})
