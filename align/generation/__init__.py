"""Sampling from a policy: one interface over HF (align's decode loop) and vLLM, sharded across torchrun ranks."""
