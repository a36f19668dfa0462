"""gammaprob.likelihood."""
