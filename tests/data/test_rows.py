"""Views of one row: every training format reads as one prompt/completion pair."""


def test_prompt_completion_views_every_training_format_one_way():
    from align.data.rows import prompt_completion

    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert prompt_completion({"text": "t"}) == {"prompt": "", "completion": "t"}
    assert prompt_completion({"prompt": "p", "completion": "c", "x": 1}) == {"prompt": "p", "completion": "c"}
    assert prompt_completion({"messages": turns}) == {"prompt": turns[:1], "completion": turns[1:]}
    trailing = turns + [{"role": "user", "content": "thanks"}]
    assert prompt_completion({"messages": trailing}) == {"prompt": turns[:1], "completion": turns[1:]}
