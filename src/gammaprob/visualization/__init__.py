"""gammaprob.visualization."""
