"""gammaprob.data."""
