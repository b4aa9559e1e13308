"""Plasticity layer: trigger signal, tolerance, labile and mature synapses, set point, reinforcement."""
