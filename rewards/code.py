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
Containment: each sample has its own dir (mode 0700) and, as root, its own random uid, so concurrent samples
cannot touch each other. Other layers: no network, a private PID namespace with its own /proc, private /tmp,
/var/tmp and /dev/shm, rlimits (memory, CPU, processes, file size, open files), a wall-time limit, and a clean
environment. Without root, user namespaces give the same except the per-sample uid: samples then share the
user's uid.
Known limits: values crossing the boundary are plain data (None, bool, numbers, str, bytes, list, tuple, set,
dict), so tests that pass callables or mutate arguments in place cannot be judged; calls take positional
arguments only.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from align.data.formats import stdio_cases
from rewards.code_limits import sandbox_limits

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


@functools.lru_cache(maxsize=1)
def judge_script() -> Path:
    """The judge's script, written once per process into a private dir (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="align-judge-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "judge.py"
    path.write_text(script("code_limits.py", "code_judge.py"))
    return path


def sandbox_base() -> str | None:
    """Where sample dirs go: not under /tmp, which the sandbox replaces by a private tmpfs."""
    base = os.environ.get("ALIGN_SANDBOX_DIR") or ("/var/lib/align-sandbox" if os.geteuid() == 0 else None)
    if base:
        os.makedirs(base, mode=0o755, exist_ok=True)
    return base


@functools.lru_cache(maxsize=1)
def user_namespaces() -> bool:
    """Whether this machine lets an unprivileged user make the namespaces (asked once per process)."""
    return (
        bool(shutil.which("unshare"))
        and subprocess.run(
            ["unshare", "-rn", "--mount", "--pid", "--fork", "--mount-proc", "true"], capture_output=True
        ).returncode
        == 0
    )


def sandbox_command(workdir: Path, uid: int | None, entry: str) -> list[str]:
    """How to run `python entry` in `workdir`, sandboxed as well as this machine allows."""
    if uid is not None:
        mounts = "; ".join(
            f"mount -t tmpfs -o size=16m tmpfs {d}" for d in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(d)
        )
        python = os.environ.get("ALIGN_SANDBOX_PYTHON", shutil.which("python3", path="/usr/bin:/bin") or "python3")
        inner = (
            f"{mounts}; cd {workdir} && exec setpriv --reuid={uid} --regid={uid} --clear-groups "
            f"--no-new-privs {python} -I -S {entry}"
        )
        return ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "sh", "-c", inner]
    if user_namespaces():
        return [
            "unshare",
            "-rn",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            sys.executable,
            "-I",
            "-S",
            entry,
        ]
    return [sys.executable, "-I", "-S", entry]  # rlimits and a clean env only


class SampleDir:
    """A fresh dir only this sample can enter: mode 0700 and, as root, owned by a uid no other sample has."""

    def __init__(self, program: str):
        self.path = Path(tempfile.mkdtemp(prefix="align-code-", dir=sandbox_base()))
        root = os.geteuid() == 0 and shutil.which("unshare") and shutil.which("setpriv")
        self.uid = 100_000 + secrets.randbelow(2**30) if root else None
        (self.path / "candidate.py").write_text(program)
        (self.path / "server.py").write_text(script("code_server.py"))
        if self.uid is not None:
            for item in (self.path, self.path / "candidate.py", self.path / "server.py"):
                os.chown(item, self.uid, self.uid)
        os.chmod(self.path, 0o700)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def run_process(
    command: list[str], stdin: bytes, timeout_s: float, cwd: Path, cap: int = 1 << 20, preexec=None
) -> tuple[int | None, bytes]:
    """Run with a wall-time limit; kill its whole process group after. Output read from a file (capped)."""
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd)},
            preexec_fn=preexec,
            start_new_session=preexec is None,
        )
        try:
            proc.communicate(input=stdin, timeout=timeout_s)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        output.seek(0)
        return code, output.read(cap)


def judge_assert_tests(
    program: str, tests: str, entry_point: str | None, timeout_s: float, memory_mb: int
) -> tuple[bool, str]:
    """asserts / check(candidate) tests: the trusted judge process calls the sandboxed candidate."""
    with SampleDir(program) as sample:
        job = {
            "mode": "check" if entry_point else "asserts",
            "tests": tests,
            "entry_point": entry_point,
            "command": sandbox_command(sample.path, sample.uid, "server.py"),
            "workdir": str(sample.path),
            "timeout_s": timeout_s,
            "memory_mb": memory_mb,
            "nproc": 64,
        }
        code, out = run_process(
            [sys.executable, "-I", str(judge_script())], json.dumps(job).encode(), timeout_s + 10, sample.path.parent
        )
    try:
        verdict = json.loads(out.decode("utf-8").strip().splitlines()[-1])
        return bool(verdict["passed"]) and code == 0, str(verdict["reason"])
    except (ValueError, IndexError, KeyError):
        return False, "the judge gave no verdict (time limit)" if code is None else "the judge failed"


def normalise_output(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def judge_stdio_tests(program: str, cases: list[tuple[str, str]], timeout_s: float, memory_mb: int) -> tuple[bool, str]:
    """stdin/stdout cases: the sandbox gets each input; its output is compared here, outside."""
    with SampleDir(program) as sample:
        command = sandbox_command(sample.path, sample.uid, "candidate.py")
        for index, (given, expected) in enumerate(cases):
            code, out = run_process(
                command, given.encode(), timeout_s, sample.path, preexec=sandbox_limits(memory_mb, int(timeout_s) + 1)
            )
            if code != 0:
                return False, f"case {index + 1}: " + ("time limit" if code is None else f"exit status {code}")
            if normalise_output(out.decode("utf-8", errors="replace")) != normalise_output(expected):
                return False, f"case {index + 1}: wrong output"
    return True, "passed"


def run_tests(
    program: str, tests, timeout_s: float = 5.0, memory_mb: int = 512, entry_point: str | None = None
) -> bool:
    """True iff the program passes every test (see the module docstring for the formats)."""
    return judge(program, tests, timeout_s, memory_mb, entry_point)[0]


def judge(
    program: str, tests, timeout_s: float = 5.0, memory_mb: int = 512, entry_point: str | None = None
) -> tuple[bool, str]:
    """(passed, reason) for one program."""
    cases = stdio_cases(tests)
    if cases is not None:
        return judge_stdio_tests(program, cases, timeout_s, memory_mb)
    if isinstance(tests, list) and all(isinstance(t, str) for t in tests):
        tests = "\n".join(tests)
    if not isinstance(tests, str):
        raise ValueError(
            "'tests' must be Python asserts (a string or a list of lines), a HumanEval check "
            "function with an `entry_point`, or stdin/stdout cases"
        )
    return judge_assert_tests(program, tests, entry_point, timeout_s, memory_mb)


def score(prompts, completions, rows, timeout_s: float = 5.0, workers: int = 2) -> list[float]:
    """Scorer interface: needs a `tests` column (and `entry_point` for HumanEval's check functions)."""
    for row in rows:
        if "tests" not in row:
            raise ValueError("the code verifier needs a 'tests' column")
    jobs = [(extract_program(c), r["tests"], r.get("entry_point")) for c, r in zip(completions, rows)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [
            float(ok)
            for ok in pool.map(lambda job: run_tests(job[0], job[1], timeout_s=timeout_s, entry_point=job[2]), jobs)
        ]
