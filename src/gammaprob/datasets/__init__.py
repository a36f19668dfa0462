"""gammaprob.datasets."""
