#!/usr/bin/env python3
"""The paper's claims next to what a lottery report measured, one row per claim.

    python scripts/paper_claims.py docs/results/mnist/table.csv > docs/results/mnist/claims.md
    python scripts/paper_claims.py --net conv2 docs/results/cifar10-jpeg/conv2/table.csv

``--net lenet`` (default): the LeNet-300-100/MNIST claims of Section 2; ``--net conv2``: the Conv-2/CIFAR-10
claims of Section 3 (Figure 5).

Reads the ``table.csv`` that ``lottery report`` writes (means over trials and draws with their [min, max],
per branch and level) and prints a Markdown table: the claim with its source in Frankle & Carbin (ICLR
2019), what the run shows, and a verdict. A claim whose branch or levels the run does not have yet says
so; a change that falls between two levels run, where the unmeasured levels in between could go either
way, gets the bracket ("not decided: between Pm X and Y"); a verdict decided by a difference smaller than
the spread between trials (their [min, max] ranges overlap) says so.
"""

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

TOLERANCE = 0.5  # percentage points: the paper's numbers are read from its figures or quoted to one digit


def read(table: Path) -> dict[str, dict[float, dict]]:
    """branch -> Pm % -> {"acc": test accuracy at early stop (%), "es": early-stop iteration}, each mean
    over trials with its trial range in "acc_min", "acc_max", "es_min", "es_max"."""
    out: dict[str, dict[float, dict]] = defaultdict(dict)
    with table.open() as f:
        for row in csv.DictReader(f):
            point = {}
            columns = (
                ("acc", "test_acc_at_early_stop", 100),
                ("es", "early_stop_iteration", 1),
                ("train", "train_acc_at_early_stop", 100),
            )
            for key, column, scale in columns:
                for stat in ("mean", "min", "max"):
                    name = key if stat == "mean" else f"{key}_{stat}"
                    point[name] = scale * float(row[f"{column}_{stat}"])
            out[row["branch"]][float(row["pm_percent"])] = point
    return out


def pm(value: float) -> str:
    return f"{value:.3g}%"


def span(point: dict, key: str) -> tuple[float, float]:
    """The trial range [min, max] of ``key``; a single value where the report has no range."""
    return point.get(f"{key}_min", point[key]), point.get(f"{key}_max", point[key])


def beyond(a: dict, b: dict, key: str) -> int:
    """+1 if every trial of ``a`` is above every trial of ``b`` in ``key``, -1 if below, 0 if their trial
    ranges overlap: the difference of the means is then smaller than the spread between trials."""
    (a_min, a_max), (b_min, b_max) = span(a, key), span(b, key)
    return 1 if a_min > b_max else -1 if a_max < b_min else 0


def ranged(point: dict, key: str) -> str:
    """``key``'s mean with its trial range, as the results tables print it: 97.81% [97.68, 97.91]."""
    low, high = span(point, key)
    if key == "acc":
        return f"{point[key]:.2f}%" + (f" [{low:.2f}, {high:.2f}]" if low != high else "")
    return f"{point[key]:.0f}" + (f" [{low:.0f}, {high:.0f}]" if low != high else "")


def first_below(branch: dict[float, dict], threshold: float) -> float | None:
    """The Pm from which the branch's accuracy stays below ``threshold`` at every sparser level run
    (a single dip between levels above it is noise, not a fall); None if its sparsest level is above."""
    below = None
    for p in sorted(branch):  # sparsest first
        if branch[p]["acc"] >= threshold:
            break
        below = p
    return below


def fall_verdict(branch: dict[float, dict], drop: float | None, grid: list[float], paper: float) -> str:
    """The verdict on "falls below dense from about Pm ``paper``" (reproduced within half of it either
    way), given where the run saw the fall. Between two levels run, the fall may lie at any level of
    ``grid`` (the ticket's levels) not run there; where those levels straddle the paper's window, the
    run cannot decide."""
    window = (paper * 0.5, paper * 1.5)
    if drop is None:  # never below down to the sparsest level run: the fall may lie in the levels below it
        open_below = [p for p in grid if p < min(branch) and window[0] <= p <= window[1]]
        return f"not measured below Pm {pm(min(branch))}" if open_below else "differs"
    above = min((p for p in branch if p > drop), default=100.0)  # the denser neighbour run, or the dense net
    candidates = [p for p in grid if drop <= p < above] or [drop]
    hits = [window[0] <= p <= window[1] for p in candidates]
    if len(candidates) > 1 and any(hits) and not all(hits):
        return f"not decided: between Pm {pm(above)} and {pm(drop)} (no control in between)"
    if all(hits):
        return "reproduced"
    return f"differs (Pm {pm(drop)})" if len(candidates) == 1 else f"differs (between Pm {pm(above)} and {pm(drop)})"


