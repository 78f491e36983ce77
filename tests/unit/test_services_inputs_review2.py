"""Second independent review of issue 8, finding 5: input files opened without
``O_NONBLOCK``.  ``mkfifo f; jk mynumber --emulated --issuer-key f`` and ``jk cert verify f
--anchor f`` hung waiting for a writer.  Every input file is now opened without blocking
and must be a regular file; anything else is refused with exit 2 naming option and path.

The FIFO cases run in a child process: on the old code they block in ``open()``, and the
child's timeout (a hang guard, not a timed assertion) turns that into a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_defects import PACKAGE_PARENT, PKI, TIMEOUT, process

from jukicard.errors import UsageError
from jukicard.services import inputs

_LIBRARY_CALLS = """
import json, sys
from jukicard.errors import UsageError
from jukicard.services import inputs
from jukicard.services.signing import sign_file
path = sys.argv[1]
calls = {
    "read_input": lambda: inputs.read_input(path, option="--crl", what="CRL", limit=1024),
    "hash_file": lambda: inputs.hash_file(path, "sha256", option="FILE"),
    "load_issuer_key": lambda: inputs.load_issuer_key(path),
    "open_input": lambda: inputs.open_input(path, option="FILE").__enter__(),
    "sign_file": lambda: sign_file(object(), object(), path),
}
out = {}
for name, call in calls.items():
    try:
        call()
        out[name] = "read"
    except UsageError as exc:
        out[name] = [getattr(exc, "option", None), getattr(exc, "path", None), str(exc)]
print(json.dumps(out))
"""


def _fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    return fifo


def test_the_library_refuses_a_fifo_without_waiting(tmp_path: Path) -> None:
    """Old code: each of these blocked in ``open()`` until a writer came."""
    fifo = _fifo(tmp_path)
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    try:
        proc = subprocess.run([sys.executable, "-c", _LIBRARY_CALLS, str(fifo)],
                              capture_output=True, env=env, timeout=TIMEOUT, check=False,
                              cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("opening a FIFO as an input hung")
    assert proc.returncode == 0, proc.stderr.decode()
    results = json.loads(proc.stdout)
    for name, (option, path, message) in results.items():
        assert path == str(fifo), name
        assert "is not a regular file" in message and option in message, name


@pytest.mark.parametrize("argv", [
    ("mynumber", "--emulated", "--pin-stdin", "--issuer-key", "{f}"),
    ("cert", "verify", "{f}", "--anchor", "{f}"),
    ("cert", "verify", str(PKI / "ee/r1-sign.cer"), "--anchor", "{f}"),
], ids=["issuer-key", "cert", "anchor"])
def test_the_cli_refuses_a_fifo_with_exit_2_naming_option_and_path(
        tmp_path: Path, argv: tuple[str, ...]) -> None:
    """Old code: the command hung (the child's hang guard fails the test)."""
    fifo = _fifo(tmp_path)
    try:
        proc = process(*(a.format(f=fifo) for a in argv), "--json", cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("reading a FIFO input hung")
    assert proc.returncode == 2, proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert error["path"] == str(fifo)
    assert error["option"] in ("--issuer-key", "CERT", "--anchor")
    assert "is not a regular file" in error["message"]


def test_a_device_is_refused_before_it_is_read() -> None:
    """Old code: ``/dev/zero`` was read up to the limit; now refused as not a regular
    file before anything is read (``/dev/null`` too: it used to read as empty)."""
    for device in ("/dev/zero", "/dev/null"):
        with pytest.raises(UsageError, match="is not a regular file"):
            inputs.read_input(device, option="--crl", what="CRL", limit=16)
        with pytest.raises(UsageError, match="is not a regular file"):
            inputs.hash_file(device, "sha256", option="FILE")


def test_a_link_to_a_regular_file_is_read(tmp_path: Path) -> None:
    """A symbolic link to a regular file is an ordinary input (unchanged)."""
    target = tmp_path / "crl"
    target.write_bytes(b"x" * 8)
    link = tmp_path / "link"
    link.symlink_to(target)
    assert inputs.read_input(link, option="--crl", what="CRL", limit=8) == b"x" * 8
    with inputs.open_input(link, option="FILE") as fh:
        assert fh.read() == b"x" * 8
