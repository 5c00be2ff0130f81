"""Evaluation of the assistant: the golden set and its loader."""
