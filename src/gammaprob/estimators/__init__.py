"""gammaprob.estimators."""
