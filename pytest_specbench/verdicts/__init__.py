"""Judging a finished run: the ten checks (`checks`) and the readers they use — loops
(`loops`), claims in the final answer (`claims`), phrase matching (`matching`) and tree
quality (`quality`).

May import: `agent` (its transcript and stats), `tree`, `config` and the shared leaves.
"""
