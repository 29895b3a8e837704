"""Attention inspection: plain records computed in a worker and the widgets that show them."""
