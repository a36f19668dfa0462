"""gammaprob.catalog."""
