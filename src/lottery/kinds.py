"""Kinds of prunable weight: a model tags each prunable weight with one, and pruning rates are given
per kind. A leaf without torch, so that a strategy's settings can check kinds in ``lottery --help``."""

CONV, FC, OUTPUT, SHORTCUT = "conv", "fc", "output", "shortcut"
KINDS = (CONV, FC, OUTPUT, SHORTCUT)
