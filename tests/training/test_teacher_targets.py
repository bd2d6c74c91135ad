"""The `teacher` stage caches the teacher's responses and top-k log-probs once; the cache says what it was built
from, so a student with another tokenizer, or other rows, is refused."""

import pytest

from align.errors import AlignError
from align.training.teacher_targets import load

pytestmark = pytest.mark.slow


def test_not_a_targets_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"junk")
    with pytest.raises(AlignError, match="not a teacher-targets file"):
        load(tmp_path / "x.safetensors")
