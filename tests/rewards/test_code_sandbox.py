"""The code sandbox as an allowlist: a candidate sees only its own dir and the read-only runtime, writes nowhere on
the host, and nothing of it outlives its scorer. Run as root and under an unprivileged uid (65534)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from align.errors import AlignError
from rewards import make_scorer
from rewards.code import judge, run_tests
from rewards.code_isolation import DEVICES, launch_header, launcher_command, runtime, sandbox_python

ROOT = Path(__file__).resolve().parents[2]
ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"
SYSTEM_PYTHON = "/usr/bin/python3.11"
WALK = r"""
import json, os
seen = []
for folder, dirs, files in os.walk("/"):
    seen += [os.path.join(folder, f) for f in files]
    seen += [os.path.join(folder, d) for d in dirs if os.path.islink(os.path.join(folder, d))]
print(json.dumps(seen))
"""


def nobody_can_run(python: str) -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None and os.access(python, os.X_OK)


USERS = [
    "root",
    pytest.param(
        "nobody",
        marks=pytest.mark.skipif(not nobody_can_run(SYSTEM_PYTHON), reason=f"needs root, setpriv and {SYSTEM_PYTHON}"),
    ),
]


def run_isolated(program: str, user: str, monkeypatch, disk_mb: int = 16) -> tuple[dict, str]:
    """Run `program` through the launcher as `user`; (its runtime plan, its stdout)."""
    command = launcher_command()
    if user == "nobody":  # the user's own python is under /root (0700): nobody runs the system's
        monkeypatch.setenv("ALIGN_SANDBOX_PYTHON", SYSTEM_PYTHON)
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *launcher_command()]
    header = launch_header({"program.py": program}, "program.py", "namespace", 123_457, disk_mb)
    done = subprocess.run(command, input=header, capture_output=True, cwd="/", timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return runtime(sandbox_python()), done.stdout.decode()


def allowed(path: str, plan: dict) -> bool:
    if path.startswith(("/sandbox/", "/tmp/")) or path in DEVICES:
        return True
    if any(path == h or path.startswith(h + "/") for h in plan["hidden"]):
        return False
    return any(path == r or path.startswith(r + "/") for r in plan["read_only"])


@pytest.mark.parametrize("user", USERS)
def test_a_candidate_walking_the_root_finds_only_its_dir_and_the_read_only_runtime(user, monkeypatch):
    plan, out = run_isolated(WALK, user, monkeypatch)
    seen = json.loads(out)
    assert "/sandbox/program.py" in seen
    assert sum(p.endswith("/os.py") for p in seen) == 1  # the walk did reach the standard library
    assert [p for p in seen if not allowed(p, plan)] == []
    for host_path in ("/etc/passwd", str(ROOT / "README.md"), "/proc/self/environ", sys.executable + "-not"):
        assert host_path not in seen
    assert not any("site-packages" in p or "dist-packages" in p for p in seen)


@pytest.mark.parametrize("user", USERS)
def test_writes_stay_in_the_sandbox_and_its_disk_is_bounded(user, monkeypatch, tmp_path):
    marker = f"align-write-{os.getpid()}"
    targets = [f"/run/lock/{marker}", f"/var/lib/align-sandbox/{marker}", f"/dev/shm/{marker}", str(tmp_path / marker)]
    program = f"""
import os
wrote = []
for path in {targets!r}:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write("x")
        wrote.append(path)
    except OSError:
        pass
try:
    open({os.path.dirname(os.__file__) + "/os.py"!r}, "a").write("# pwned")
    wrote.append("stdlib")
except OSError:
    pass
total = 0
try:
    for i in range(200):
        with open(f"/tmp/fill{{i}}", "wb") as f:
            f.write(b"x" * (1 << 20))
        total += 1
except OSError:
    pass
