"""High-level workflow: YAML configuration, the :class:`Analysis` steps, the ``gammaprob`` CLI.

Names are imported on first use (:func:`gammaprob.utils.lazy.lazy_exports`).
"""

from gammaprob.utils.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        ".analysis": ("Analysis", "AnalysisError", "library_models"),
        ".config": ("AnalysisConfig", "ConfigError"),
        ".templates": ("TEMPLATES", "template"),
    },
)

__all__ = [
    "TEMPLATES",
    "Analysis",
    "AnalysisConfig",
    "AnalysisError",
    "ConfigError",
    "library_models",
    "template",
]
