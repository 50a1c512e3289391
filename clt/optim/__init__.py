"""Optimizers and learning-rate schedulers with PyTorch's names and semantics.

Every optimizer updates its parameters with fused kernels (gradient, weight decay, moments and
the parameter write in a single pass over memory; one launch serves 8 parameters), keeps step
counters on the host, and never waits for the device inside ``step()``. Hyper-parameters are
kernel arguments, so changing ``lr`` every step (schedulers) never rebuilds a kernel.
"""
from clt.optim import lr_scheduler
from clt.optim.adadelta import Adadelta
from clt.optim.adagrad import Adagrad
from clt.optim.adam import Adam
from clt.optim.adamw import AdamW
from clt.optim.lion import Lion
from clt.optim.optimizer import Optimizer, required
from clt.optim.rmsprop import RMSprop
from clt.optim.sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Lion", "Optimizer", "RMSprop", "SGD",
           "lr_scheduler", "required"]
