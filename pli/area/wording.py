"""Words for the study area: what kind of area it is, and which of its data are real.

Maps, summaries and messages say "borough", "district", "force area" or "region" as
the config says (``area.type``), or as the local-authority code implies; and a run
with simulated or missing sources names exactly those, not the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass

from pli.config import AreaSpec, StudyConfig

__all__ = [
    "CRIME_KINDS",
    "DataNotes",
    "area_type",
    "data_notes",
    "with_data_notes",
]


# ONS local-authority code prefixes -> the word people use for that authority.
_PREFIX_TYPES = {
    "E09": "borough",   # London boroughs
    "E08": "district",  # metropolitan districts
    "E07": "district",  # non-metropolitan districts
    "E06": "district",  # unitary authorities
    "W06": "district",  # Welsh unitary authorities
}


CRIME_KINDS = frozenset({"police_uk", "mps_lsoa_crime", "points"})


"""Source kinds that hold crime records."""


def area_type(area: AreaSpec) -> str:
    """``area.type``, else what the area is named by: a borough, a district, a force area.

    Examples
    --------
    >>> from pli.config import AreaSpec
    >>> area_type(AreaSpec(name="Leeds", lad_codes=("E08000035",)))
    'district'
    >>> area_type(AreaSpec(name="West Yorkshire", police_force="West Yorkshire"))
    'force area'
    >>> area_type(AreaSpec(name="Somewhere"))
    'area'
    """
    if area.type:
        return area.type
    codes = area.authority_codes()
    kinds = {_PREFIX_TYPES.get(code[:3]) for code in codes}
    if area.police_force and not codes:
        return "force area"
    kind = kinds.pop() if len(kinds) == 1 else None
    return kind if kind is not None and len(codes) == 1 else "area"


@dataclass(frozen=True)
class DataNotes:
    """What in a run is simulated and what is absent, said per source and per domain.

    Attributes
    ----------
    simulated : tuple of str
        One phrase per simulated source: ``"crime (source 'crime': crime domain)"``.
    absent : tuple of str
        One phrase per missing part: ``"no crime source: no crime domain, no crime harm shares"``.
    real : tuple of str
        Names of the sources that are not simulated.
    simulated_domains : tuple of str
        Index domains fed by a simulated source (``("crime", "deprivation")``).
    """

    simulated: tuple[str, ...]
    absent: tuple[str, ...]
    real: tuple[str, ...]
    simulated_domains: tuple[str, ...] = ()

    def short(self) -> str:
        """``"SIMULATED: crime, deprivation"`` (or ``""``) for titles and credits."""
        if not self.simulated:
            return ""
        return "SIMULATED: " + (", ".join(self.simulated_domains) or "some inputs")

    def sentences(self) -> list[str]:
        """The notes as lines for a summary, a manifest or a map (empty when all is real and present)."""
        lines = []
        if self.simulated:
            real = f"; real: {', '.join(self.real)}" if self.real else ""
            lines.append(f"SIMULATED data: {'; '.join(self.simulated)}{real}.")
        lines.extend(f"Absent: {a}." for a in self.absent)
        return lines

    def __str__(self) -> str:
        return " ".join(self.sentences())


def data_notes(cfg: StudyConfig) -> DataNotes:
    """Which sources are simulated (``sources.<name>.simulated``) and which parts are missing.

    A crime source is one of :data:`CRIME_KINDS` feeding an indicator. Without one the
    index has no crime domain and neighbourhoods carry no share of crime harm; without a
    ``deprivation`` indicator it has no deprivation domain. ``area.simulated`` with no
    source marked says that something is simulated without knowing what.

    Examples
    --------
    >>> from pli.config import default_data_dir, load_config
    >>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    >>> data_notes(cfg).short()
    'SIMULATED: crime, deprivation'
    >>> data_notes(cfg).simulated[0]
    "source 'crime' (police_uk: crime domain)"
    """
    used = {ind.source for ind in cfg.indicators}
    domains: dict[str, list[str]] = {}
    for ind in cfg.indicators:
        domains.setdefault(ind.source, [])
        if ind.domain not in domains[ind.source]:
            domains[ind.source].append(ind.domain)
    simulated = []
    for name, src in cfg.sources.items():
        if src.simulated:
            fed = domains.get(name, [])
            plural = "s" if len(fed) > 1 else ""
            simulated.append(f"source {name!r} ({src.kind}: {', '.join(fed) or 'no indicator'} domain{plural})")
    if cfg.area.simulated and not simulated:
        simulated.append("some inputs (the config does not say which: mark them with sources.<name>.simulated: true)")
    real = tuple(name for name, src in cfg.sources.items() if not src.simulated)
    sim_domains = tuple(dict.fromkeys(d for name, src in cfg.sources.items() if src.simulated
                                      for d in domains.get(name, [])))
    absent = []
    if not any(cfg.sources[s].kind in CRIME_KINDS for s in used if s in cfg.sources):
        absent.append("no crime source, so no crime domain and no share of crime harm per neighbourhood")
    if not any(ind.domain == "deprivation" for ind in cfg.indicators):
        absent.append("no deprivation indicator (e.g. IoD), so no deprivation domain")
    return DataNotes(tuple(simulated), tuple(absent), real, sim_domains)


def with_data_notes(cfg: StudyConfig) -> StudyConfig:
    """The config with ``area.data_notes`` and ``area.simulated_domains`` computed from its sources.

    Maps see only the area, so the notes travel on it; recomputed whenever the sources
    may have changed (parsing, and the start of a run).
    """
    import dataclasses

    notes = data_notes(cfg)
    area = dataclasses.replace(cfg.area, data_notes=tuple(notes.sentences()), simulated_domains=notes.simulated_domains)
    return dataclasses.replace(cfg, area=area)
