"""The output-file machinery of the CLI (:mod:`jukicard.cli._files`) on its own: path
resolution, the sticky-directory rule, the checks repeated at write time, temporary files.

The tests of a defect of the attack review (finding 1) fail on the code before it, which had
no :class:`~jukicard.cli._files.Outputs` and resolved the path again at write time; the rest
pin down behaviour the commands rely on.  Races are made with a swap between ``plan`` and
``write``, never with sleeps.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from jukicard.cli import _files, _paths
from jukicard.cli._files import Outputs
from jukicard.errors import OutputError, UsageError


def _stat(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((mode, 1, 1, 1, uid, 0, 0, 0, 0, 0))


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- the rule
@pytest.mark.parametrize(("dir_mode", "dir_uid", "link_uid", "follows"), [
    (0o41777, 0, 1000, False),     # /tmp, another user's link
    (0o41777, 0, 0, True),         # /tmp, root's link
    (0o41777, 0, "me", True),      # /tmp, the user's own link
    (0o41777, 1000, 1000, True),   # a shared directory, its owner's link
    (0o40777, 0, 1000, True),      # world-writable, not sticky: not the kernel's case
    (0o41755, 0, 1000, True),      # sticky, not world-writable
])
def test_the_sticky_directory_rule_mirrors_protected_symlinks(
    dir_mode: int, dir_uid: int, link_uid: int | str, follows: bool
) -> None:
    """Finding 1: the kernel's ``fs.protected_symlinks`` rule (off on some machines, and
    bypassed anyway by resolving the path and renaming) is applied by the CLI itself."""
    uid = os.geteuid() if link_uid == "me" else link_uid
    assert isinstance(uid, int)
    if uid == 1000 and os.geteuid() == 1000:
        pytest.skip("the test's foreign uid is the user's own")
    assert _paths.may_follow(_stat(dir_mode, dir_uid), _stat(0o120777, uid)) is follows


# --------------------------------------------------------------------------- resolution
def test_links_and_dots_lead_to_the_file_and_the_links_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    real = tmp_path / "a" / "b" / "real.sig"
    real.write_bytes(b"old")
    (tmp_path / "dirlink").symlink_to("a/b")
    (tmp_path / "a" / "l1").symlink_to("../dirlink/real.sig")
    monkeypatch.chdir(tmp_path / "a")
    with Outputs() as outputs:
        out = outputs.plan("-o", "./b/../l1")
        assert out is not None and out.kind == "replace"
        out.write(b"new")
    assert real.read_bytes() == b"new"
    assert (tmp_path / "a" / "l1").is_symlink() and (tmp_path / "dirlink").is_symlink()


def test_a_dangling_link_creates_its_target(tmp_path: Path) -> None:
    """As before (and as ``open(O_CREAT)`` does): a link to a missing file creates it."""
    (tmp_path / "link.sig").symlink_to("made.sig")
    with Outputs() as outputs:
        out = outputs.plan("-o", str(tmp_path / "link.sig"))
        assert out is not None and out.kind == "new"
        out.write(b"sig")
    assert (tmp_path / "made.sig").read_bytes() == b"sig"


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    loop = "(?i)too many levels of symbolic links"
    with Outputs() as outputs, pytest.raises(UsageError, match=loop):
        outputs.plan("-o", str(tmp_path / "a"))


@pytest.mark.parametrize("path", ["", "dir/", "dir/.", "dir/.."])
def test_a_directory_name_is_refused(tmp_path: Path, path: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dir").mkdir()
    monkeypatch.chdir(tmp_path)
    with Outputs() as outputs, pytest.raises(UsageError):
        outputs.plan("-o", path)
    assert _names(tmp_path) == ["dir"]


# --------------------------------------------------------------------------- plan/write
def test_the_temporary_file_is_made_at_plan_time_and_removed_unused(tmp_path: Path) -> None:
    """Finding 3: the directory is proved writable before the PIN: the temporary file
    exists (0600) once the path is planned, and is gone when the command fails."""
    with pytest.raises(RuntimeError), Outputs() as outputs:
        outputs.plan("-o", str(tmp_path / "x.sig"))
        tmp = list(tmp_path.iterdir())
        assert len(tmp) == 1 and tmp[0].name.startswith(".jukicard-")
        assert stat.S_IMODE(tmp[0].stat().st_mode) == 0o600
        raise RuntimeError("the PIN was wrong")
    assert _names(tmp_path) == []


def test_a_device_link_swapped_for_a_file_is_not_written(tmp_path: Path) -> None:
    """Finding 1, written-through outputs: ``-o link`` with ``link -> /dev/null`` checked,
    then the link repointed at a regular file before the write: the old code wrote (or
    renamed over) whatever the path named at write time.  Now refused, the file intact."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "out"
    link.symlink_to(os.devnull)
    with Outputs() as outputs:
        out = outputs.plan("-o", str(link))
        assert out is not None and out.kind == "stream"
        link.unlink()
        link.symlink_to(victim)
        with pytest.raises(OutputError, match="no longer leads"):
            out.write(b"signature")
    assert victim.read_bytes() == b"keep"


