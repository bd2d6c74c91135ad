"""align's scorers as TRL's online-RL reward functions: one verifier/reward API for best-of-N, ReST-EM and GRPO.

TRL calls `f(prompts, completions, completion_ids, **columns) -> list[float | None]`, the dataset's other columns
repeated per completion, plus its own keyword arguments (`trainer_state`, `log_metric`, ...). The adapter hands an
align scorer the decoded completion texts and the rows (prompt, completion and the dataset's columns), and checks
what comes back: a finite number, or `None` for "not applicable" (TRL's meaning; only online RL accepts it).
"""

from __future__ import annotations

from collections.abc import Callable

from align.data.rows import completion_text
from align.errors import AlignError
from rewards import checked_scores, make_scorer


def reward_function(label: str, spec) -> Callable:
    """The TRL reward function for one scorer spec, named `label` (TRL logs it as `rewards/<label>/mean`)."""
    scorer = make_scorer(spec)

    def reward(prompts, completions, completion_ids=None, **columns):
        texts = [completion_text(c) for c in completions]
        table = {k: v for k, v in columns.items() if isinstance(v, list) and len(v) == len(prompts)}
        rows = [
            {**{key: values[i] for key, values in table.items()}, "prompt": prompts[i], "completion": texts[i]}
            for i in range(len(prompts))
        ]
        try:
            return checked_scores(scorer, prompts, texts, rows, f"reward {label!r}", allow_none=True)
        except ValueError as exc:  # what it returned: said in the reward's own words
            raise AlignError(str(exc)) from None

    reward.__name__ = label
    return reward


def reward_functions(rewards: dict) -> list[Callable]:
    """One reward function per `label: spec`, in the mapping's order (TRL's `reward_weights` follow it)."""
    if not rewards:
        raise AlignError("online RL needs at least one reward: `rewards: {label: scorer spec}`")
    return [reward_function(label, spec) for label, spec in rewards.items()]


def probe_rewards(rewards: dict, rows: list[dict]) -> None:
    """Call every reward on a few rows of the data, their references as completions, before the run: a reward that
    cannot read the rows, or returns something else than numbers, fails here in seconds. It builds its own scorers
    and drops them (a reward model is loaded twice): the run may be other processes, which cannot share them."""
    sample = rows[:4]
    prompts = [r["prompt"] for r in sample]
    guesses = [str(r.get("answer", r.get("completion", ""))) for r in sample]
    columns = {k: [r.get(k) for r in sample] for k in sample[0] if k != "prompt"} if sample else {}
    for function in reward_functions(rewards):  # a reward that raises is an AlignError naming it (checked_scores)
        function(prompts, guesses, None, **columns)
