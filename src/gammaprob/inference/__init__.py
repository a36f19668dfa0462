"""gammaprob.inference."""
