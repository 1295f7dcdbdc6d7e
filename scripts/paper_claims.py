#!/usr/bin/env python3
"""The paper's claims next to what a lottery report measured, one row per claim.

    python scripts/paper_claims.py docs/results/mnist/table.csv > docs/results/mnist/claims.md
    python scripts/paper_claims.py --net conv2 docs/results/cifar10-jpeg/conv2/table.csv
    python scripts/paper_claims.py --net pai docs/results/mnist-pai/table.csv

``--net lenet`` (default): the LeNet-300-100/MNIST claims of Section 2; ``--net conv2``: the Conv-2/CIFAR-10
claims of Section 3 (Figure 5). ``--net pai``: the findings of Frankle, Dziugaite, Roy & Carbin (ICLR 2021,
"Pruning Neural Networks at Initialization: Why are We Missing the Mark?") on the branches ``snip``,
``grasp``, ``synflow``, their ``_shuffle``, ``_reinit`` and ``_invert`` checks, ``random`` and ``reinit``:
the methods below the ticket (judged at the sparser half of the levels) and not below random pruning;
shuffling a method's mask or reinitializing its weights keeping its accuracy while the ticket's shuffle (``random``)
and reinit lower the ticket's; inverting the scores hurting SNIP and SynFlow but not GraSP; and from the
shuffle and reinit rows together, whether the methods find a per-layer density rather than a set of
weights. Each compares two branches at every pruned Pm where both ran; a method run at a single
non-default setting (``snip-batches4``) is judged at that setting.

Reads the ``table.csv`` that ``lottery report`` writes (means over trials and draws with their [min, max],
per branch and level) and prints a Markdown table: the claim with its source in the paper (Frankle &
Carbin, ICLR 2019; for ``pai``, Frankle et al. 2021), what the run shows, and a verdict. A claim whose
branch or levels the run does not have yet says so; a change that falls between two levels run, where the
unmeasured levels in between could go either way, gets the bracket ("not decided: between Pm X and Y"); a
verdict decided by a difference smaller than the spread between trials (their [min, max] ranges overlap)
says so.
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


def own_budget(kind: str) -> int:
    """The training budget a control kind names (``reinit-iterations20000`` -> 20000; ``reinit`` -> 0: the
    experiment's, the shortest: a control gets a budget of its own only to train longer)."""
    tag = kind.partition("-")[2]
    return int(tag.removeprefix("iterations")) if tag.startswith("iterations") else 0


def longest_budget(data: dict[str, dict[float, dict]], branch: str) -> tuple[dict[float, dict], dict[float, str]]:
    """The control ``branch`` at each Pm from its longest-budget run there (``reinit-iterations20000`` over
    ``reinit``, whose early stop a shorter budget may cut off), and the kind each point comes from."""
    kinds = sorted((k for k in data if k == branch or k.startswith(f"{branch}-iterations")), key=own_budget)
    points: dict[float, dict] = {}
    source: dict[float, str] = {}
    for kind in kinds:  # shortest budget first: a longer one replaces it where both ran
        points.update(data[kind])
        source.update(dict.fromkeys(data[kind], kind))
    return points, source


def conv_reinit_row(
    reinit: dict[float, dict] | None, ticket: dict[float, dict], budget: str = ""
) -> tuple[str, str, str, str]:
    """``budget``: where the reinit points come from, when not all from the experiment's budget."""
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
        + (f"; {budget}" if budget else "")
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
    reinit, kinds = longest_budget(data, "reinit")
    own = {p: own_budget(k) for p, k in kinds.items() if own_budget(k) and p in ticket}  # Pm -> its budget
    budget = "; ".join(
        f"reinit at Pm {', '.join(pm(p) for p in sorted(own, reverse=True) if own[p] == n)} trained to iteration {n:,}"
        for n in sorted(set(own.values()))
    )
    return [
        conv_faster_row(ticket),
        conv_accuracy_row(ticket),
        conv_reinit_row(reinit or None, ticket, budget),
        conv_gap_row(ticket),
    ]


# Frankle, Dziugaite, Roy & Carbin (ICLR 2021), "Pruning Neural Networks at Initialization: Why are We Missing
# the Mark?": SNIP, GraSP and SynFlow against the ticket, random pruning and their own sanity checks, each
# comparison at every pruned Pm where both of its branches ran (the ticket's levels the controls ran at).
PAI_SOURCE = "Frankle et al. 2021"
PAI_ABSTRACT = "Frankle et al. 2021, abstract"
PAI_METHODS = {"snip": "SNIP", "grasp": "GraSP", "synflow": "SynFlow"}
PAI_CHECKS = ("shuffle", "reinit", "invert")

Part = tuple[str, str]  # (measured, verdict) of one comparison in a row: one method's, or the ticket's contrast


def pai_names(data: dict[str, dict[float, dict]], method: str) -> dict[str, str]:
    """The table's branch names of ``method`` ("") and its checks: ``snip``, ``snip_shuffle``, ... for the
    default settings; where the table has the method at one non-default setting only (``snip-batches4``,
    ``snip_shuffle-batches4``), those. A method's settings are its checks' too, so one tag names them all."""
    heads = (method, *(f"{method}_{check}" for check in PAI_CHECKS))
    tags = {b[len(b.split("-")[0]) :] for b in data if b.split("-")[0] in heads}
    tag = next(iter(tags)) if len(tags) == 1 else ""
    return {check: f"{method}{'_' + check if check else ''}{tag}" for check in ("", *PAI_CHECKS)}


def pai_methods(data: dict[str, dict[float, dict]]) -> list[tuple[str, str, dict[str, str]]]:
    """Each method's label, the label naming the non-default settings judged (``SNIP (batches4)``), and
    its branch names (:func:`pai_names`)."""
    out = []
    for method, label in PAI_METHODS.items():
        names = pai_names(data, method)
        tag = names[""][len(method) :].lstrip("-")
        out.append((label, f"{label} ({tag})" if tag else label, names))
    return out


def shared(a: dict[float, dict], b: dict[float, dict]) -> list[float]:
    """The pruned levels (Pm %) both branches ran, densest first."""
    return sorted((p for p in a if p in b and p < 100), reverse=True)


def missing(data: dict[str, dict[float, dict]], name: str, other: str) -> Part | None:
    """A part that says "not measured yet" and names the branch the table lacks (or that the two share no
    pruned level); None when both were run at a level in common."""
    absent = [n for n in (name, other) if not data.get(n)]
    if absent:
        return "", "not measured yet: no " + ", ".join(absent)
    if not shared(data[name], data[other]):
        return "", f"not measured yet: no level shared by {name} and {other}"
    return None


def not_measured(verdicts: list[str]) -> str:
    """The "not measured yet" verdicts among ``verdicts`` as one: each missing branch named once."""
    gaps: list[str] = []
    for v in verdicts:
        if v.startswith("not measured yet: no level"):
            gaps.append(v.removeprefix("not measured yet: "))
        elif v.startswith("not measured yet: no "):
            gaps += v.removeprefix("not measured yet: no ").split(", ")
    branches = sorted({g for g in gaps if " " not in g})
    return "; ".join(([f"no {', '.join(branches)}"] if branches else []) + [g for g in gaps if " " in g])


def compared(label: str, a: dict[float, dict], b: dict[float, dict], other: str) -> str:
    """How ``a`` stands against ``b`` at their shared levels: at how many its mean accuracy is lower, lower
    beyond the trial spread, higher beyond it; and both at the sparsest level with their trial ranges."""
    pms = shared(a, b)
    lower = [p for p in pms if a[p]["acc"] < b[p]["acc"]]
    sides = [beyond(a[p], b[p], "acc") for p in pms]
    s = pms[-1]
    above = f", above it beyond the trial spread at {sides.count(1)}" if 1 in sides else ""
    return (
        f"{label} below {other} at {len(lower)} of {len(pms)} levels (Pm {', '.join(pm(p) for p in pms)}), "
        f"beyond the trial spread at {sides.count(-1)}{above}; "
        f"at Pm {pm(s)}: {ranged(a[s], 'acc')} vs {ranged(b[s], 'acc')}"
    )


def lower_part(data: dict, label: str, name: str, other: str, other_label: str, sparsest: bool = False) -> Part:
    """``name`` reaches lower test accuracy than ``other``. Judged at every shared level, or with ``sparsest``
    at the sparser half of them (at least one): reproduced where its mean is lower at more than half of the
    levels judged, "within the trial spread" unless it is lower beyond the spread (trial ranges apart) at
    more than half of them; else differs."""
    gap = missing(data, name, other)
    if gap:
        return gap
    a, b = data[name], data[other]
    judged = shared(a, b)
    if sparsest:
        judged = judged[len(judged) // 2 :]  # densest first: the sparser half, the sparsest level of one or two
    lower = [p for p in judged if a[p]["acc"] < b[p]["acc"]]
    clearly = [p for p in lower if beyond(a[p], b[p], "acc") < 0]
    verdict = "reproduced" if 2 * len(lower) > len(judged) else "differs"
    if verdict == "reproduced" and 2 * len(clearly) <= len(judged):
        verdict += ", within the trial spread"
    measured = compared(label, a, b, other_label)
    if sparsest:
        measured += f" (judged at Pm {', '.join(pm(p) for p in judged)})"
    return measured, verdict


def not_lower_part(data: dict, label: str, name: str, other: str, other_label: str) -> Part:
    """``name`` is at least as accurate as ``other``: reproduced where it is below it beyond the trial spread
    at no shared level ("within the trial spread" where some mean is lower); partly where it is so at half
    of the levels or fewer, naming them; else differs."""
    gap = missing(data, name, other)
    if gap:
        return gap
    a, b = data[name], data[other]
    pms = shared(a, b)
    lower = [p for p in pms if a[p]["acc"] < b[p]["acc"]]
    clearly = [p for p in lower if beyond(a[p], b[p], "acc") < 0]
    if not clearly:
        verdict = "reproduced" + (", within the trial spread" if lower else "")
    elif 2 * len(clearly) > len(pms):
        verdict = "differs"
    else:
        verdict = f"partly: below beyond the trial spread at Pm {', '.join(pm(p) for p in clearly)}"
    return compared(label, a, b, other_label), verdict


def row_verdict(parts: dict[str, Part]) -> str:
    """One verdict from the parts' (keyed by method, or by the ticket's contrast): reproduced where every
    part measured is, naming those within the trial spread; differs where every part differs; else partly,
    naming the parts not reproduced. The parts not measured follow, naming their missing branches."""
    judged = {k: v for k, (_, v) in parts.items() if not v.startswith("not measured")}
    absent = not_measured([v for _, v in parts.values()])
    if not judged:
        return "not measured yet: " + absent
    loose = [k for k, v in judged.items() if v.endswith("within the trial spread")]
    if all(v.startswith("reproduced") for v in judged.values()):
        verdict = "reproduced"
        if loose:
            verdict += ", within the trial spread" + ("" if len(loose) == len(judged) else f" ({', '.join(loose)})")
    elif all(v == "differs" for v in judged.values()):
        verdict = "differs"
    else:
        failed = [f"{k}: {v.removeprefix('partly: ')}" for k, v in judged.items() if not v.startswith("reproduced")]
        verdict = "partly: " + "; ".join(failed)
    return verdict + ("; not measured yet: " + absent if absent else "")


def pai_row(claim: str, source: str, parts: dict[str, Part]) -> tuple[str, str, str, str]:
    measured = "; ".join(text for text, _ in parts.values() if text) or "branches not run yet"
    return claim, source, measured, row_verdict(parts)


def pai_ticket_row(data: dict) -> tuple[str, str, str, str]:
    """F1: every method below the ticket of the same Pm, judged per method at the sparser half of the
    shared levels, where the paper sees the gap widest."""
    parts = {
        label: lower_part(data, text, names[""], "ticket", "the ticket", sparsest=True)
        for label, text, names in pai_methods(data)
    }
    claim = (
        "SNIP, GraSP and SynFlow reach lower test accuracy than the IMP ticket of the same Pm, "
        "most clearly at the smallest sizes"
    )
    return pai_row(claim, PAI_ABSTRACT, parts)


def pai_random_row(data: dict) -> tuple[str, str, str, str]:
    """F2: every method at least as accurate as random pruning (``random``: the ticket's per-layer counts,
    weights drawn at random) at every shared level."""
    parts = {
        label: not_lower_part(data, text, names[""], "random", "random pruning")
        for label, text, names in pai_methods(data)
    }
    claim = (
        "SNIP, GraSP and SynFlow are at least as accurate as random pruning of the same Pm (paper: they outperform it)"
    )
    return pai_row(claim, PAI_ABSTRACT, parts)


def check_parts(data: dict, check: str, control: str) -> dict[str, Part]:
    """F3 and F4: the method's ``check`` (shuffle, reinit) is not below the method, for each method; the
    ticket's own ``control`` (random, reinit) is below the ticket: the check can tell a set of weights apart."""
    parts = {
        label: not_lower_part(data, f"{text} {check}", names[check], names[""], text)
        for label, text, names in pai_methods(data)
    }
    parts[f"ticket ({control})"] = lower_part(data, control, control, "ticket", "the ticket")
    return parts


def pai_shuffle_row(data: dict) -> tuple[str, str, str, str]:
    """F3: shuffling a method's mask within each layer keeps its accuracy; shuffling the ticket's lowers it."""
    claim = (
        "Shuffling a method's mask within each layer does not lower its accuracy; "
        "the ticket's layer-wise shuffle (random pruning) does"
    )
    return pai_row(claim, PAI_ABSTRACT, check_parts(data, "shuffle", "random"))


def pai_reinit_row(data: dict) -> tuple[str, str, str, str]:
    """F4: reinitializing a method's weights keeps its accuracy; reinitializing the ticket's lowers it."""
    claim = "Reinitializing a method's weights does not lower its accuracy; reinitializing the ticket's does"
    return pai_row(claim, PAI_ABSTRACT, check_parts(data, "reinit", "reinit"))


def pai_invert_row(data: dict) -> tuple[str, str, str, str]:
    """F5: the inverted ranking (the weights a method would remove) is below SNIP and SynFlow, not below GraSP."""
    parts = {}
    for label, text, names in pai_methods(data):
        judge = not_lower_part if label == "GraSP" else lower_part
        parts[label] = judge(data, f"{text} inverted", names["invert"], names[""], text)
    claim = "Inverting the scores hurts SNIP and SynFlow, but not GraSP (inverted GraSP matches or beats GraSP)"
    return pai_row(claim, PAI_SOURCE, parts)


def both_checks(label: str, shuffle: str, reinit: str) -> Part:
    """A method's shuffle and reinit verdicts together: reproduced where both keep its accuracy, differs
    where neither does, partly where one does."""
    verdicts = (shuffle, reinit)
    absent = not_measured(list(verdicts))
    if absent:
        return "", "not measured yet: " + absent
    held = [c for c, v in zip(("shuffle", "reinit"), verdicts) if v.startswith("reproduced")]
    if len(held) == 2:
        verdict = "reproduced" + (", within the trial spread" if any("within" in v for v in verdicts) else "")
    else:
        verdict = f"partly: only its {held[0]} check keeps its accuracy" if held else "differs"
    return f"{label}: shuffle {shuffle}, reinit {reinit}", verdict


def pai_density_row(data: dict) -> tuple[str, str, str, str]:
    """The conclusion of F3 and F4 together, per method: its shuffle and reinit checks both keep its accuracy
    (:func:`both_checks`). Where the ticket's own shuffle (random) and reinit do not lower the ticket
    either, the checks tell no set of weights apart on this net: not decided."""
    shuffle, reinit = check_parts(data, "shuffle", "random"), check_parts(data, "reinit", "reinit")
    parts = {label: both_checks(label, shuffle[label][1], reinit[label][1]) for label in PAI_METHODS.values()}
    contrast = (shuffle["ticket (random)"][1], reinit["ticket (reinit)"][1])
    claim, source, measured, verdict = pai_row(
        "So the methods find a per-layer density, not a set of weights", f"{PAI_ABSTRACT}; the two rows above", parts
    )
    if contrast == ("differs", "differs") and not verdict.startswith(("not measured", "differs")):
        verdict = "not decided: the ticket's own shuffle (random) and reinit do not lower it either"
    return claim, source, f"{measured}; ticket: random {contrast[0]}, reinit {contrast[1]}", verdict


def pai_claims(data: dict[str, dict[float, dict]]) -> list[tuple[str, str, str, str]]:
    """The findings of Frankle et al. 2021 on pruning at initialization, one row each, judged as
    :func:`claims` judges LeNet's. A finding whose branches the table lacks says "not measured yet" and
    names them; one judged on some methods only names the others' missing branches after its verdict."""
    return [
        pai_ticket_row(data),
        pai_random_row(data),
        pai_shuffle_row(data),
        pai_reinit_row(data),
        pai_invert_row(data),
        pai_density_row(data),
    ]


CLAIMS = {"lenet": claims, "conv2": conv2_claims, "pai": pai_claims}


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
