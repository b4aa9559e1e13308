"""Receptor layer: NMDA occupancy from effect-site concentrations."""
