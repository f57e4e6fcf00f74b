"""Study-area configuration: one YAML file per study area, parsed into frozen dataclasses.

Every stage's options live here, so data flows one way (config -> boundaries ->
indicators -> index -> clustering -> priorities -> patrols -> maps/outputs) and each
stage imports only the spec it needs.

The YAML is validated against the dataclass annotations: unknown keys and wrong types
are collected and raised together in one :class:`ConfigError`, each naming the key
path and, for misspellings, the closest valid key.

Modules: ``specs`` (the dataclasses, each key documented in its docstring),
``yaml_reading`` (safe YAML), ``parsing`` (:func:`parse_config`, :func:`load_config`)
and ``reference`` (``docs/CONFIG.md`` and ``pli config --explain``, generated from the
specs).
"""

from pli.config.parsing import check_seed, direction_warnings, load_config, parse_config
from pli.config.specs import (
    AreaLookupSpec,
    AreaSpec,
    BoundariesSpec,
    BoundaryLayerSpec,
    ClusteringSpec,
    ConfigError,
    DenominatorSpec,
    IndexSpec,
    IndicatorSpec,
    MapSpec,
    OutputSpec,
    PatrolSpec,
    PrioritySpec,
    SourceKind,
    SourceSpec,
    StudyConfig,
    TreatmentSpec,
    UpperFromTableSpec,
    VintageLookupSpec,
    default_data_dir,
)
from pli.config.yaml_reading import MAX_ALIASES, MAX_CONFIG_BYTES, MAX_NODES, MAX_NUMBER, read_yaml

__all__ = [
    "MAX_ALIASES",
    "MAX_CONFIG_BYTES",
    "MAX_NODES",
    "MAX_NUMBER",
    "AreaLookupSpec",
    "AreaSpec",
    "BoundariesSpec",
    "BoundaryLayerSpec",
    "ClusteringSpec",
    "ConfigError",
    "DenominatorSpec",
    "IndexSpec",
    "IndicatorSpec",
    "MapSpec",
    "OutputSpec",
    "PatrolSpec",
    "PrioritySpec",
    "SourceKind",
    "SourceSpec",
    "StudyConfig",
    "TreatmentSpec",
    "UpperFromTableSpec",
    "VintageLookupSpec",
    "check_seed",
    "direction_warnings",
    "default_data_dir",
    "load_config",
    "parse_config",
    "read_yaml",
]
