"""Views of one row: every training format reads as one prompt/completion pair."""


def test_prompt_completion_views_every_training_format_one_way():
    from align.data.rows import prompt_completion

    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert prompt_completion({"text": "t"}) == {"prompt": "", "completion": "t"}
    assert prompt_completion({"prompt": "p", "completion": "c", "x": 1}) == {"prompt": "p", "completion": "c"}
    assert prompt_completion({"messages": turns}) == {"prompt": turns[:1], "completion": turns[1:]}
    trailing = turns + [{"role": "user", "content": "thanks"}]
    assert prompt_completion({"messages": trailing}) == {"prompt": turns[:1], "completion": turns[1:]}


def test_conversations_a_template_renders_for_each_row_shape():
    from align.data.rows import conversations

    user = [{"role": "user", "content": "q"}]
    answer = [{"role": "assistant", "content": "a"}]
    other = [{"role": "assistant", "content": "b"}]
    assert conversations({"messages": user + answer}) == [(user + answer, False)]
    assert conversations({"prompt": user}) == [(user, True)]  # a prompt to be answered
    assert conversations({"prompt": user, "completion": answer}) == [(user + answer, False)]
    assert conversations({"prompt": user, "chosen": answer, "rejected": other}) == [
        (user + answer, False),
        (user + other, False),
    ]
    assert conversations({"chosen": user + answer, "rejected": user + other}) == [
        (user + answer, False),
        (user + other, False),
    ]
    assert conversations({"prompt": "q", "completion": "a"}) == []  # plain text needs no template
    assert conversations({"text": "t"}) == []
