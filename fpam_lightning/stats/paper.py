"""The FPAM paper's published numbers: the one place the code and the summaries read them from.

5-fold mean accuracy in %, official folds (docs/method.md). The paper's baseline is the
authors' own ResNet50 baseline (`model.baseline=authors` reproduces how they trained it: logits
through a sigmoid and a clamp before the cross-entropy); its backbone is AudioSet-pretrained.
"""

from __future__ import annotations

from typing import Any

# (attention, mixup) -> data set -> accuracy (%). attention "none" is the ResNet50 baseline.
PAPER_ACCURACY: dict[tuple[str, bool], dict[str, float]] = {
    ("none", False): {"esc10": 97.0, "esc50": 86.2},
    ("fpam", False): {"esc10": 99.3, "esc50": 91.6},
    ("none", True): {"esc10": 95.7, "esc50": 85.9},
    ("fpam", True): {"esc10": 98.5, "esc50": 90.5},
}

DATASETS = ("esc10", "esc50")  # the paper's columns, in its order
TABLE_2 = [("none", False), ("fpam", False)]  # baseline against FPAM, no mixup
TABLE_3 = [("none", False), ("none", True), ("fpam", False), ("fpam", True)]  # x mixup


def paper_accuracy(attention: str, mixup: bool, dataset: str) -> float | None:
    return PAPER_ACCURACY.get((attention, bool(mixup)), {}).get(dataset)


# --- the paper's tables, rendered from summary rows ----------------------------------------------
_CELL_KEYS = ("attention", "mixup", "data", "experiment")  # what a table's cells vary


def _group(row: dict[str, Any]) -> str:
    """Rows that may share a table: same backbone, reading and every other setting."""
    rest = {k: v for k, v in row["params"].items() if not any(c in k for c in _CELL_KEYS)}
    parts = [f"{row.get('backbone')}", f"variant={row.get('variant')}"]
    return ", ".join(parts + [f"{k}={v}" for k, v in sorted(rest.items())])


def _label(backbone: str, attention: str, mixup: bool) -> str:
    name = f"{backbone} baseline" if attention == "none" else f"{backbone} + {attention.upper()}"
    return name + (" + mixup" if mixup else "")


def _table(title, group, cells, order, datasets) -> dict[str, Any] | None:
    from .compare import adjust, compare_rows

    present = [ds for ds in datasets if sum((a, m, ds) in cells for a, m in order) >= 2]
    if not present:
        return None
    backbone = next(iter(cells.values())).get("backbone")
    rows = []
    for att, mix in order:
        ours, delta, paper, paper_delta = [], [], [], []
        for ds in present:
            row, ref = cells.get((att, mix, ds)), cells.get((*order[0], ds))
            ours.append({"mean": row["mean"], "interval": row["interval"]} if row else None)
            is_ref = (att, mix) == order[0]
            delta.append(compare_rows(row, ref) if row and ref and not is_ref else None)
            p, p_ref = paper_accuracy(att, mix, ds), paper_accuracy(*order[0], ds)
            paper.append(p)
            paper_delta.append(None if is_ref or p is None or p_ref is None else p - p_ref)
        rows.append(
            {"model": _label(backbone, att, mix), "attention": att, "mixup": mix, "ours": ours,
             "delta": delta, "paper": paper, "paper_delta": paper_delta}
        )  # fmt: skip
    adjust([d for r in rows for d in r["delta"]])  # one family per table
    return {"title": title, "group": group, "datasets": present, "rows": rows}


def paper_tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table 2 (baseline against FPAM) and Table 3 (x mixup), where a sweep holds their rows."""
    groups: dict[str, dict[tuple, dict]] = {}
    ambiguous: set[str] = set()
    for r in rows:
        if not r["n_completed"] or r.get("dataset") not in DATASETS:
            continue
        key = (r.get("attention"), bool(r.get("mixup")), r.get("dataset"))
        cells = groups.setdefault(_group(r), {})
        if key in cells:
            ambiguous.add(_group(r))  # two rows for one cell: no single table to draw
        cells[key] = r
    tables = []
    for group, cells in groups.items():
        if group in ambiguous:
            continue
        for title, order in (("Table 2: baseline against FPAM", TABLE_2),
                             ("Table 3: attention x mixup", TABLE_3)):  # fmt: skip
            if title.startswith("Table 3") and not any(m for _, m, _ in cells):
                continue  # no mixup row: Table 3 would repeat Table 2
            t = _table(title, group, cells, order, DATASETS)
            if t is not None:
                tables.append(t)
    return tables
