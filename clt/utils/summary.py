"""``clt.summary(model, input_shape)``: layers, output shapes, parameters, FLOPs, memory."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class LayerInfo:
    """One row of a :class:`ModelSummary`: a leaf module.

    Attributes:
        name: The module's dotted name.
        kind: The module's class name.
        output_shape: Shape of its output.
        params: Number of parameter elements it owns.
        trainable: How many of them require grad.
        flops: Estimated floating-point operations of its forward.
    """
    name: str
    kind: str
    output_shape: tuple
    params: int
    trainable: int
    flops: int


@dataclass
class ModelSummary:
    """Per-layer table and totals of a model, as printed by ``str()``.

    Attributes:
        layers: One :class:`LayerInfo` per leaf module, in call order.
        total_params: Number of parameter elements.
        trainable_params: How many of them require grad.
        total_flops: Estimated forward FLOPs.
        param_bytes: Bytes of the parameters.
        activation_bytes: Bytes of the leaf modules' outputs.
        input_bytes: Bytes of the input.
    """
    layers: list[LayerInfo]
    total_params: int
    trainable_params: int
    total_flops: int
    param_bytes: int
    activation_bytes: int
    input_bytes: int

    def __str__(self) -> str:
        w = max([len(f"{lay.name} ({lay.kind})") for lay in self.layers] + [20])
        rows = [f"{'layer':<{w}}  {'output shape':<22} {'params':>12} {'FLOPs':>14}",
                "-" * (w + 52)]
        for lay in self.layers:
            rows.append(f"{f'{lay.name} ({lay.kind})':<{w}}  {str(list(lay.output_shape)):<22} "
                        f"{lay.params:>12,} {lay.flops:>14,}")
        rows.append("-" * (w + 52))
        rows.append(f"total params: {self.total_params:,} (trainable {self.trainable_params:,})")
        rows.append(f"forward FLOPs (estimate): {self.total_flops:,}")
        mib = 2 ** 20
        rows.append(f"memory (estimate): params {self.param_bytes / mib:.2f} MiB, activations "
                    f"{self.activation_bytes / mib:.2f} MiB, input {self.input_bytes / mib:.2f}"
                    f" MiB; training needs about params x 4 (grads, optimizer state) + "
                    f"activations")
        return "\n".join(rows)

    __repr__ = __str__


def _flops(module: Any, inputs: tuple, out: Any) -> int:
    kind = type(module).__name__
    numel = out.numel() if hasattr(out, "numel") else 0
    if kind == "Linear":
        return 2 * module.in_features * numel
    if kind in ("Conv1d", "Conv2d", "ConvTranspose2d"):
        k = math.prod(module.kernel_size) if hasattr(module, "kernel_size") else 1
        cin = module.in_channels // module.groups
        return 2 * cin * k * numel
    if kind in ("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"):
        return 5 * numel
    return numel


def summary(model: Any, input_shape: Sequence[int] | None = None, *, input: Any = None,
            dtype: Any = None, device: Any = None) -> ModelSummary:
    """Run one forward pass (no grad) on a zero input and tabulate every leaf layer.

    Args:
        model: the module.
        input_shape: the shape of one input batch (batch dim included).
        input: an example input instead of ``input_shape``.
    """
    from clt.autograd.grad_mode import no_grad
    from clt.functions.creation import zeros

    if input is None:
        if input_shape is None:
            raise ValueError("summary needs input_shape or input")
        first = next(iter(model.parameters()), None)
        dev = device if device is not None else (first.device if first is not None else None)
        input = zeros(tuple(input_shape), dtype=dtype or (first.dtype if first is not None
                                                           else None), device=dev)
    layers: list[LayerInfo] = []
    act = [0]
    handles = []
    for name, mod in model.named_modules():
        if any(True for _ in mod.children()):
            continue

        def hook(m: Any, inp: tuple, out: Any, name: str = name) -> None:
            o = out[0] if isinstance(out, (tuple, list)) else out
            shape = tuple(o.shape) if hasattr(o, "shape") else ()
            params = sum(p.numel() for p in m.parameters(recurse=False))
            trainable = sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad)
            layers.append(LayerInfo(name or type(m).__name__, type(m).__name__, shape, params,
                                    trainable, _flops(m, inp, o)))
            if hasattr(o, "nbytes"):
                act[0] += o.nbytes
        handles.append(mod.register_forward_hook(hook))
    was = model.training
    model.eval()
    try:
        with no_grad():
            model(input)
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    params = list(model.parameters())
    return ModelSummary(layers, sum(p.numel() for p in params),
                        sum(p.numel() for p in params if p.requires_grad),
                        sum(lay.flops for lay in layers), sum(p.nbytes for p in params),
                        act[0], input.nbytes)
