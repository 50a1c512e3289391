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
