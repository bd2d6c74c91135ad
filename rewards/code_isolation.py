"""What the code sandbox lets a candidate see, and whether this machine can isolate it at all (host side).

The candidate's root (`code_launcher.py`) holds only its own dir and the read-only runtime computed here: the
interpreter, the shared libraries it and the standard library's extension modules load (as `ldd` lists them),
and the standard library with its `site-packages` hidden. Isolation fails closed: where the namespaces cannot be
made (no root and no user namespaces), the `code` scorer refuses to run unless the user opts in with
`isolation: none`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from align.errors import AlignError

HERE = Path(__file__).resolve().parent
STAGING = ("/tmp", "/mnt", "/var/tmp", "/media", "/srv", "/opt")  # a host dir to build the root on (hidden)
LIBRARY = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")  # bound into every sandbox
WHAT_NONE_LOSES = (
    "the program then runs with rlimits and a time limit only: it can read every file this user can (datasets, "
    "run dirs, the project's tests), write where this user can, and use the network"
)


def shared_libraries(files: list[str]) -> list[str]:
    """Every shared library (and the loader) the ELF `files` load, as `ldd` resolves them here."""
    try:
        listing = subprocess.run(["ldd", *files], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        raise AlignError(
            "the code sandbox needs `ldd` (glibc's libc-bin) to find the interpreter's libraries"
        ) from None
    return sorted({match.group(1) for match in LIBRARY.finditer(listing)})


PATHS = (
    "import json, sys, sysconfig; base = {'base': sys.base_prefix, 'platbase': sys.base_prefix, "
    "'installed_base': sys.base_prefix}; print(json.dumps(sysconfig.get_paths(vars=base)))"
)


def sandbox_python() -> str:
    """The interpreter candidates run on: this one's, or `ALIGN_SANDBOX_PYTHON`."""
    return os.path.realpath(os.environ.get("ALIGN_SANDBOX_PYTHON") or sys.executable)


@functools.cache
def runtime(python: str) -> dict:
    """The read-only runtime a candidate sees on `python`, the paths hidden inside it, and the library path."""
    paths = json.loads(subprocess.run([python, "-I", "-S", "-c", PATHS], capture_output=True, check=True).stdout)
    stdlib = sorted({os.path.realpath(paths["stdlib"]), os.path.realpath(paths["platstdlib"])})
    extensions = [str(p) for folder in stdlib for p in Path(folder).glob("lib-dynload/*.so")]
    libraries = shared_libraries([python, *extensions])
    inside = [os.path.realpath(paths[key]) for key in ("purelib", "platlib") if os.path.isdir(paths[key])]
    return {
        "python": python,
        "read_only": sorted({python, *stdlib, *libraries}),
        "hidden": sorted({path for path in inside if any(path.startswith(s + "/") for s in stdlib)}),
        "library_path": ":".join(sorted({os.path.dirname(lib) for lib in libraries})),
    }


def staging_dir(read_only: list[str]) -> str:
    """A host dir that holds none of the runtime: the new root is mounted over it, inside the namespace only."""
    for folder in STAGING:
        if os.path.isdir(folder) and not any(path == folder or path.startswith(folder + "/") for path in read_only):
            return folder
    raise AlignError(f"the code sandbox found no dir to build its root on among {', '.join(STAGING)}")


@functools.cache
def launcher_source() -> str:
    return (HERE / "code_launcher.py").read_text()


def launcher_command() -> list[str]:
    """Run per program: the launcher's source is read once per process."""
    return [sandbox_python(), "-I", "-S", "-c", launcher_source()]


def launch_header(files: dict, entry: str, isolation: str, uid: int, disk_mb: int) -> bytes:
    """The job the launcher reads first on stdin: the program's files and how to run them."""
    plan = runtime(sandbox_python())
    job = {
        "files": files,
        "entry": entry,
        "isolation": isolation,
        "uid": uid,
        "disk_mb": disk_mb,
        "inodes": 4096,
        "runtime": plan,
        "devices": DEVICES,
        "staging": staging_dir(plan["read_only"]),
    }
    body = json.dumps(job).encode()
    return f"{len(body)}\n".encode() + body


@functools.cache
def namespace_problem() -> str | None:
    """Why this machine cannot isolate a program (asked once per process), or None when it can."""
    header = launch_header({"probe.py": "print('isolated')"}, "probe.py", "namespace", 100_000, 1)
    try:
        done = subprocess.run(launcher_command(), input=header, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "starting an isolated program timed out"
    if done.stdout.strip() == b"isolated":
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"the probe exited with status {done.returncode}"


def require_isolation(isolation: str) -> None:
    """Fail closed: refuse to run candidates unisolated unless the user said `isolation: none`."""
    if isolation == "none":
        return
    problem = namespace_problem()
    if problem:
        raise AlignError(
            f"the code verifier cannot isolate programs on this machine ({problem}): it needs root or user "
            f"namespaces. To run them anyway, write {{name: code, isolation: none}}; {WHAT_NONE_LOSES}"
        )


def check_options(options: dict) -> None:
    """The pre-run check of a `code` scorer spec: its isolation can be had here."""
    isolation = options.get("isolation", "namespace")
    require_isolation(isolation if isinstance(isolation, str) else "namespace")
