"""``jukicard operator vein evaluate`` in-process on the REAL simulated device (the
``jukicard-vein-sim`` distribution, admitted by the shipped allow-list): the 10-subject
smoke version of the issue-12 evaluation, and its typed refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jukicard.cli.main import main
from jukicard.operator.plugins import default_allow_list, installed

pytestmark = pytest.mark.skipif(
    not any(p.name == "sim" for p in installed("jukicard.vein.devices")),
    reason="jukicard-vein-sim is not installed (pip install -e drivers/jukicard-vein-sim)")


def test_smoke_evaluation_on_the_clean_preset(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """10 subjects x 4 captures, one worker: figures labelled simulated, the clean preset
    has no false non-match at the development set's zero-FMR threshold (the issue's
    functional target), the files are written and the configuration hash is reproducible."""
    argv = ["operator", "vein", "evaluate", "--preset", "clean", "--subjects", "10",
            "--captures", "4", "--workers", "1", "--json", "--out", str(tmp_path / "a")]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["simulated"] is True and "synthetic" in figures["note"]
    ev = figures["eval"]
    assert ev["counts"]["genuine_trials"] == 5 and ev["counts"]["impostor_trials"] == 20
    assert ev["operating_points"]["zero_fmr"]["fnmr"]["errors"] == 0
    assert 0.0 <= ev["eer"] <= 1.0
    assert (tmp_path / "a" / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "a" / "det.csv").read_text(encoding="utf-8").count("\n") > 1
    assert json.loads((tmp_path / "a" / "results.json").read_text())["config_hash"] == \
        figures["config_hash"]
    assert main([*argv[:-1], str(tmp_path / "b")]) == 0  # same inputs, same figures
    again = json.loads(capsys.readouterr().out)
    assert again["config_hash"] == figures["config_hash"] and again["eval"] == ev


def test_unknown_device_plugin_is_a_usage_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["operator", "vein", "evaluate", "--device", "nope", "--subjects", "4",
                 "--captures", "4", "--json", "--out", str(tmp_path)])
    assert code == 2
    assert "no plugin 'nope'" in capsys.readouterr().err


def test_a_device_not_on_the_allow_list_is_refused(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The evaluation loads the device through the allow-list like enrol/verify do."""
    allow = tmp_path / "allow.toml"
    allow.write_text('[[device]]\nname = "sim"\ndistribution = "jukicard-vein-sim"\n'
                     'version = "0.0.0-not-installed"\n', encoding="utf-8")
    code = main(["operator", "vein", "evaluate", "--allow-list", str(allow), "--subjects",
                 "4", "--captures", "4", "--out", str(tmp_path / "o")])
    assert code == 2 and "not on the allow-list" in capsys.readouterr().err
    assert default_allow_list().for_group("jukicard.vein.devices", "sim")


def test_an_unwritable_output_directory_is_refused_before_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review finding: ``--out`` under a regular file (or anywhere unwritable) ran the
    whole evaluation, then died with a bare ``NotADirectoryError`` (exit 1).  Fails on the
    old code (exit 1)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    code = main(["operator", "vein", "evaluate", "--subjects", "4", "--captures", "4",
                 "--workers", "1", "--out", str(blocker / "out")])
    assert code == 2 and "cannot be written" in capsys.readouterr().err


def test_the_evaluation_size_is_bounded(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Review finding: ``--subjects 10000`` (about 10^8 comparisons and gigabytes of scores
    at 10 captures) and ``--workers 256`` were accepted.  Fails on the old code (the option
    ranges allowed them; here they are refused before any work)."""
    for option, value in (("--subjects", "1001"), ("--workers", "65")):
        code = main(["operator", "vein", "evaluate", option, value, "--out",
                     str(tmp_path / "o")])
        assert code == 2 and option in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
