"""Tensor math on device storage, without autograd: one module per kernel family."""
