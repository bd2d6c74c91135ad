"""rlimits for sandboxed processes (standard library only: also copied into the judge script)."""

import os
import signal


def die_with_parent():
    """A preexec function: its own session, and SIGKILL when the thread that started it dies, however it ends."""
    import ctypes

    os.setsid()
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def sandbox_limits(memory_mb, cpu_s, nproc=64):
    """A preexec function: `die_with_parent`, and memory/CPU/process/file limits."""
    import resource

    def apply():
        die_with_parent()
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def stop(proc, grace_s=1.0):
    """End a sandboxed process group: SIGTERM to its leader first, so an unisolated launcher can remove its dir,
    then SIGKILL to the whole group."""
    import contextlib
    import subprocess

    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
