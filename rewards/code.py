"""`code`: run a candidate program against its tests in a sandboxed subprocess; 1.0 iff all pass.

Containment, layer by layer (anything the candidate does wrong is a 0 score, never a crash of the run):
- a fresh temp working dir, deleted afterwards; a clean environment (no inherited secrets);
- rlimits: address space (memory bomb), CPU seconds, file size, open files, and process count;
- a wall-time limit: the whole process group is killed when it runs out (infinite loop);
- with root (or user namespaces): new network namespace (no network), new PID namespace (every process
  dies with the sandbox: fork bomb), new mount namespace where /tmp, /var/tmp and /dev/shm are private
  tmpfs; as root the program also runs as `nobody`, so it cannot write anywhere outside its dir.
The row's `tests` is Python code (asserts) or a list of such lines, run after the candidate in the same
namespace. A pass needs the harness to finish and echo a one-time token it read from stdin, so a program
that exits early with status 0 (`sys.exit(0)`, `os._exit(0)`) does not pass. (A deliberately adversarial
program could still dig the token out of the harness's frames; this guards against reward hacking by
accident, not against an attacker who targets this harness.)
"""
from __future__ import annotations

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

NOBODY = 65534
FENCE = re.compile(r"```(?:python|py)?\n(.*?)```", re.S)
HARNESS = """import sys
def main():
    expected = sys.stdin.readline().strip()
    sys.stdin.close()
    namespace = {"__name__": "__main__"}
    try:
        for path in ("candidate.py", "tests.py"):
            with open(path) as f:
                exec(compile(f.read(), path, "exec"), namespace)
    except BaseException:
        sys.exit(1)
    sys.stdout.write("\\n" + expected + "\\n")
main()
"""


def extract_program(completion: str) -> str:
    """The last fenced code block if there is one, else the completion as it is."""
    blocks = FENCE.findall(completion)
    return blocks[-1] if blocks else completion


def limits(memory_mb: int, cpu_s: int, nproc: int):
    import resource

    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def sandbox_prefix(workdir: Path) -> tuple[list[str], str]:
    """The namespace wrapper available here, and the Python the candidate runs with."""
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("setpriv"):
        os.chown(workdir, NOBODY, NOBODY)
        mounts = "; ".join(f"mount -t tmpfs -o size=16m tmpfs {d}" for d in ("/tmp", "/var/tmp", "/dev/shm")
                           if os.path.isdir(d))
        python = os.environ.get("ALIGN_SANDBOX_PYTHON", shutil.which("python3", path="/usr/bin:/bin") or "python3")
        script = (f"{mounts}; cd {workdir} && exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups "
                  f"--no-new-privs {python} -I -S harness.py")
        return ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", script], python
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-rn", "--pid", "--fork", "--kill-child", sys.executable, "-I", "-S", "harness.py"], ""
    return [sys.executable, "-I", "-S", "harness.py"], ""  # rlimits and a clean env only


def sandbox_base() -> str | None:
    """Where working dirs go: not under /tmp, which the sandbox replaces by a private tmpfs."""
    base = os.environ.get("ALIGN_SANDBOX_DIR") or ("/var/lib/align-sandbox" if os.geteuid() == 0 else None)
    if base:
        os.makedirs(base, mode=0o755, exist_ok=True)
    return base


def run_tests(program: str, tests, timeout_s: float = 5.0, memory_mb: int = 512) -> bool:
    test_code = tests if isinstance(tests, str) else "\n".join(tests)
    workdir = Path(tempfile.mkdtemp(prefix="align-code-", dir=sandbox_base()))
    try:
        (workdir / "candidate.py").write_text(program)
        (workdir / "tests.py").write_text(test_code)
        (workdir / "harness.py").write_text(HARNESS)
        command, _ = sandbox_prefix(workdir)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"}
        token = secrets.token_hex(16)
        output = tempfile.TemporaryFile()  # a file, not a pipe: RLIMIT_FSIZE caps what it can print
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.PIPE,
                                stdout=output, stderr=subprocess.DEVNULL,
                                preexec_fn=limits(memory_mb, int(timeout_s) + 1, 64))
        try:
            proc.communicate(input=(token + "\n").encode(), timeout=timeout_s)
            output.seek(max(0, os.fstat(output.fileno()).st_size - 256))
            return proc.returncode == 0 and output.read().decode(errors="replace").rstrip().endswith(token)
        except subprocess.TimeoutExpired:
            return False
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            output.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def score(prompts, completions, rows, timeout_s: float = 5.0, workers: int = 2) -> list[float]:
    """Scorer interface: needs a `tests` column."""
    for row in rows:
        if "tests" not in row:
            raise ValueError("the code verifier needs a 'tests' column")
    jobs = [(extract_program(c), r["tests"]) for c, r in zip(completions, rows)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [float(ok) for ok in pool.map(lambda job: run_tests(*job, timeout_s=timeout_s), jobs)]
