"""gammaprob.modeling."""
