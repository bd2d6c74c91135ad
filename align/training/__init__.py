"""Trainer glue: TRL configs with align's defaults, callbacks, resume and save; SFT and distillation trainers;
the distillation losses; cached teacher targets; per-token log-probs as training computes them."""
