"""LSOA vintages: the ONS 2011 <-> 2021 lookup and reconciliation of tables keyed by the
other vintage (splits summed or averaged, merges summed, complex changes refused)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pli._codes import isin_text, list_codes, normalise_codes
from pli.boundaries.reading import _check_columns, _read_table
from pli.config import SourceSpec, VintageLookupSpec
from pli.errors import InputError

__all__ = [
    "CodeReconciler",
    "Reconciled",
    "read_vintage_lookup",
    "reconcile_codes",
    "study_area_codes",
    "unmatched_codes",
]

logger = logging.getLogger(__name__)


_CHANGE_CODES = {"U": "unchanged", "S": "split", "M": "merged", "X": "complex"}


@dataclass(frozen=True, eq=False)
class Reconciled:
    """A table brought onto the boundary vintage by :func:`reconcile_codes`.

    Attributes
    ----------
    table : DataFrame
        Indexed ``lsoa_code`` in the target vintage (only codes that received a
        value, in the order of ``target_codes``); same columns as the input.
    dropped_codes : tuple of str
        Input codes found neither among the target codes nor in the lookup (or that
        map only to LSOAs outside the target set); their rows are not in ``table``.
    mapped_codes : int
        Number of input codes translated through the lookup.
    totals_before, totals_after, totals_dropped : Series
        Column sums of the input, the output and the dropped rows. For
        ``aggregation="sum"`` ``totals_before == totals_after + totals_dropped``.
    aggregation : str
        ``"sum"`` or ``"mean"``.
    target_vintage : int
        2011 or 2021.
    """

    table: pd.DataFrame
    dropped_codes: tuple[str, ...]
    mapped_codes: int
    totals_before: pd.Series
    totals_after: pd.Series
    totals_dropped: pd.Series
    aggregation: str = "sum"
    target_vintage: int = 2011

    def to_frame(self) -> pd.DataFrame:
        """Column totals before, after and dropped: one row per column of the table."""
        return pd.DataFrame(
            {"before": self.totals_before, "after": self.totals_after, "dropped": self.totals_dropped}
        )

    def __repr__(self) -> str:
        return (
            f"Reconciled({len(self.table)} LSOAs ({self.target_vintage}), {self.mapped_codes} mapped, "
            f"{len(self.dropped_codes)} dropped, aggregation={self.aggregation!r})"
        )


def read_vintage_lookup(
    spec: VintageLookupSpec,
    *,
    resolve: Callable[[str], Path] = Path,
) -> pd.DataFrame:
    """Read an ONS LSOA 2011 -> 2021 lookup.

    Parameters
    ----------
    spec : VintageLookupSpec
        The CSV and its LSOA11, LSOA21 and (optional) change-indicator columns.
    resolve : callable
        Turns the configured path into a file path (``cfg.resolve``).

    Returns
    -------
    DataFrame
        Columns ``lsoa11``, ``lsoa21`` and ``change`` (``U`` unchanged, ``S`` split,
        ``M`` merged, ``X`` complex), one row per distinct pair. Without a change
        column the change is derived from how often each code appears.

    Raises
    ------
    InputError
        Columns missing, empty codes, unknown change codes, or one pair given two
        change codes.
    """
    path = Path(resolve(spec.path))
    what = "LSOA vintage lookup"
    raw = _read_table(path, what=what)
    _check_columns(
        raw,
        {
            "from_2011_column": spec.from_2011_column,
            "to_2021_column": spec.to_2021_column,
            "change_column": spec.change_column,
        },
        what=what,
        path=path,
    )
    lk = pd.DataFrame(
        {
            "lsoa11": normalise_codes(raw[spec.from_2011_column], where=f"{what} ({path.name})",
                                      column=spec.from_2011_column),
            "lsoa21": normalise_codes(raw[spec.to_2021_column], where=f"{what} ({path.name})",
                                      column=spec.to_2021_column),
        }
    )
    empty = lk.isna().any(axis=1) | lk.eq("").any(axis=1)
    if empty.any():
        rows = np.flatnonzero(empty.to_numpy()) + 2  # +2: header line and 1-based lines
        raise InputError(
            f"{what}: {int(empty.sum())} row(s) lack an LSOA code (lines {list_codes(rows)}); every row "
            f"needs both {spec.from_2011_column!r} and {spec.to_2021_column!r}",
            path=str(path),
        )
    n11 = lk.groupby("lsoa11")["lsoa21"].transform("nunique")
    n21 = lk.groupby("lsoa21")["lsoa11"].transform("nunique")
    derived = np.select(
        [(n11 > 1) & (n21 > 1), n11 > 1, n21 > 1], ["X", "S", "M"], default="U"
    )
    if spec.change_column is None:
        lk["change"] = pd.array(derived, dtype="str")
    else:
        change = raw[spec.change_column].str.strip().str.upper()
        unknown = ~change.isin(list(_CHANGE_CODES))
        if unknown.any():
            raise InputError(
                f"{what}: column {spec.change_column!r} must hold U, S, M or X, found "
                f"{list_codes(sorted(change[unknown].fillna('<empty>').unique()))}; or set change_column: null "
                "to derive changes from the codes",
                path=str(path),
            )
        lk["change"] = change
    lk = lk.drop_duplicates()
    clash = lk[lk.duplicated(["lsoa11", "lsoa21"], keep=False)]
    if len(clash):
        raise InputError(
            f"{what}: {len(clash)} rows give the same LSOA pair different change codes: "
            f"{list_codes((clash['lsoa11'] + '->' + clash['lsoa21']).unique())}",
            path=str(path),
        )
    counts = lk["change"].value_counts()
    logger.info(
        "vintage lookup: %d pairs (%s) from %s",
        len(lk),
        ", ".join(f"{k} {v}" for k, v in counts.items()),
        path.name,
    )
    # Code order, so sums over several source LSOAs add up in the same order every run.
    return lk.sort_values(["lsoa11", "lsoa21"], kind="mergesort").reset_index(drop=True)


def unmatched_codes(
    codes: pd.Index | Sequence[str],
    lookup: pd.DataFrame | None,
    *,
    target_codes: pd.Index | Sequence[str],
    target_vintage: Literal[2011, 2021],
) -> pd.Index:
    """The codes :func:`reconcile_codes` drops: neither target codes nor mapped onto one.

    Parameters
    ----------
    codes : Index or sequence of str
        LSOA codes of a source table (either vintage).
    lookup : DataFrame or None
        From :func:`read_vintage_lookup`; ``None`` when there is no lookup, so only
        target codes match.
    target_codes : Index
        The LSOA codes of the boundary layer.
    target_vintage : {2011, 2021}
        Vintage of ``target_codes``.

    Returns
    -------
    Index
        The unmatched codes, in input order (stripped strings).
    """
    codes = pd.Index(pd.Index(codes).astype(str).str.strip())
    target = pd.Index(target_codes).astype(str)
    pending = codes[~codes.isin(target)]
    if lookup is None or not len(pending):
        return pending
    src_col, tgt_col = ("lsoa21", "lsoa11") if target_vintage == 2011 else ("lsoa11", "lsoa21")
    reachable = lookup.loc[lookup[tgt_col].isin(target), src_col]
    return pending[~pending.isin(reachable)]


def reconcile_codes(
    table: pd.DataFrame,
    lookup: pd.DataFrame,
    *,
    target_codes: pd.Index | Sequence[str],
    target_vintage: Literal[2011, 2021],
    aggregation: Literal["sum", "mean"] = "sum",
    source: str = "table",
) -> Reconciled:
    """Bring an LSOA-keyed table onto the target LSOA vintage.

    Parameters
    ----------
    table : DataFrame
        Numeric columns, indexed by unique LSOA codes of either vintage or a mix of
        both (police.uk 2022-23 uses 2011 and 2021 codes side by side).
    lookup : DataFrame
        From :func:`read_vintage_lookup` (``lsoa11``, ``lsoa21``, ``change``).
    target_codes : Index
        The LSOA codes of the boundary layer.
    target_vintage : {2011, 2021}
        Vintage of ``target_codes``.
    aggregation : {"sum", "mean"}
        ``sum`` for counts, ``mean`` for intensive values (scores, rates).
    source : str
        Name of the table, used in messages.

    Returns
    -------
    Reconciled

    Raises
    ------
    InputError
        Duplicated codes or non-numeric columns in ``table``; a code whose change is
        complex (CHGIND ``X`` or many-to-many); a count (``sum``) that would have to
        be split between several target LSOAs.

    Notes
    -----
    Codes already in ``target_codes`` pass through. Other codes go through the
    lookup: several source LSOAs forming one target LSOA (a split going 2021 -> 2011,
    a merge going 2011 -> 2021) are summed or averaged (unweighted); one source LSOA
    covering several target LSOAs has its value copied to each for ``mean`` and
    raises for ``sum``. When a target code has both its own value and values mapped
    to it (mixed vintages), ``sum`` adds them and ``mean`` keeps its own value.
    Codes found nowhere are dropped and logged.
    """
    if aggregation not in ("sum", "mean"):
        raise ValueError(f"aggregation must be 'sum' or 'mean', got {aggregation!r}")
    if target_vintage not in (2011, 2021):
        raise ValueError(f"target_vintage must be 2011 or 2021, got {target_vintage!r}")
    missing_cols = {"lsoa11", "lsoa21", "change"} - set(lookup.columns)
    if missing_cols:
        raise ValueError(f"lookup lacks columns {sorted(missing_cols)}; read it with read_vintage_lookup")

    codes = pd.Index(table.index.astype(str).str.strip(), name="lsoa_code")
    dup = codes[codes.duplicated()]
    if len(dup):
        raise InputError(
            f"source {source!r}: LSOA codes must be unique before reconciliation but "
            f"{dup.nunique()} repeat: {list_codes(sorted(dup.unique()))}"
        )
    non_numeric = [str(c) for c, t in table.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if non_numeric:
        raise InputError(
            f"source {source!r}: columns must be numeric to reconcile LSOA vintages, but "
            f"{list_codes(non_numeric)} are not"
        )
    values = table.set_axis(codes, axis=0)
    target = pd.Index(pd.Index(target_codes).astype(str), name="lsoa_code")
    src_col, tgt_col = ("lsoa21", "lsoa11") if target_vintage == 2011 else ("lsoa11", "lsoa21")

    direct = isin_text(codes, target)
    pending = codes[~direct]
    # Degrees over the whole lookup describe the real relationship between vintages.
    lk = lookup.assign(
        n_targets=lookup.groupby(src_col)[tgt_col].transform("nunique"),
        n_sources=lookup.groupby(tgt_col)[src_col].transform("nunique"),
    )
    rel = lk[isin_text(lk[src_col], pending) & isin_text(lk[tgt_col], target)]

    # Many-to-many taints every pair touching it, so a code mapped cleanly into a
    # target that also receives part of another code is caught too.
    tangled = lk["change"].eq("X") | ((lk["n_targets"] > 1) & (lk["n_sources"] > 1))
    complex_ = rel[
        isin_text(rel[src_col], lk.loc[tangled, src_col]) | isin_text(rel[tgt_col], lk.loc[tangled, tgt_col])
    ]
    if len(complex_):
        pairs = (complex_[src_col] + "->" + complex_[tgt_col]).unique()
        raise InputError(
            f"source {source!r}: {complex_[src_col].nunique()} LSOA code(s) changed in a complex way "
            f"between 2011 and 2021 (CHGIND X or many-to-many), so their values cannot be moved to "
            f"{target_vintage} LSOAs exactly: {list_codes(pairs)}; supply this source in the "
            f"{target_vintage} vintage or use best-fit boundaries"
        )
    spread = rel[rel["n_targets"] > 1]
    if len(spread) and aggregation == "sum":
        src = sorted(spread[src_col].unique())
        raise InputError(
            f"source {source!r}: {len(src)} LSOA code(s) each became several {target_vintage} LSOAs and "
            f"hold counts (aggregation: sum), which cannot be split without extra data: "
            f"{list_codes(src)}; supply the source in the {target_vintage} vintage, or use "
            f"aggregation: mean if the values are rates or scores"
        )

    mapped_src = pd.Index(rel[src_col].unique())
    dropped = pending.difference(mapped_src, sort=False)
    direct_part = values[direct]
    mapped_part = values.iloc[codes.get_indexer(rel[src_col])].set_axis(
        pd.Index(rel[tgt_col].to_numpy(), name="lsoa_code"), axis=0
    )
    if aggregation == "sum":
        combined = pd.concat([direct_part, mapped_part]).groupby(level=0, sort=False).sum(min_count=1)
    else:
        mapped_mean = mapped_part.groupby(level=0, sort=False).mean()
        both = mapped_mean.index.intersection(direct_part.index)
        if len(both):
            logger.info(
                "%s: %d LSOAs have values under both vintages; kept their own %d values: %s",
                source,
                len(both),
                target_vintage,
                list_codes(both),
            )
        combined = pd.concat([direct_part, mapped_mean.drop(index=both)])

    # A target assembled from only some of its source LSOAs understates sums.
    assembled = rel[(rel["n_sources"] > 1) & ~rel[tgt_col].isin(codes)][tgt_col].unique()
    if len(assembled):
        expected = lk[lk[tgt_col].isin(assembled)]
        absent = expected[~expected[src_col].isin(codes)]
        if len(absent):
            logger.warning(
                "%s: %d %d LSOAs built from only some of their source LSOAs (missing %s)",
                source,
                absent[tgt_col].nunique(),
                target_vintage,
                list_codes(absent[src_col].unique()),
            )

    combined = combined.reindex(target[target.isin(combined.index)])
    combined.index.name = "lsoa_code"
    if len(dropped):
        logger.warning(
            "%s: dropped %d LSOA code(s) found neither among the %d %d LSOAs nor in the vintage lookup: %s",
            source,
            len(dropped),
            len(target),
            target_vintage,
            list_codes(dropped),
        )
    logger.info(
        "%s: %d codes -> %d %d LSOAs (%d mapped through the lookup, %d dropped, aggregation %s)",
        source,
        len(codes),
        len(combined),
        target_vintage,
        len(mapped_src),
        len(dropped),
        aggregation,
    )
    return Reconciled(
        table=combined,
        dropped_codes=tuple(dropped),
        mapped_codes=len(mapped_src),
        totals_before=values.sum(),
        totals_after=combined.sum(),
        totals_dropped=values.loc[dropped].sum(),
        aggregation=aggregation,
        target_vintage=target_vintage,
    )


class CodeReconciler:
    """Brings each source's LSOA-keyed table onto the boundary vintage, and remembers what it did.

    Call it like :func:`reconcile_codes` without the lookup and targets:
    ``reconciler(table, aggregation="sum", source="crime")``. Without a vintage lookup,
    codes must already match the boundaries: an empty lookup makes unmatched codes
    dropped and reported rather than guessed.

    Parameters
    ----------
    boundaries : Boundaries
        The boundary LSOAs (their codes and vintage) and the vintage lookup, if any.
    sources : mapping of str to SourceSpec
        The config's sources: an ``lsoa_table`` whose codes need the lookup must say how
        its columns aggregate (``aggregation: sum`` or ``mean``).

    Attributes
    ----------
    records_ : dict
        Source name -> ``{"mapped_codes": int, "dropped_codes": [...]}`` for the manifest.
    """

    def __init__(self, boundaries, sources: Mapping[str, SourceSpec]):
        self.boundaries = boundaries
        self.sources = sources
        lookup = boundaries.lookup
        if lookup is None:
            lookup = pd.DataFrame({"lsoa11": pd.Series(dtype=str), "lsoa21": pd.Series(dtype=str),
                                   "change": pd.Series(dtype=str)})
        self._lookup = lookup
        self.records_: dict[str, dict] = {}

    def __call__(self, table: pd.DataFrame, *, aggregation: Literal["sum", "mean"] = "sum",
                 source: str = "") -> pd.DataFrame:
        result = reconcile_codes(
            table, self._lookup, target_codes=self.boundaries.lsoa.index,
            target_vintage=self.boundaries.lsoa_vintage, aggregation=aggregation, source=source,
        )
        spec = self.sources.get(source)
        if spec is not None and spec.kind == "lsoa_table" and spec.aggregation is None and result.mapped_codes > 0:
            raise InputError(
                f"sources.{source}.aggregation: {int(result.mapped_codes)} of the table's LSOA codes had to be "
                f"mapped to {self.boundaries.lsoa_vintage} LSOAs through the vintage lookup; set aggregation: "
                "sum if its columns are counts, or mean if they are scores or rates"
            )
        self.records_[source] = {"mapped_codes": int(result.mapped_codes),
                                 "dropped_codes": list(result.dropped_codes)}
        return result.table


def study_area_codes(boundaries) -> frozenset[str]:
    """The boundary LSOA codes and every code the vintage lookup links to them.

    Sources may key their records by either LSOA vintage, so a reader that leaves other
    areas' records unread (the streaming police.uk reader) is given both; records outside
    the study area that slip through are dropped and counted later as usual.

    Examples
    --------
    >>> import pandas as pd, geopandas as gpd
    >>> from types import SimpleNamespace
    >>> lsoa = gpd.GeoDataFrame(index=pd.Index(["E01000001"], name="lsoa_code"), geometry=[None])
    >>> lookup = pd.DataFrame({"lsoa11": ["E01000001", "E01000002"], "lsoa21": ["E01035001", "E01035002"]})
    >>> sorted(study_area_codes(SimpleNamespace(lsoa=lsoa, lookup=lookup)))
    ['E01000001', 'E01035001']
    """
    codes = set(map(str, boundaries.lsoa.index))
    lookup = getattr(boundaries, "lookup", None)
    if lookup is not None and len(lookup):
        linked = lookup["lsoa11"].isin(codes) | lookup["lsoa21"].isin(codes)
        codes |= set(lookup.loc[linked, "lsoa11"].astype(str)) | set(lookup.loc[linked, "lsoa21"].astype(str))
    return frozenset(codes)
