"""High-level workflow: YAML configuration, the ``gammaprob`` command line."""
