"""SFT rows: which loss mode a dataset and chat template get."""

from align.training.sft import training_rows


def test_training_rows_pick_the_loss_mode():
    from align.loading.models import load_tokenizer

    tok = load_tokenizer("world:base")
    messages = [
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "q2"},
                {"role": "assistant", "content": "a2"},
            ]
        }
    ]
    rows, assistant_only = training_rows(messages, tok)
    assert assistant_only and rows == messages
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"  # no generation marks
    rows, assistant_only = training_rows(messages, tok)
    assert not assistant_only
    assert rows[0]["completion"] == [{"role": "assistant", "content": "a2"}] and len(rows[0]["prompt"]) == 3
