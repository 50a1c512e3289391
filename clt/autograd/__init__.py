"""Autograd: dynamic graph, backward engine, grad modes, custom Functions, gradcheck."""
from clt.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from clt.autograd.engine import backward, grad
from clt.autograd.function import Context, Function, Node
from clt.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                                    set_grad_enabled)
from clt.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

FunctionCtx = Context

__all__ = ["Context", "Function", "FunctionCtx", "GradcheckError", "Node", "backward",
           "detect_anomaly", "enable_grad", "grad", "gradcheck", "gradgradcheck",
           "inference_mode", "is_anomaly_enabled", "is_grad_enabled", "no_grad",
           "set_detect_anomaly", "set_grad_enabled"]


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of this tensor into the ``.grad`` of the graph's leaves."""
    backward(self, gradient, retain_graph, create_graph, inputs)


def _register_hook(self, hook):
    """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is None:
        self._hooks = (self._hooks or []) + [hook]
        hooks, entry = self._hooks, hook
    else:
        node = self.grad_fn
        node.out_hooks = node.out_hooks or {}
        hooks = node.out_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        entry = hook
    return _RemovableHandle(hooks, entry)


class _RemovableHandle:
    def __init__(self, hooks, entry):
        self._hooks, self._entry = hooks, entry

    def remove(self):
        if self._entry in self._hooks:
            self._hooks.remove(self._entry)


def _retain_grad(self):
    """Keep ``.grad`` for this non-leaf tensor after backward."""
    import weakref

    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.grad_fn is None:
        return
    self._retains_grad = True
    node = self.grad_fn
    node.retain = node.retain or {}
    node.retain[self._output_nr] = weakref.ref(self)


def _attach():
    from clt.autograd.engine import register_post_accumulate_grad_hook
    from clt.tensor import Tensor

    Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook
    Tensor.backward = _tensor_backward
    Tensor.register_hook = _register_hook
    Tensor.retain_grad = _retain_grad


_attach()