def reinit_row(reinit: dict[float, dict] | None, ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    claim = "Randomly reinitialized tickets fall below the dense accuracy from about Pm 21.1%"
    source = "Section 2, Figure 4b"
    if not reinit:
        return claim, source, "branch not run yet", "not measured yet"
    dense = ticket[100.0]
    drop = first_below(reinit, dense["acc"])
    verdict = fall_verdict(reinit, drop, sorted(ticket), 21.1)
    if drop is None:
        return claim, source, f"never below dense down to Pm {pm(min(reinit))} (levels run: {levels(reinit)})", verdict
    above = [p for p in reinit if p > drop]
    measured = f"at or above dense at Pm {pm(min(above))} ({ranged(reinit[min(above)], 'acc')}), " if above else ""
    measured += f"below it from Pm {pm(drop)} ({ranged(reinit[drop], 'acc')}) down"
    if beyond(reinit[drop], dense, "acc") == 0:
        measured += f", within the trial spread of the dense {ranged(dense, 'acc')}"
        verdict += ", within the trial spread"
    return claim, source, f"{measured} (levels run: {levels(reinit)})", verdict


def random_row(random: dict[float, dict] | None, ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    """Random pruning learns slower (a later early stop than the ticket of the same size) and loses accuracy."""
    claim = "Randomly pruned networks learn slower than tickets and lose accuracy as they get sparser"
    source = "Figure 1 (dashed lines), Section 2"
    if not random:
        return claim, source, "branch not run yet", "not measured yet"
    dense = ticket[100.0]
    shared = sorted((p for p in random if p in ticket), reverse=True)
    slower = [p for p in shared if random[p]["es"] > ticket[p]["es"]]
    clearly_slower = [p for p in slower if beyond(random[p], ticket[p], "es") > 0]
    drop = first_below(random, dense["acc"])
    clearly_below = [p for p in random if drop and p <= drop and beyond(random[p], dense, "acc") < 0]
    measured = (
        f"early stop later than the ticket's at {len(slower)} of {len(shared)} levels (Pm {levels(random)}), "
        f"beyond the trial spread at {len(clearly_slower)}; "
        + (
            f"below dense from Pm {pm(drop)} ({ranged(random[drop], 'acc')}) down, beyond the trial spread "
            + (f"from Pm {pm(max(clearly_below))}" if clearly_below else "nowhere")
            if drop
            else f"never below dense down to Pm {pm(min(random))}"
        )
    )
    learns_slower = 2 * len(slower) > len(shared)
    verdict = (
        "reproduced"
        if learns_slower and drop
        else "partly: " + ("loses accuracy, but not slower" if drop else "slower, but never below dense")
        if learns_slower or drop
        else "differs"
    )
    if (learns_slower and 2 * len(clearly_slower) <= len(shared)) or (drop and not clearly_below):
        verdict += ", within the trial spread"
    return claim, source, measured, verdict


def levels(branch: dict[float, dict]) -> str:
    return ", ".join(pm(p) for p in sorted(branch, reverse=True))


def pm_range(pms: list[float]) -> str:
    return f"Pm {pm(max(pms))}-{pm(min(pms))}" if len(pms) > 1 else f"Pm {pm(pms[0])}"


def dense_row(dense: dict) -> tuple[str, str, str, str]:
    ok = abs(dense["acc"] - 98.0) <= TOLERANCE
    return (
        "Dense LeNet-300-100 reaches about 98% test accuracy",
        "Figure 3 (dense curve)",
        f"{ranged(dense, 'acc')} at early stop (iteration {ranged(dense, 'es')})",
        "reproduced" if ok else f"differs by {dense['acc'] - 98.0:+.2f} points",
    )


def faster_row(ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    """Earlier early stop than dense, earliest near Pm 21.1%, later again below it. Where the fastest
    level's trial range overlaps other levels', the fastest level is only known to lie among them."""
    claim = "Tickets learn faster (earlier early stop) as Pm falls to 21.1%, then slow down"
    source = "Section 2, Figures 3 and 4a"
    dense = ticket[100.0]
    pruned = [p for p in ticket if p < 100]
    faster = [p for p in pruned if ticket[p]["es"] < dense["es"]]
    if not faster:
        return claim, source, "never earlier than dense", "differs"
    clearly = [p for p in faster if beyond(ticket[p], dense, "es") < 0]
    fastest = min(pruned, key=lambda p: ticket[p]["es"])
    tied = [p for p in pruned if beyond(ticket[p], ticket[fastest], "es") == 0]
    slows = beyond(ticket[min(ticket)], ticket[fastest], "es") > 0
    measured = (
        f"earlier than dense at {len(faster)} of {len(pruned)} pruned levels ({pm_range(faster)}), beyond the "
        f"trial spread at {len(clearly)}" + (f" ({pm_range(clearly)})" if clearly else "") + "; "
        f"earliest mean at Pm {pm(fastest)}: iteration {ranged(ticket[fastest], 'es')} vs {ranged(dense, 'es')} dense "
        f"({ticket[fastest]['es'] / dense['es']:.2f}x)"
    )
    if len(tied) > 1:
        measured += f", its trial range overlapping those at {pm_range(tied)}"
    measured += (
        f"; later again, beyond the trial spread, at Pm {pm(min(ticket))} ({ranged(ticket[min(ticket)], 'es')})"
        if slows
        else f"; not later beyond the trial spread down to Pm {pm(min(ticket))}"
    )
    near_paper = [15 <= p <= 30 for p in tied]
    if not slows:
        verdict = "partly: earlier than dense, but not later again beyond the trial spread"
    elif all(near_paper):
        verdict = "reproduced"
    elif any(near_paper):
        between = f"between Pm {pm(max(tied))} and {pm(min(tied))}"
        verdict = f"faster, then slower: reproduced; fastest level not decided ({between})"
    else:
        verdict = f"partly: earlier than dense, but earliest at Pm {pm(fastest)} (paper: 21.1%)"
    return claim, source, measured, verdict


def accuracy_row(ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    dense = ticket[100.0]
    best = max(ticket, key=lambda p: ticket[p]["acc"])
    gain = ticket[best]["acc"] - dense["acc"]
    clearly = [p for p in ticket if beyond(ticket[p], dense, "acc") > 0]
    verdict = "reproduced" if gain > 0 and best < 100 else "differs"
    if verdict == "reproduced" and best not in clearly:
        verdict += ", within the trial spread"
    return (
        "Tickets reach higher test accuracy than the dense network, best at intermediate Pm",
        "Section 2, Figures 3 and 4a",
        f"best {ranged(ticket[best], 'acc')} at Pm {pm(best)} ({gain:+.2f} points over dense "
        f"{ranged(dense, 'acc')}); above dense beyond the trial spread at "
        + (f"{len(clearly)} levels ({pm_range(clearly)})" if clearly else "no level"),
        verdict,
    )


def fallback_row(ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    """Back to the dense accuracy around Pm 3.6%, below it at 2.9%. The verdict holds beyond the trial
    spread only if the ticket level nearest 2.9% is clearly on the verdict's side of the dense accuracy."""
    claim = "Tickets fall back to the dense accuracy around Pm 3.6% (below it at 2.9%)"
    source = "Section 2"
    dense, lowest = ticket[100.0], min(ticket)
    back = first_below(ticket, dense["acc"])
    measured = (
        f"below dense from Pm {pm(back)} ({ranged(ticket[back], 'acc')}) down"
        if back
        else f"never below dense down to Pm {pm(lowest)}, the lowest level run ({ranged(ticket[lowest], 'acc')})"
    )
    if back:
        verdict = "reproduced" if 2.0 <= back <= 5.0 else f"differs (Pm {pm(back)})"
    else:
        verdict = "not measured yet" if lowest > 2.9 else "differs"
    near = min(ticket, key=lambda p: abs(p - 2.9))
    if verdict != "not measured yet" and abs(near - 2.9) <= 0.3:
        side = beyond(ticket[near], dense, "acc")
        relation = {1: "above it beyond", -1: "below it beyond", 0: "within"}[side]
        measured += f"; at Pm {pm(near)} {ranged(ticket[near], 'acc')}, {relation} the trial spread"
        level_from = None
        for p in sorted(ticket):  # sparsest first: where tickets stop being clearly above dense
            if beyond(ticket[p], dense, "acc") > 0:
                break
            level_from = p
        if level_from:
            measured += f"; back within the trial spread of dense from Pm {pm(level_from)} down"
        if side == 0:
            verdict += ", within the trial spread"
    return claim, source, measured, verdict


def oneshot_row(oneshot: dict[float, dict] | None, ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    claim = "Iterative pruning finds better tickets than one-shot at small sizes"
    source = "Section 2, Figure 4c"
    if not oneshot:
        return claim, source, "branch not run yet", "not measured yet"
    shared = sorted(p for p in oneshot if p in ticket)
    better = [p for p in shared if ticket[p]["acc"] > oneshot[p]["acc"]]
    clearly = [p for p in better if beyond(ticket[p], oneshot[p], "acc") > 0]
    measured = (
        f"iterative more accurate at Pm {', '.join(pm(p) for p in better) or 'none'} "
        f"of {', '.join(pm(p) for p in shared)}"
        + (f", beyond the trial spread at {', '.join(pm(p) for p in clearly)}" if better else "")
    )
    verdict = "reproduced" if better and min(shared) in better else "differs"
    if verdict == "reproduced" and min(shared) not in clearly:
        verdict += ", within the trial spread"
    return claim, source, measured, verdict


def claims(data: dict[str, dict[float, dict]]) -> list[tuple[str, str, str, str]]:
    """One row per claim: (claim, source, measured, verdict). Verdicts compare means over trials; where the
    difference that decides one is smaller than the spread between trials (their [min, max] ranges
    overlap), the verdict says so, and where the levels run cannot place a change, it gives the bracket."""
    ticket = data["ticket"]
    return [
        dense_row(ticket[100.0]),
        faster_row(ticket),
        accuracy_row(ticket),
        fallback_row(ticket),
        reinit_row(data.get("reinit"), ticket),
        random_row(data.get("random"), ticket),
        oneshot_row(data.get("oneshot"), ticket),
    ]


# Conv-2 on CIFAR-10 (Section 3, Figure 5): the fastest early stop, 3.5x the dense network's, at Pm 8.8%;
# the best test accuracy, +3.4 points over dense, at Pm 4.6%.
CONV2_FASTEST_PM, CONV2_SPEEDUP, CONV2_BEST_PM, CONV2_GAIN = 8.8, 3.5, 4.6, 3.4


def window(paper_pm: float) -> tuple[float, float]:
    """The Pm range read as "about" a Pm of the paper: from half of it to twice it."""
    return paper_pm / 2, paper_pm * 2


def conv_faster_row(ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    claim = (
        f"Conv-2 tickets learn faster as Pm falls: early stop up to {CONV2_SPEEDUP}x earlier, at Pm {CONV2_FASTEST_PM}%"
    )
    source = "Section 3, Figure 5"
    dense = ticket[100.0]
    pruned = [p for p in ticket if p < 100]
    if not pruned:
        return claim, source, "no pruned level run yet", "not measured yet"
    fastest = min(pruned, key=lambda p: ticket[p]["es"])
    speedup = dense["es"] / ticket[fastest]["es"] if ticket[fastest]["es"] else float("inf")  # stopped at 0
    clearly = beyond(ticket[fastest], dense, "es") < 0
    measured = (
        f"earliest mean at Pm {pm(fastest)}: iteration {ranged(ticket[fastest], 'es')} vs {ranged(dense, 'es')} "
        f"dense ({speedup:.2f}x), "
        + ("beyond" if clearly else "within")
        + " the trial spread; levels run: "
        + levels(ticket)
    )
    low, high = window(CONV2_FASTEST_PM)
    if speedup <= 1:
        verdict = "differs: never earlier than dense"
    elif min(ticket) > high:
        verdict = f"not measured yet below Pm {pm(min(ticket))}"
    elif low <= fastest <= high:
        verdict = "reproduced" + ("" if clearly else ", within the trial spread")
    else:
        verdict = f"partly: earlier than dense, fastest at Pm {pm(fastest)} (paper: {CONV2_FASTEST_PM}%)"
    return claim, source, measured, verdict


def conv_accuracy_row(ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    claim = f"Conv-2 tickets reach higher test accuracy than dense: up to +{CONV2_GAIN} points, at Pm {CONV2_BEST_PM}%"
    source = "Section 3, Figure 5"
    dense = ticket[100.0]
    best = max(ticket, key=lambda p: ticket[p]["acc"])
    gain = ticket[best]["acc"] - dense["acc"]
    clearly = [p for p in ticket if beyond(ticket[p], dense, "acc") > 0]
    measured = (
        f"best {ranged(ticket[best], 'acc')} at Pm {pm(best)} ({gain:+.2f} points over dense "
        f"{ranged(dense, 'acc')}); above dense beyond the trial spread at "
        + (f"{len(clearly)} levels ({pm_range(clearly)})" if clearly else "no level")
        + f"; levels run: {levels(ticket)}"
    )
    if best == 100.0 or gain <= 0:
        verdict = "differs" if len(ticket) > 1 else "not measured yet"
    elif clearly:
        verdict = "reproduced"
    else:
        verdict = f"not decided: {gain:+.2f} points, within the trial spread"
    if verdict != "reproduced" and len(ticket) > 1 and min(ticket) > window(CONV2_BEST_PM)[1]:
        verdict += f"; not measured below Pm {pm(min(ticket))}"
    return claim, source, measured, verdict


def conv_reinit_row(reinit: dict[float, dict] | None, ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    claim = "Randomly reinitialized Conv-2 tickets learn slower and reach lower test accuracy than the tickets"
    source = "Section 3, Figure 5"
    shared = sorted((p for p in (reinit or {}) if p in ticket), reverse=True)
    if not shared:
        return claim, source, "branch not run yet", "not measured yet"
    assert reinit is not None
    slower = [p for p in shared if reinit[p]["es"] > ticket[p]["es"]]
    worse = [p for p in shared if reinit[p]["acc"] < ticket[p]["acc"]]
    clearly_worse = [p for p in worse if beyond(reinit[p], ticket[p], "acc") < 0]
    measured = (
        f"later early stop at {len(slower)} and lower accuracy at {len(worse)} of {len(shared)} levels "
        f"(Pm {levels({p: reinit[p] for p in shared})}), lower beyond the trial spread at {len(clearly_worse)}"
    )
    both = 2 * len(slower) > len(shared) and 2 * len(worse) > len(shared)
    verdict = "reproduced" if both else "partly" if slower or worse else "differs"
    if both and 2 * len(clearly_worse) <= len(shared):
        verdict += ", within the trial spread"
    return claim, source, measured, verdict


def conv_gap_row(ticket: dict[float, dict]) -> tuple[str, str, str, str]:
    """Tickets generalize better: at the best ticket level the train/test gap at early stop is smaller."""
    claim = "Conv-2 tickets generalize better: a smaller gap between train and test accuracy than dense"
    source = "Section 3"
    dense = ticket[100.0]
    best = max(ticket, key=lambda p: ticket[p]["acc"])
    if best == 100.0:
        return claim, source, "no pruned level more accurate than dense yet", "not measured yet"
    gap_dense, gap_best = dense["train"] - dense["acc"], ticket[best]["train"] - ticket[best]["acc"]
    measured = (
        f"train - test accuracy at early stop: {gap_dense:.2f} points dense, {gap_best:.2f} at Pm {pm(best)} "
        f"(train {ticket[best]['train']:.2f}%, test {ticket[best]['acc']:.2f}%)"
    )
    if min(ticket) > window(CONV2_BEST_PM)[1]:  # the paper's best tickets are sparser than any level run
        return claim, source, measured, f"not measured yet below Pm {pm(min(ticket))}"
    return claim, source, measured, "reproduced" if gap_best < gap_dense else "differs"


def conv2_claims(data: dict[str, dict[float, dict]]) -> list[tuple[str, str, str, str]]:
    """The Conv-2 claims of Section 3, one row each, judged as :func:`claims` judges LeNet's."""
    ticket = data["ticket"]
    return [
        conv_faster_row(ticket),
        conv_accuracy_row(ticket),
        conv_reinit_row(data.get("reinit"), ticket),
        conv_gap_row(ticket),
    ]


CLAIMS = {"lenet": claims, "conv2": conv2_claims}


def markdown(rows: list[tuple[str, str, str, str]]) -> str:
    """claims.md: the rows as a Markdown table."""
    lines = ["| paper's claim | source | measured | verdict |", "|---|---|---|---|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="table.csv written by `lottery report`")
    parser.add_argument("--net", choices=sorted(CLAIMS), default="lenet", help="whose claims (default lenet)")
    args = parser.parse_args(argv)
    try:
        measured = read(args.table)
    except (OSError, UnicodeDecodeError, KeyError, ValueError) as e:
        print(f"paper_claims: error: cannot read {args.table} as a `lottery report` table.csv: {e}", file=sys.stderr)
        sys.exit(1)
    print(markdown(CLAIMS[args.net](measured)), end="")


if __name__ == "__main__":
    main()
