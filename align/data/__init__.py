"""Rows in TRL's dataset conventions, and the pure rules applied to them: validation, JSONL, row views, selection,
filter scores and metrics. Nothing here loads a model or resolves a name; `align.loading` does that."""
