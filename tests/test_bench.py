"""The benchmark script runs end to end at toy sizes. No timing asserts: ``make bench`` measures
against the targets and writes docs/benchmarks.md."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_bench_writes_every_section_and_the_scaling_figure(tmp_path):
    out = tmp_path / "docs" / "benchmarks.md"
    done = bench("--tiny", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for heading in ("Targets", "Machine and software", "How it is measured",
                    "Speed ratio: vectorised against the reference engine", "One system",
                    "The nation", "The physical limit", "Where the time goes", "Scaling",
                    "Memory per manager and per tie", "The command line", "Sweep throughput",
                    "Docking: the vectorised engine against the reference"):
        assert f"\n## {heading}" in text, heading
    assert "](img/scaling.png)" in text
    assert (tmp_path / "docs" / "img" / "scaling.png").stat().st_size > 1000
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)


def test_bench_lists_its_sections_and_refuses_unknown_ones():
    listing = bench("--list")
    assert listing.returncode == 0, listing.stderr[-3000:]
    assert {"speed_ratio", "national", "scaling", "docking", "command_line",
            "sweep_throughput"} <= set(listing.stdout.split())
    refused = bench("--only", "no_such_section")
    assert refused.returncode == 2
    assert "unknown section(s) ['no_such_section']" in refused.stderr


def test_a_failing_benchmark_is_reported_and_only_refreshes_what_it_names(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import run
    from benchmarks.core import Section, Target

    def fine(context):
        return [Section("Fine", "All good.", [Target("fine target", "1 s", "≤ 2 s", True)])]

    def broken(context):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(run, "discover", lambda: None)
    monkeypatch.setattr(run, "SECTIONS", {"fine": (1, fine), "broken": (2, broken)})
    out = tmp_path / "benchmarks.md"
    assert run.main(["--tiny", "--out", str(out)]) == 1
    text = out.read_text()
    assert "## Fine" in text and "| fine target | 1 s | ≤ 2 s | yes |" in text
    assert "## broken: failed" in text and "RuntimeError: broken on purpose" in text

    monkeypatch.setitem(run.SECTIONS, "broken", (2, fine))
    monkeypatch.setitem(run.SECTIONS, "new", (3, fine))
    assert run.main(["--tiny", "--only", "broken", "--out", str(out)]) == 0
    text = out.read_text()
    assert "broken: failed" not in text and "broken on purpose" not in text
    assert text.count("## Fine") == 2  # the kept block and the new one
    assert text.count("| fine target |") == 2
    assert "## new\n\n*Not measured yet: `python -m benchmarks.run --only new`" in text


def test_a_separate_benchmark_is_kept_until_it_is_named(tmp_path, monkeypatch):
    """``make bench`` leaves the long sweep benchmark to ``make bench-sweep`` (``--only``)."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import run
    from benchmarks.core import Section

    calls = []

    def quick(context):
        calls.append("quick")
        return [Section("Quick", "fast")]

    def long(context):
        calls.append("long")
        return [Section("Long", f"slow, measured {len(calls)}")]

    monkeypatch.setattr(run, "discover", lambda: None)
    monkeypatch.setattr(run, "SECTIONS", {"quick": (1, quick), "long": (2, long)})
    monkeypatch.setattr(run, "SEPARATE", {"long"})
    out = tmp_path / "benchmarks.md"
    assert run.main(["--out", str(out)]) == 0
    assert calls == ["quick"] and "## long\n\n*Not measured yet" in out.read_text()
    assert run.main(["--only", "long", "--out", str(out)]) == 0
    assert calls == ["quick", "long"] and "slow, measured 2" in out.read_text()
    assert run.main(["--out", str(out)]) == 0
    assert calls == ["quick", "long", "quick"] and "slow, measured 2" in out.read_text()
