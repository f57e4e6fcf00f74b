"""Index presets: ``pli`` (Croydon Priority Localities Index), ``vli`` and ``imd``.

A preset supplies :class:`~pli.config.IndexSpec` defaults and a recommended indicator list
(``IndicatorSpec`` templates that refer to the conventional source names ``crime``,
``iod`` and ``population`` and the denominators ``population`` and ``households``).
Shipped configs copy the templates; a study selects a preset with ``index.preset`` and
may override any option.

Presets
-------
``pli`` - Croydon Priority Localities Index (default)
    Three domains. **Crime (50%)**: crime harm rate (CCHI days per 1,000 residents over
    the victim-reported categories; drugs and weapons are left out of harm because the
    CCHI excludes offences found by proactive policing) 35%, violence 20%, robbery 15%,
    weapons and drugs 15% (a marker of street-level drug markets and knife carrying,
    which community-safety partnerships task against), arson and criminal damage 15%;
    with police.uk data anti-social behaviour takes 15% and harm 30%, weapons and drugs
    10%, arson and damage 10%. **Deprivation (35%)**: IoD2019 income 40%, employment 30%,
    IDACI (child poverty) 30%. **Demography (15%)**: share of residents aged 15 to 24,
    the peak age of both offending and victimisation. Crime gets half the weight because
    the index steers community-safety resources; deprivation and demography add the
    vulnerability that makes the same crime level a higher priority. z-scores,
    arithmetic aggregation, skew/kurtosis outlier treatment (crime rates are heavily
    right-skewed in town centres).
``vli`` - Vulnerable Localities Index style (Chainey 2008, Jill Dando Institute)
    Six indicators as ratios to the study-area value x 100 (100 = average, the VLI reads
    scores above about 120 as vulnerable): burglary of a home per 1,000 households and
    criminal damage per 1,000 residents (crime), income and employment deprivation
    (deprivation), residents aged 15 to 24 (demography) and the IoD education score
    (education); equal weights, arithmetic mean. The original uses criminal damage *to a
    dwelling*, which the MPS LSOA table does not separate.
``imd`` - English IMD 2019 method
    The seven IoD2019 domains with the official weights (Income 22.5%, Employment 22.5%,
    Education 13.5%, Health 13.5%, Crime 9.3%, Barriers 9.3%, Living Environment 9.3%) and
    the exponential transformation of domain ranks. Templates use the published
    national domain ranks (1 = most deprived, so ``higher_is_better``) with
    ``exponential_reference_size=32844``, which reproduces the published IMD score.

Resolving a preset
------------------
:func:`resolve_index_spec` starts from the preset's ``IndexSpec`` and lets the study's
own values win. Config dataclasses have defaults, so "set explicitly" is read from the raw
YAML mapping of the ``index`` section when it is given (``cfg.raw.get("index")``);
without it, a value counts as explicit when it differs from the ``IndexSpec`` default.
An explicit ``domain_weights`` mapping replaces the preset's as a whole. The resolved
spec has ``preset=None`` so that resolving it again changes nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from pli.config import ConfigError, IndexSpec, IndicatorSpec, TreatmentSpec

__all__ = ["IMD_2019_DOMAIN_WEIGHTS", "PRESETS", "Preset", "get_preset", "recommended_indicators", "resolve_index_spec"]

logger = logging.getLogger(__name__)

IMD_2019_DOMAIN_WEIGHTS: dict[str, float] = {
    "income": 0.225,
    "employment": 0.225,
    "education": 0.135,
    "health": 0.135,
    "crime": 0.093,
    "barriers": 0.093,
    "living_environment": 0.093,
}
IMD_2019_REFERENCE_SIZE = 32844


@dataclass(frozen=True)
class Preset:
    """A named set of index options plus recommended indicators.

    Attributes
    ----------
    name, title, description : str
    index : IndexSpec
        Option defaults (``preset`` is the preset's own name).
    indicators : mapping
        Crime scheme (``"mps"`` or ``"police_uk"``) -> tuple of ``IndicatorSpec`` templates.
    """

    name: str
    title: str
    description: str
    index: IndexSpec
    indicators: Mapping[str, tuple[IndicatorSpec, ...]] = field(default_factory=dict)


def _rate(name: str, columns: tuple[str, ...], weight: float, label: str, *, harm: bool = False,
          denominator: str = "population") -> IndicatorSpec:
    return IndicatorSpec(name=name, source="crime", columns=columns, harm=harm, transform="rate",
                         denominator=denominator, domain="crime", weight=weight, label=label)


_IOD_INCOME = IndicatorSpec("income_deprivation", "iod", ("Income Score (rate)",), domain="deprivation",
                            weight=0.4, label="Income deprivation")
_IOD_EMPLOYMENT = IndicatorSpec("employment_deprivation", "iod", ("Employment Score (rate)",),
                                domain="deprivation", weight=0.3, label="Employment deprivation")
_IOD_IDACI = IndicatorSpec("child_poverty", "iod",
                           ("Income Deprivation Affecting Children Index (IDACI) Score (rate)",),
                           domain="deprivation", weight=0.3, label="Child poverty (IDACI)")
_YOUNG = IndicatorSpec("young_residents", "population", ("Age: Aged 15 to 19 years", "Age: Aged 20 to 24 years"),
                       transform="share", denominator="population", domain="demography", weight=1.0,
                       label="Residents aged 15-24")

_MPS_REACTIVE = (
    "VIOLENCE AGAINST THE PERSON/*", "SEXUAL OFFENCES/*", "ROBBERY/*", "BURGLARY/*", "THEFT/*",
    "VEHICLE OFFENCES/*", "ARSON AND CRIMINAL DAMAGE/*", "PUBLIC ORDER OFFENCES/*",
    "MISCELLANEOUS CRIMES AGAINST SOCIETY/*",
)
_POLICE_UK_REACTIVE = (
    "Violence and sexual offences", "Robbery", "Burglary", "Theft from the person", "Shoplifting",
    "Bicycle theft", "Other theft", "Vehicle crime", "Criminal damage and arson", "Public order", "Other crime",
)

_PLI_MPS = (
    _rate("crime_harm", _MPS_REACTIVE, 0.35, "Crime harm (CCHI days)", harm=True),
    _rate("violence", ("VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY",
                       "VIOLENCE AGAINST THE PERSON/VIOLENCE WITHOUT INJURY",
                       "VIOLENCE AGAINST THE PERSON/HOMICIDE"), 0.2, "Violence"),
    _rate("robbery", ("ROBBERY/*",), 0.15, "Robbery"),
    _rate("weapons_drugs", ("POSSESSION OF WEAPONS/*", "DRUG OFFENCES/*"), 0.15, "Weapons and drugs"),
    _rate("arson_damage", ("ARSON AND CRIMINAL DAMAGE/*",), 0.15, "Arson and criminal damage"),
    _IOD_INCOME, _IOD_EMPLOYMENT, _IOD_IDACI, _YOUNG,
)
_PLI_POLICE_UK = (
    _rate("crime_harm", _POLICE_UK_REACTIVE, 0.30, "Crime harm (CCHI days)", harm=True),
    _rate("violence", ("Violence and sexual offences",), 0.2, "Violence and sexual offences"),
    _rate("robbery", ("Robbery",), 0.15, "Robbery"),
    _rate("weapons_drugs", ("Possession of weapons", "Drugs"), 0.1, "Weapons and drugs"),
    _rate("arson_damage", ("Criminal damage and arson",), 0.1, "Arson and criminal damage"),
    _rate("asb", ("Anti-social behaviour",), 0.15, "Anti-social behaviour"),
    _IOD_INCOME, _IOD_EMPLOYMENT, _IOD_IDACI, _YOUNG,
)

_VLI_COMMON = (
    dataclasses.replace(_IOD_INCOME, weight=1.0),
    dataclasses.replace(_IOD_EMPLOYMENT, weight=1.0),
    _YOUNG,
    IndicatorSpec("education_deprivation", "iod", ("Education, Skills and Training Score",), domain="education",
                  label="Education, skills and training deprivation"),
)
_VLI_MPS = (
    _rate("burglary_dwelling", ("BURGLARY/RES BURGLARY OF A HOME",), 1.0, "Burglary of a home",
          denominator="households"),
    _rate("criminal_damage", ("ARSON AND CRIMINAL DAMAGE/CRIMINAL DAMAGE",), 1.0, "Criminal damage"),
) + _VLI_COMMON
_VLI_POLICE_UK = (
    _rate("burglary_dwelling", ("Burglary",), 1.0, "Burglary (all)", denominator="households"),
    _rate("criminal_damage", ("Criminal damage and arson",), 1.0, "Criminal damage and arson"),
) + _VLI_COMMON

_IMD_DOMAINS = (
    ("income", "Income Rank (where 1 is most deprived)", "Income"),
    ("employment", "Employment Rank (where 1 is most deprived)", "Employment"),
    ("education", "Education, Skills and Training Rank (where 1 is most deprived)", "Education, skills and training"),
    ("health", "Health Deprivation and Disability Rank (where 1 is most deprived)", "Health and disability"),
    ("crime", "Crime Rank (where 1 is most deprived)", "Crime"),
    (
        "barriers",
        "Barriers to Housing and Services Rank (where 1 is most deprived)",
        "Barriers to housing and services",
    ),
    ("living_environment", "Living Environment Rank (where 1 is most deprived)", "Living environment"),
)
_IMD = tuple(
    IndicatorSpec(f"imd_{d}_rank", "iod", (col,), domain=d, direction="higher_is_better", label=label)
    for d, col, label in _IMD_DOMAINS
)

PRESETS: dict[str, Preset] = {
    "pli": Preset(
        name="pli",
        title="Priority Localities Index",
        description="crime harm and volume (50%), deprivation (35%), young residents (15%); z-scores",
        index=IndexSpec(
            preset="pli",
            normalisation="zscore",
            weighting="manual",
            aggregation="arithmetic",
            domain_weights={"crime": 0.5, "deprivation": 0.35, "demography": 0.15},
            treatment=TreatmentSpec(outliers="skew_kurtosis"),
        ),
        indicators={"mps": _PLI_MPS, "police_uk": _PLI_POLICE_UK},
    ),
    "vli": Preset(
        name="vli",
        title="Vulnerable Localities Index (style)",
        description="ratios to the study-area value x 100, equal domain weights (Chainey 2008)",
        index=IndexSpec(preset="vli", normalisation="ratio", weighting="equal", aggregation="arithmetic"),
        indicators={"mps": _VLI_MPS, "police_uk": _VLI_POLICE_UK},
    ),
    "imd": Preset(
        name="imd",
        title="Index of Multiple Deprivation 2019 method",
        description="official IMD 2019 domain weights, exponential transformation of national domain ranks",
        index=IndexSpec(
            preset="imd",
            normalisation="exponential",
            weighting="manual",
            aggregation="arithmetic",
            domain_weights=dict(IMD_2019_DOMAIN_WEIGHTS),
            exponential_reference_size=IMD_2019_REFERENCE_SIZE,
        ),
        indicators={"mps": _IMD, "police_uk": _IMD},
    ),
}


def get_preset(name: str) -> Preset:
    """Look up a preset by name; a ``ConfigError`` suggests the closest name."""
    try:
        return PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError([f"index.preset: unknown preset {name!r} (known: {', '.join(PRESETS)}){hint}"]) from None


def recommended_indicators(name: str, *, scheme: str = "mps") -> tuple[IndicatorSpec, ...]:
    """The preset's indicator templates for a crime scheme (``"mps"`` or ``"police_uk"``)."""
    preset = get_preset(name)
    if scheme not in preset.indicators:
        raise ConfigError([f"preset {name!r} has templates for {', '.join(preset.indicators)}, not {scheme!r}"])
    return preset.indicators[scheme]


def _merge(cls: type, given: Any, base: Any, raw: Optional[Mapping[str, Any]], skip: tuple[str, ...]) -> dict:
    default = cls()
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        value = getattr(given, f.name)
        explicit = (f.name in raw) if raw is not None else value != getattr(default, f.name)
        changes[f.name] = value if explicit else getattr(base, f.name)
    return changes


def resolve_index_spec(index_spec: IndexSpec, *, raw: Optional[Mapping[str, Any]] = None) -> IndexSpec:
    """Apply ``index_spec.preset`` underneath the study's own options.

    Parameters
    ----------
    index_spec : IndexSpec
        As parsed from the config.
    raw : mapping, optional
        The raw YAML mapping of the ``index`` section (``cfg.raw.get("index")``); keys
        present there win over the preset even when equal to the dataclass default.
        Without it, values that differ from the ``IndexSpec`` defaults win.

    Returns
    -------
    IndexSpec
        With ``preset=None`` (already applied); unchanged if no preset was set.
    """
    if index_spec.preset is None:
        return index_spec
    preset = get_preset(index_spec.preset)
    base = preset.index
    changes = _merge(IndexSpec, index_spec, base, raw, skip=("preset", "treatment"))
    raw_t = raw.get("treatment") if raw is not None else None
    if raw is not None and not isinstance(raw_t, Mapping):
        raw_t = {} if "treatment" not in raw else None
    treatment = TreatmentSpec(**_merge(TreatmentSpec, index_spec.treatment, base.treatment, raw_t, skip=()))
    resolved = IndexSpec(preset=None, treatment=treatment, **changes)
    overridden = [k for k in changes if changes[k] != getattr(base, k)]
    logger.info(
        "index preset %r applied%s",
        preset.name,
        f"; config overrides {', '.join(overridden)}" if overridden else "",
    )
    return resolved
