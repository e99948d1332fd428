"""Helpers for users' own property tests: Hypothesis strategies over layers and inputs."""

from .strategies import boolean_inputs, dims, layers, planted_layers

__all__ = ["boolean_inputs", "dims", "layers", "planted_layers"]
