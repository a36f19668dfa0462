"""gammaprob.irf."""
