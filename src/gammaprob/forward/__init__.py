"""gammaprob.forward."""