print(wrote, total)
"""
    os.chmod(tmp_path, 0o777)  # world-writable on the host: still out of reach
    _, out = run_isolated(program, user, monkeypatch, disk_mb=8)
    wrote, total = out.rsplit(" ", 1)
    assert "stdlib" not in wrote
    assert int(total) <= 8  # 1 MB files into an 8 MB tmpfs
    assert [t for t in targets if os.path.exists(t)] == []


def test_a_wrong_program_cannot_read_the_answer_from_host_files(tmp_path):
    """The issue's attack: `add` greps every readable file for `assert add(2, 3) == N` and returns N."""
    attack = r"""
import os, re
def add(a, b):
    for folder, _, files in os.walk("/"):
        for name in files:
            try:
                found = re.search(r"assert add\(%d, %d\) == (-?\d+)" % (a, b), open(os.path.join(folder, name)).read())
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            if found:
                return int(found.group(1))
"""
    (tmp_path / "dataset.jsonl").write_text(json.dumps({"tests": ADD_TESTS}))
    assert judge("def leak():\n    return open('/etc/passwd').read()[:4]\n", "assert leak() == 'root'")[0] is False
    assert run_tests(attack, ADD_TESTS) is False
    planted = attack + "open('answers.txt', 'w').write(" + repr(ADD_TESTS) + ")\n"
    assert run_tests(planted, ADD_TESTS) is True  # the search works: a copy in its own dir is found


@pytest.mark.parametrize("isolation", ["namespace", "none"])
def test_kill_9_of_the_scorer_leaves_no_process_and_no_file(isolation, tmp_path):
    before = set(os.listdir("/tmp")) | set(
        os.listdir("/var/lib/align-sandbox") if os.path.isdir("/var/lib/align-sandbox") else []
    )
    scorer = (
        "from rewards import make_scorer\n"
        f"score = make_scorer({{'name': 'code', 'isolation': {isolation!r}, 'timeout_s': 60}})\n"
        "program = 'import time\\ndef add(a, b):\\n    time.sleep(60)\\n    return a + b'\n"
        f"score(None, [program] * 2, [{{'tests': {ADD_TESTS!r}}}] * 2)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", scorer], cwd=ROOT)
    markers = ["-S server.py", "Starts one candidate program", "The judge, a trusted process"]
    deadline = time.time() + 60
    while not running(markers[0]) and time.time() < deadline:
        time.sleep(0.2)
    assert running(markers[0]), "the candidates never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while any(running(m) for m in markers) and time.time() < deadline:
        time.sleep(0.1)
    assert [m for m in markers if running(m)] == []
    after = set(os.listdir("/tmp")) | set(
        os.listdir("/var/lib/align-sandbox") if os.path.isdir("/var/lib/align-sandbox") else []
    )
    assert sorted(n for n in after - before if n.startswith("align-")) == []


def running(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True).returncode == 0


def test_without_namespaces_the_scorer_refuses_unless_told_isolation_none():
    """A user namespace whose limit allows no further namespace: the machine the issue describes (no root, no user
    namespaces). The probe fails for real there, so the scorer refuses, naming the opt-in and what it loses."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-r", "true"]).returncode != 0:
        pytest.skip("this machine cannot make the user namespace the test runs in")
    check = (
        "from rewards import make_scorer\n"
        "try:\n    make_scorer('code')\nexcept Exception as exc:\n    print('refused:', exc)\n"
        "score = make_scorer({'name': 'code', 'isolation': 'none'})\n"
        "print(score(None, ['def add(a, b):\\n    return a + b'], [{'tests': 'assert add(1, 2) == 3'}]))\n"
    )
    inner = f"exec unshare --user --map-user=1000 --map-group=1000 {sys.executable} -c {shell_quote(check)}"
    out = subprocess.run(
        ["unshare", "-r", "sh", "-c", f"echo 1 > /proc/sys/user/max_user_namespaces && {inner}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert "refused: the code verifier cannot isolate programs on this machine" in out.stdout, out.stderr
    assert "{name: code, isolation: none}" in out.stdout and "can read every file this user can" in out.stdout
    assert out.stdout.strip().endswith("[1.0]")


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_the_pre_run_check_refuses_an_unknown_isolation():
    with pytest.raises(AlignError, match="isolation"):
        make_scorer({"name": "code", "isolation": "chroot"})
