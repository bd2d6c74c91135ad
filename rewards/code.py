"""`code`: does a candidate program pass its tests? Scored 1.0 or 0.0, decided outside the sandbox.

The expected results never enter the sandbox. The candidate runs in a sandboxed server process
(`code_server.py`) that only executes the program and answers calls to its functions. The tests and their
expected values stay with a trusted judge process (`code_judge.py`), which calls the candidate through the
server and compares the values here. No token, tests file or exit code can be forged into a pass.
Test formats (the row's `tests`):
- MBPP-style asserts: a string of Python or a list of lines, e.g. `assert add(2, 3) == 5`;
- HumanEval: code defining `check(candidate)`, with the row's `entry_point` naming the function;
- stdin/stdout cases (APPS, CodeContests): `{"inputs": [...], "outputs": [...]}` or `[{"input", "output"}, ...]`.
  The program runs once per case with the input on stdin; its output is compared here (trailing whitespace and
  blank lines ignored).
Containment (`code_launcher.py`): each program runs in a fresh root that holds only its own files (on a
size-limited tmpfs) and the read-only Python runtime without site-packages; new mount, PID, network, IPC and UTS
namespaces; as root, a random uid per sample; no_new_privs, rlimits (memory, CPU, processes, file size, open
files), a wall-time limit and a clean environment. Without root, a user namespace gives the same with the user's
uid. Where neither works the scorer refuses to run unless the recipe says `isolation: none`
(`code_isolation.py`). Every process of a sample dies with its scorer, however the scorer ends, and nothing of a
sample is written to the host's disk.
Known limits: values crossing the boundary are plain data (None, bool, numbers, str, bytes, list, tuple, set,
dict), so tests that pass callables or mutate arguments in place cannot be judged; calls take positional
arguments only.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from align.data.formats import stdio_cases, tests_problem
from rewards.code_isolation import launch_header, launcher_command, require_isolation
from rewards.code_limits import die_with_parent, sandbox_limits, stop

HERE = Path(__file__).resolve().parent
FENCE = re.compile(r"```(?:python|py)?\n(.*?)```", re.S)


def extract_program(completion: str) -> str:
    """The last fenced code block if there is one, else the completion as it is."""
    blocks = FENCE.findall(completion)
    return blocks[-1] if blocks else completion


@functools.cache
def script(*names: str) -> str:
    """A standalone script: the value protocol followed by `names`' sources (run with python -I: no imports)."""
    return "\n\n".join((HERE / name).read_text() for name in ("code_protocol.py", *names))


@functools.cache
def judge_command() -> list[str]:
    """The judge runs from its source (`-c`): no script file exists to be left behind."""
    return [sys.executable, "-I", "-c", script("code_limits.py", "code_judge.py")]


def sample_uid() -> int:
    """As root, each sample runs as a uid no other sample has, so concurrent samples cannot signal each other."""
    return 100_000 + secrets.randbelow(2**30)


def run_process(command: list[str], stdin: bytes, timeout_s: float, preexec, cap: int = 1 << 20) -> tuple:
    """Run with a wall-time limit; kill its whole process group after. Output read from a file (capped).
    `preexec` puts it in its own session and kills it when this thread dies (kill -9 of `align` included)."""
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            command,
            cwd="/",
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            preexec_fn=preexec,
        )
        try:
            proc.communicate(input=stdin, timeout=timeout_s)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
        finally:
            stop(proc)
        output.seek(0)
        return code, output.read(cap)


@dataclass(frozen=True)
class Limits:
    """What one program may use: wall time, memory, disk (its tmpfs), and how it is isolated."""

    timeout_s: float = 5.0
    memory_mb: int = 512
    disk_mb: int = 16
    isolation: str = "namespace"

    def header(self, program: str, entry: str) -> bytes:
        files = {"candidate.py": program, "server.py": script("code_server.py")}
        return launch_header(files, entry, self.isolation, sample_uid(), self.disk_mb)


def judge_assert_tests(program: str, tests: str, entry_point: str | None, limits: Limits) -> tuple[bool, str]:
    """asserts / check(candidate) tests: the trusted judge process calls the sandboxed candidate."""
    job = {
        "mode": "check" if entry_point else "asserts",
        "tests": tests,
        "program": program,
        "entry_point": entry_point,
        "command": launcher_command(),
        "header": limits.header(program, "server.py").decode("ascii"),
        "timeout_s": limits.timeout_s,
        "memory_mb": limits.memory_mb,
        "nproc": 64,
    }
    code, out = run_process(judge_command(), json.dumps(job).encode(), limits.timeout_s + 10, die_with_parent)
    try:
        verdict = json.loads(out.decode("utf-8").strip().splitlines()[-1])
        return bool(verdict["passed"]) and code == 0, str(verdict["reason"])
    except (ValueError, IndexError, KeyError):
        return False, "the judge gave no verdict (time limit)" if code is None else "the judge failed"


def normalise_output(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def judge_stdio_tests(program: str, cases: list[tuple[str, str]], limits: Limits) -> tuple[bool, str]:
    """stdin/stdout cases: each runs in a fresh sandbox with the input on stdin; its output is compared here."""
    for index, (given, expected) in enumerate(cases):
        code, out = run_process(
            launcher_command(),
            limits.header(program, "candidate.py") + given.encode(),
            limits.timeout_s,
            sandbox_limits(limits.memory_mb, int(limits.timeout_s) + 1),
        )
        if code != 0:
            return False, f"case {index + 1}: " + ("time limit" if code is None else f"exit status {code}")
        if normalise_output(out.decode("utf-8", errors="replace")) != normalise_output(expected):
            return False, f"case {index + 1}: wrong output"
    return True, "passed"


def run_tests(program: str, tests, entry_point: str | None = None, **limits) -> bool:
    """True iff the program passes every test (see the module docstring for the formats)."""
    return judge(program, tests, entry_point, Limits(**limits))[0]


def judge(program: str, tests, entry_point: str | None = None, limits: Limits = Limits()) -> tuple[bool, str]:
    """(passed, reason) for one program. Tests that could not fail any program are an error, never a pass."""
    problem = tests_problem(tests)
    if problem:
        raise ValueError(problem)
    require_isolation(limits.isolation)
    cases = stdio_cases(tests)
    if cases is not None:
        return judge_stdio_tests(program, cases, limits)
    text = "\n".join(tests) if isinstance(tests, list) else tests
    return judge_assert_tests(program, text, entry_point, limits)


def score(prompts, completions, rows, workers: int = 2, **limits) -> list[float]:
    """Scorer interface: needs a `tests` column (and `entry_point` for HumanEval's check functions)."""
    for index, row in enumerate(rows):
        problem = "the code verifier needs a 'tests' column" if "tests" not in row else tests_problem(row["tests"])
        if problem:
            raise ValueError(f"row {index + 1}: {problem}")
    require_isolation(Limits(**limits).isolation)
    jobs = [(extract_program(c), r["tests"], r.get("entry_point")) for c, r in zip(completions, rows)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [float(ok) for ok in pool.map(lambda job: run_tests(*job, **limits), jobs)]
