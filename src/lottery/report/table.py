"""Plain-text and Markdown tables of aggregated levels."""

from .results import LevelStats

COLUMNS = ("branch", "level", "Pm %", "trials", "early-stop it", "val loss", "test acc @ES", "test acc final")


def rows(levels: list[LevelStats]) -> list[tuple[str, ...]]:
    def pct(stat, spread):
        text = f"{100 * stat.mean:.2f}"
        return text + (f" [{100 * stat.low:.2f}, {100 * stat.high:.2f}]" if spread else "")

    out: list[tuple[str, ...]] = []
    for ls in levels:
        s, spread = ls.stats, ls.trials > 1
        out.append(
            (
                ls.branch,
                str(ls.level),
                f"{100 * ls.density:.1f}",
                str(ls.trials),
                f"{s['early_stop_iteration'].mean:.0f}",
                f"{s['val_loss_at_early_stop'].mean:.4f}",
                pct(s["test_acc_at_early_stop"], spread),
                pct(s["test_acc_final"], spread),
            )
        )
    return out


def text_table(levels: list[LevelStats]) -> str:
    body = rows(levels)
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(COLUMNS)]
    line = "  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths))
    return "\n".join([line, "-" * len(line)] + ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in body])
