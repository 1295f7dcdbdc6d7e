"""The built-in pruning strategies, one module each (STRATEGIES imports every module here before its
first lookup). A module here imports no torch at module level: hparams.py reads the strategies'
settings to make PruningHparams, and that happens in commands that train nothing (``lottery --help``)."""
