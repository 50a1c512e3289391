"""Differentiable Tensor-level functions, one module per family; importing them attaches the
Tensor methods."""
