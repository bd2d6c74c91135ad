"""`${...}` references in recipes: `${key}` (a recipe parameter, filled at load time) and `${stage.output}` (an
earlier stage's output, filled by the engine when that stage has run). One definition, so every check agrees on
what is still a reference."""
from __future__ import annotations

import re

REF = re.compile(r"\$\{([^}]+)\}")


def deferred(value) -> bool:
    """A string that still holds a reference: its value exists only once an earlier stage has run."""
    return isinstance(value, str) and REF.search(value) is not None
