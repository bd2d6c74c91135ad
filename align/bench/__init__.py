"""Experiments measured on the embedded world and their reports (`align bench`, `align world build|check|report`).
Nothing in the library imports this package."""
