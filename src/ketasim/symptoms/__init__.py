"""Symptoms layer: MADRS from the model states, other rating scales, dissociation."""
