"""Training loop tools: Trainer, callbacks, history, cross-validation."""
from clt.train.callbacks import (Callback, CSVLogger, EarlyStopping, LambdaCallback,
                                 ModelCheckpoint)
from clt.train.history import History
from clt.train.trainer import Trainer, seed_everything
from clt.train.validation import (KFold, StratifiedKFold, cross_validate, format_cv,
                                  train_test_split)

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "History", "LambdaCallback",
           "ModelCheckpoint", "Trainer", "seed_everything", "KFold", "StratifiedKFold", "cross_validate",
           "format_cv", "train_test_split"]
