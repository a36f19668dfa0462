"""gammaprob.simulate."""
