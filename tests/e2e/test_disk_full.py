"""A full disk mid-run (issue 28, finding 11): one line naming the stage and what to do, exit 2, the finished
stages kept, and the same command finishes the run once there is room. Run in a private mount namespace on a
3 MB tmpfs (needs root and `unshare`)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare to mount a small tmpfs"
)


def test_a_full_disk_is_one_line_and_the_same_command_resumes(tmp_path):
    run = (
        f"{sys.executable} cli.py run sft --smoke --run-dir {tmp_path}/disk/run tracking=none data.verifiable=null "
        "stages.eval_sft=null"
    )
    script = f"""
mkdir -p {tmp_path}/disk && mount -t tmpfs -o size=3m tmpfs {tmp_path}/disk
{run} > {tmp_path}/full.txt 2>&1; echo $? > {tmp_path}/full.rc
ls {tmp_path}/disk/run > {tmp_path}/kept.txt
mount -o remount,size=200m {tmp_path}/disk
{run} > {tmp_path}/room.txt 2>&1; echo $? > {tmp_path}/room.rc
"""
    subprocess.run(["unshare", "--mount", "sh", "-c", script], cwd=ROOT, check=True, timeout=600)
    full = [line for line in (tmp_path / "full.txt").read_text().splitlines() if line.startswith("error")]
    assert (tmp_path / "full.rc").read_text().strip() == "2"
    assert full == [
        f"error: stage 'sft': no space left on the device holding {tmp_path}/disk/run: free some space and run the "
        "same command again (finished stages are kept)"
    ]
    assert "Traceback" not in (tmp_path / "full.txt").read_text()
    assert (tmp_path / "room.rc").read_text().strip() == "0", (tmp_path / "room.txt").read_text()
    rows = {
        cells[0]: cells[1]
        for line in (tmp_path / "room.txt").read_text().splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) > 2
    }
    assert (rows["eval_base"], rows["sft"]) == ("skipped", "ran")
