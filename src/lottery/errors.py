"""Errors meant for the person running lottery: one clear line, no traceback."""


class LotteryError(Exception):
    """A problem the user can fix (bad data, bad results folder, ...). CLI exit code 1."""

    exit_code = 1


class UsageError(LotteryError):
    """Bad command-line input (unknown name, impossible value). CLI exit code 2."""

    exit_code = 2
