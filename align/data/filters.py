"""Data-selection scores and keep rules as pure functions (methods.md sections 5-7); the `filter` stage runs them.

- AlpaGasus: a grader model rates each full (instruction, input, response) triple for accuracy on 0-5 with the
  released script's exact prompt (`rating_messages`); the score is the first line of its reply (`parse_rating`).
  Unparseable ratings are dropped and counted, never defaulted; keep score >= 4.5 (inclusive).
- ScalingFilter: quality factor d = PPL_small / PPL_large of two meta-models trained on the same data; the
  score kept here is log d = NLL_small - NLL_large (mean per-token NLLs, same tokenisation and truncation),
  which ranks exactly as d does. Keep the top fraction.
- MiniPLM: difference r = mean log p_teacher - mean log p_reference per token; keep the top fraction (0.5).
"""

from __future__ import annotations

import re

# The released AlpaGasus rating script (rating/chatgpt_rating.py), verbatim: system message, the triple's
# format, and the user request for the accuracy dimension (and the helpfulness alternative it carries).
RATING_SYSTEM = (
    "We would like to request your feedback on the performance of AI assistant in response to the "
    "instruction and the given input displayed following."
)
RATING_REQUEST = {
    "accuracy": "Please rate according to the accuracy of the response to the instruction and the input. Each "
    "assistant receives a score on a scale of 0 to 5, where a higher score indicates higher level of "
    "the accuracy. Please first output a single line containing value indicating the scores. In the "
    "subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any "
    "potential bias. \n\n",
    "helpfulness": "Please rate according to the helpfulness of the response to the instruction and the input. Each "
    "assistant receives an score on a scale of 0 to 5, where a higher score indicates higher level of "
    "the helpfulness. Please first output a single line containing value indicating the scores. In "
    "the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding "
    "any potential bias. \n\n",
}
TRIPLET = "###Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n{output}\n\n"
NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?")


def rating_messages(instruction: str, input_text: str, response: str, dimension: str = "accuracy") -> list[dict]:
    """The chat the grader answers: the full triple (instruction, input and response), then the request."""
    triplet = TRIPLET.format(instruction=instruction, input=input_text, output=response)
    return [
        {"role": "system", "content": RATING_SYSTEM},
        {"role": "user", "content": triplet + RATING_REQUEST[dimension]},
    ]


def parse_rating(reply: str, scale: float = 5.0) -> float | None:
    """The score on the reply's first non-empty line: `4.5`, `Score: 4`, `**4**`, `5/5` (a fraction is rescaled
    to 0..scale). None when there is no number there or it is outside 0..scale: such a row is dropped."""
    line = next((text.strip() for text in reply.splitlines() if text.strip()), "")
    match = NUMBER.search(line)
    if not match:
        return None
    value = float(match.group(1))
    if match.group(2):
        denominator = float(match.group(2))
        if denominator <= 0:
            return None
        value = value / denominator * scale
    return value if 0 <= value <= scale else None


def log_quality_factor(nll_small: float, nll_large: float) -> float:
    """ScalingFilter: log d = log(PPL_small / PPL_large) = NLL_small - NLL_large (higher = better text)."""
    return nll_small - nll_large


def difference_score(logp_teacher: float, logp_reference: float) -> float:
    """MiniPLM: r = mean log p_teacher - mean log p_reference (higher = text the teacher knows and the small
    reference does not)."""
    return logp_teacher - logp_reference


def keep_mask(
    scores: list[float | None],
    threshold: float | None = None,
    top_fraction: float | None = None,
    count: int | None = None,
) -> list[bool]:
    """Which rows to keep: score >= threshold (inclusive), or the floor(top_fraction * N) (or `count`) highest
    scores of all N rows (ties go to the earlier row). A row without a score (None) is never kept."""
    if sum(rule is not None for rule in (threshold, top_fraction, count)) != 1:
        raise ValueError("give exactly one of threshold, top_fraction and count")
    if threshold is not None:
        return [s is not None and s >= threshold for s in scores]
    if count is None:
        count = int(top_fraction * len(scores))
    ranked = sorted((i for i, s in enumerate(scores) if s is not None), key=lambda i: (-scores[i], i))
    chosen = set(ranked[:count])
    return [i in chosen for i in range(len(scores))]
