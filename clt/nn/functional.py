"""``clt.nn.functional`` (imported as ``F``): the functions that nn modules call."""
from clt.nn._aggregate import collect

__all__ = collect(globals(), [f"clt.nn._functional.{m}" for m in (
    "activation", "linear", "dropout", "embedding", "loss", "conv", "pool", "norm", "upsample",
    "rnn", "misc")])
