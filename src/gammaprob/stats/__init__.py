"""gammaprob.stats."""
