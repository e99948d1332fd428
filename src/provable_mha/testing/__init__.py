"""Helpers for users' own property tests: Hypothesis strategies over layers and inputs, planted data."""

from .planted import planted_data
from .strategies import boolean_inputs, dims, layers, planted_layers

__all__ = ["boolean_inputs", "dims", "layers", "planted_layers", "planted_data"]
