"""gammaprob.makers."""
