"""bench.parsing runs, and both parsers it times agree on every answer it parses (it exits 1 otherwise)."""

from __future__ import annotations

from bench import parsing


def test_the_parse_benchmark_prints_a_row_per_answer_with_its_baseline(capsys) -> None:
    assert parsing.main(["--repeat", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| Describe")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| DescribeServices (10 services)", "| DescribeServiceDeployments (2)", "| DescribeServiceRevisions (2)"]
    assert all(row.endswith(" x |") and " ms | " in row for row in rows)
