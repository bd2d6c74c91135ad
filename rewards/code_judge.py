"""The judge, a trusted process outside the sandbox (appended to `code_protocol.py` and `code_limits.py`): it holds
the tests and their expected values, starts the sandboxed server (`code_server.py`) that runs the candidate, and
calls the candidate's functions through it. Only arguments go in; only plain return values come out; the verdict is
decided here. Tests come in two shapes:
- `asserts` (MBPP): Python statements; every name they use but do not define (and is not a builtin) is the
  candidate's, e.g. `assert add(2, 3) == 5` calls the sandbox's `add(2, 3)` and compares here;
- `check` (HumanEval): code defining `check(candidate)`, called with the candidate's `entry_point`.
Reads the job as JSON on stdin, prints {"passed": bool, "reason": str} on stdout."""

import ast
import builtins
import contextlib
import json
import os
import select
import subprocess
import sys
import time


class CandidateError(Exception):
    """The candidate raised, crashed, timed out or returned something that cannot cross the boundary."""


class Sandbox:
    def __init__(self, command, header, deadline, preexec):
        self.deadline = deadline
        self.proc = subprocess.Popen(
            command,
            cwd="/",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            preexec_fn=preexec,
        )
        self.buffer = b""
        try:
            self.proc.stdin.write(header.encode("ascii"))  # the launcher's job: the program and how to run it
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the launcher failed; receive() says so

    def receive(self):
        while b"\n" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise CandidateError("time limit")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                raise CandidateError("the program exited")
            self.buffer += chunk
            if len(self.buffer) > 16 << 20:
                raise CandidateError("reply too large")
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return loads(line.decode("utf-8"))
        except ValueError:
            raise CandidateError("unreadable reply") from None

    def call(self, name, args):
        try:
            self.proc.stdin.write(dumps({"name": name, "args": encode(list(args))}).encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise CandidateError("the program exited") from None
        reply = self.receive()
        if "error" in reply:
            raise CandidateError(str(reply["error"]))
        try:
            return decode(reply["value"])
        except (KeyError, ValueError, TypeError):
            raise CandidateError("unreadable reply") from None

    def close(self):
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        stop(self.proc)


def free_names(code):
    """Names the test code reads without defining them: the candidate supplies those that are not builtins."""
    tree = ast.parse(code)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound


def proxy(sandbox, name):
    def call(*args, **kwargs):
        if kwargs:
            raise CandidateError("keyword arguments are not supported across the sandbox")
        return sandbox.call(name, args)

    call.__name__ = name
    return call


def top_level_names(program):
    """Names the program binds at module level, read from its text (the candidate cannot hide them at run time)."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names, todo = set(), [tree]
    while todo:
        for child in ast.iter_child_nodes(todo.pop()):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(child.name)
            elif isinstance(child, ast.alias):
                names.add((child.asname or child.name).split(".")[0])
            elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                names.add(child.id)
            elif not isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                todo.append(child)
    return names


def run_tests(job, sandbox, names):
    """Run the tests with each of `names` bound to the candidate's function of that name."""
    namespace = {"__name__": "__tests__"}
    namespace.update({name: proxy(sandbox, name) for name in sorted(names)})
    exec(compile(job["tests"], "tests", "exec"), namespace)
    if job["mode"] == "check":
        namespace["check"](proxy(sandbox, job["entry_point"]))


def judge(job, preexec):
    """Names the candidate defines are its own, builtin or not (`def sorted` is what `sorted(...)` tests). Where a
    test reads such a name, the tests must pass a second time with Python's builtins too, so a candidate cannot
    pass by redefining a helper the tests rely on (`len`, or `sorted` around its output)."""
    deadline = time.monotonic() + job["timeout_s"]
    sandbox = Sandbox(job["command"], job["header"], deadline, preexec)
    try:
        ready = sandbox.receive()
        if "error" in ready:
            return False, str(ready["error"])
        python, free = set(dir(builtins)), free_names(job["tests"])
        defined = top_level_names(job["program"]) | set(ready.get("defines", []))
        shadowed = python & defined & free
        candidates = free - (python - shadowed)
        if job["mode"] == "asserts" and not candidates:
            return False, "the tests call none of the program's functions"
        run_tests(job, sandbox, candidates)
        if shadowed:
            run_tests(job, sandbox, free - python)
        return True, "passed"
    except CandidateError as exc:
        return False, str(exc)
    except AssertionError as exc:
        return False, f"assertion failed {exc}".strip()
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]
    finally:
        sandbox.close()


if __name__ == "__main__":
    sys.set_int_max_str_digits(MAX_INT_DIGITS)
    job = json.loads(sys.stdin.read())
    sys.setrecursionlimit(10_000)
    passed, reason = judge(job, sandbox_limits(job["memory_mb"], int(job["timeout_s"]) + 1, job["nproc"]))
    sys.stdout.write(json.dumps({"passed": passed, "reason": reason}) + "\n")
