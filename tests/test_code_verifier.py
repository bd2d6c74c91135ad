"""The code verifier against real attacks by candidate code: each is contained and scores 0."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from rewards import load_scorer
from rewards.code import extract_program, run_tests

code = load_scorer("code")
ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"


def test_right_wrong_and_fenced_programs():
    rows = [{"tests": ADD_TESTS}] * 4
    outs = ["def add(a, b):\n    return a + b", "def add(a, b):\n    return a - b",
            "Here:\n```python\ndef add(a, b):\n    return a + b\n```", "def add(a, b) return"]
    assert code(None, outs, rows) == [1.0, 0.0, 1.0, 0.0]
    assert extract_program("x\n```py\nprint(1)\n```\n") == "print(1)\n"


def test_infinite_loop_is_killed_at_the_time_limit():
    started = time.time()
    assert run_tests("while True:\n    pass", "", timeout_s=1.5) is False
    assert time.time() - started < 10


def test_memory_bomb_is_contained():
    assert run_tests("x = bytearray(8 * 1024 ** 3)\nx[0] = 1", "") is False


def test_fork_bomb_is_contained_and_leaves_no_process():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    assert run_tests(bomb, "", timeout_s=2) is False
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", "candidate.py"], capture_output=True, text=True).stdout.split()
    assert left == []


def test_network_socket_fails():
    attempt = ("import socket\n"
               "s = socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
               "def ok():\n    return True")
    assert run_tests(attempt, "assert ok()") is False
    attempt_out = "import urllib.request\nurllib.request.urlopen('http://pypi.org', timeout=3)"
    assert run_tests(attempt_out, "") is False


def test_writing_outside_its_dir_fails(tmp_path):
    target = tmp_path / "escaped.txt"
    os.chmod(tmp_path, 0o777)  # even a world-writable dir outside the sandbox must stay untouched
    attempt = f"open({str(target)!r}, 'w').write('pwned')"
    assert run_tests(attempt, "") is False or not target.exists()
    assert not target.exists()
    home = Path.home() / "align-escape-test.txt"
    assert run_tests(f"open({str(home)!r}, 'w').write('x')", "") is False
    assert not home.exists()
    run_tests("open('/tmp/align-escape-test.txt', 'w').write('x')", "")
    assert not Path("/tmp/align-escape-test.txt").exists()  # private /tmp inside the sandbox


def test_environment_secrets_are_not_visible(monkeypatch):
    monkeypatch.setenv("ALIGN_TEST_SECRET", "hunter2")
    attempt = "import os\nsecret = os.environ.get('ALIGN_TEST_SECRET')"
    assert run_tests(attempt, "assert secret == 'hunter2'") is False
    proc_read = "secret = open('/proc/1/environ', 'rb').read()"
    assert run_tests(proc_read, "assert b'ALIGN_TEST_SECRET' in secret") is False


def test_scorer_survives_a_batch_of_attacks():
    rows = [{"tests": "assert True"}] * 3
    outs = ["while True: pass", "import os; os._exit(0)", "raise SystemExit(0)"]
    scores = code(None, outs, rows)
    assert scores == [0.0, 0.0, 0.0]  # early exit with status 0 is not a pass


def test_missing_tests_column_is_an_error():
    with pytest.raises(ValueError, match="tests"):
        code(None, ["x"], [{"answer": "1"}])


def test_output_flood_is_capped():
    assert run_tests("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", "", timeout_s=3) is False
