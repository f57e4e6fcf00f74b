"""pli: the Priority Localities Index toolkit.

Rank small areas by crime harm, deprivation and demography, test for spatial
clustering, pick priority neighbourhoods and plan micro-patrols. See
``docs/ARCHITECTURE.md`` for the stages and the frames that flow between them.
"""

__version__ = "0.1.0"
