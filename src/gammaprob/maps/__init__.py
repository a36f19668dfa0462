"""gammaprob.maps."""
