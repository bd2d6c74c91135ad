"""Starts one candidate program where it sees nothing of the host (run as `python -I -S -c`, standard library only).

It reads a job from stdin (a length line, then that many bytes of JSON), then hands the rest of stdin to the
program. With `isolation: namespace` it makes new mount, PID, network, IPC and UTS namespaces (and a user namespace
when not root), builds a fresh root on a size-limited tmpfs that holds:
- `/sandbox`: the program's own files, its working dir (writable);
- `/tmp` (writable, the same tmpfs, so one size limit covers every write);
- `/dev/null`, `/dev/zero`, `/dev/random`, `/dev/urandom`;
- the interpreter, its shared libraries and the standard library, read-only, with `site-packages` hidden;
and nothing else: no /proc, /etc, home, project, dataset or run dir. It pivots into that root, detaches the old
one, drops to an unprivileged uid (as root: the job's own uid; else the user's, which holds no capability after
exec) with no_new_privs, and execs the interpreter. The tmpfs dies with the namespace: nothing is left on disk.
With `isolation: none` (the user's explicit opt-in) the program runs in a temp dir with rlimits only, and the dir
is removed when the program ends or its judge dies.
"""

import ctypes
import json
import os
import platform
import shutil
import signal
import sys
import tempfile

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE = 1024, 2048, 4096, 16384, 1 << 18
STATVFS_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME}
MNT_DETACH, PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 2, 1, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}
libc = ctypes.CDLL(None, use_errno=True)


def call(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source, target, fstype, flags, data=None):
    encode = lambda s: None if s is None else s.encode()  # noqa: E731
    call(libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def read_job():
    """The job header; what follows it on stdin is the program's."""
    length = b""
    while not length.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            raise EOFError("no job")
        length += byte
    data, size = b"", int(length)
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            raise EOFError("a truncated job")
        data += chunk
    return json.loads(data)


def bind_read_only(source, target):
    """Bind `source` at `target`, read-only, keeping the flags a user namespace may not clear."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    kept = sum(ms for bit, ms in STATVFS_TO_MS.items() if os.statvfs(source).f_flag & bit)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def build_root(job, top, uid):
    """The fresh root, built on a tmpfs mounted at `top` (a host dir, hidden only inside this namespace)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host
    size = f"size={job['disk_mb']}m,nr_inodes={job['inodes']},mode=0755"
    mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, size)
    runtime = job["runtime"]
    for path in runtime["read_only"]:
        bind_read_only(path, top + path)
    for path in runtime["hidden"]:
        mount("tmpfs", top + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
    os.makedirs(top + "/dev", exist_ok=True)
    for device in job["devices"]:
        open(top + device, "a").close()
        mount(device, top + device, None, MS_BIND)
    os.mkdir(top + "/tmp", 0o1777)
    os.chmod(top + "/tmp", 0o1777)
    write_files(job, top + "/sandbox", uid)
    os.chdir(top)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    call(libc.syscall(number, b".", b"."), "pivot_root")
    call(libc.umount2(b".", MNT_DETACH), "detaching the host's root")
    os.chdir("/sandbox")


def write_files(job, folder, uid):
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for name, text in job["files"].items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)
        os.chown(os.path.join(folder, name), uid, uid)
    os.chown(folder, uid, uid)


def run_program(job, uid):
    """Become `uid` (when root), forbid new privileges, and exec the interpreter on the program."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    call(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")  # setuid cleared it: die with us
    call(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    runtime = job["runtime"]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": os.getcwd(), "LD_LIBRARY_PATH": runtime["library_path"]}
    os.execve(runtime["python"], [runtime["python"], "-I", "-S", job["entry"]], env)


def exit_like(status):
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def isolated(job):
    root = os.getuid() == 0
    uid, gid = (job["uid"], job["uid"]) if root else (os.getuid(), os.getgid())
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    call(libc.unshare(flags if root else flags | CLONE_NEWUSER), "unshare")
    if not root:  # the user stays themself inside: capabilities to build the root now, none after exec
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    child = os.fork()  # the first process of the new PID namespace: when it ends, every process in it ends
    if child:
        exit_like(os.waitpid(child, 0)[1])
    try:
        call(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        build_root(job, job["staging"], uid)
        run_program(job, uid)
    except BaseException as exc:
        sys.stderr.write(f"cannot isolate the program: {exc}\n")
        os._exit(125)


def unisolated(job):
    folder = tempfile.mkdtemp(prefix="align-code-")
    child = None

    def stop(*_):
        if child:
            os.kill(child, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(137)

    signal.signal(signal.SIGTERM, stop)
    call(libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0), "pdeathsig")
    try:
        write_files(job, folder, os.getuid())
        os.chdir(folder)
        child = os.fork()
        if child == 0:
            run_program(job, os.getuid())
        status = os.waitpid(child, 0)[1]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    exit_like(status)


if __name__ == "__main__":
    work = read_job()
    isolated(work) if work["isolation"] == "namespace" else unisolated(work)