def test_a_replaced_file_swapped_for_another_is_not_written(tmp_path: Path) -> None:
    """Finding 1: the checked file was renamed away and another put in its place: the
    write is refused (the plan held the device and inode), both files intact."""
    sig = tmp_path / "x.sig"
    sig.write_bytes(b"checked")
    with Outputs() as outputs:
        out = outputs.plan("-o", str(sig))
        assert out is not None
        sig.rename(tmp_path / "moved")
        sig.write_bytes(b"planted")
        with pytest.raises(OutputError):
            out.write(b"signature")
    assert sig.read_bytes() == b"planted"
    assert (tmp_path / "moved").read_bytes() == b"checked"
    assert _names(tmp_path) == ["moved", "x.sig"]


def test_a_new_name_taken_after_the_check_is_never_replaced(tmp_path: Path) -> None:
    """Finding 1: a new file is given its name with ``link(2)``, which fails if the name
    appeared after the last check (here: between the check and the link)."""
    (tmp_path / "tmp").write_bytes(b"signature")
    (tmp_path / "x.sig").write_bytes(b"someone else's")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as info:
            _files._link_new("tmp", "x.sig", fd)
    finally:
        os.close(fd)
    assert info.value.errno == errno.EEXIST
    assert (tmp_path / "x.sig").read_bytes() == b"someone else's"


def test_two_outputs_to_one_new_name_are_refused(tmp_path: Path) -> None:
    with Outputs() as outputs:
        outputs.plan("-o", str(tmp_path / "x"))
        with pytest.raises(UsageError, match="name the same file"):
            outputs.plan("--cert-out", str(tmp_path / "." / "x"))
    assert _names(tmp_path) == []


def test_two_outputs_to_dev_null_are_allowed() -> None:
    with Outputs() as outputs:
        first = outputs.plan("-o", os.devnull)
        second = outputs.plan("--cert-out", os.devnull)
        assert first is not None and second is not None
        first.write(b"a")
        second.write(b"b")


def test_an_input_made_into_the_output_after_the_check_is_not_written(tmp_path: Path) -> None:
    """The write checks again that the output is none of the inputs (device and inode)."""
    doc = tmp_path / "doc"
    doc.write_bytes(b"document")
    out_path = tmp_path / "out.sig"
    out_path.write_bytes(b"old")
    with Outputs(inputs=(("FILE", str(doc)),)) as outputs:
        out = outputs.plan("-o", str(out_path))
        assert out is not None
        doc.unlink()
        os.link(out_path, doc)
        with pytest.raises(OutputError, match="FILE file itself"):
            out.write(b"signature")
    assert out_path.read_bytes() == b"old"
