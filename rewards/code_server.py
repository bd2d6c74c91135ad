"""Runs inside the sandbox, appended to `code_protocol.py`'s source: loads the candidate program and answers
the judge's calls to its functions, one JSON line per call. It never sees a test or an expected value.

The candidate may tamper with everything here (it runs in this process): all it can change is the values the
judge receives for its own calls, which is what a candidate function decides anyway."""

import os
import sys


def serve():
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 0)  # the candidate's input() sees EOF, its prints go nowhere
    os.dup2(quiet, 1)
    namespace = {"__name__": "__candidate__", "__builtins__": __builtins__}
    try:
        with open("candidate.py", encoding="utf-8") as f:
            exec(compile(f.read(), "candidate.py", "exec"), namespace)
    except BaseException as exc:
        replies.write(dumps({"error": f"loading the program: {type(exc).__name__}: {exc}"[:300]}))
        replies.flush()
        return
    defines = sorted(name for name, value in namespace.items() if callable(value) and not name.startswith("__"))
    replies.write(dumps({"ready": True, "defines": defines}))
    replies.flush()
    for line in requests:
        try:
            request = loads(line)
            function = namespace.get(request["name"])
            if not callable(function):
                raise NameError(f"the program defines no function {request['name']!r}")
            reply = {"value": encode(function(*decode(request["args"])))}
        except BaseException as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        replies.write(dumps(reply))
        replies.flush()


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    sys.set_int_max_str_digits(MAX_INT_DIGITS)
    serve()
