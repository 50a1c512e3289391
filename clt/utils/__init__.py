"""Utilities: activation checkpointing, model summary, data-quality report, plots,
hyper-parameter tools, memory reports."""
from clt.utils.checkpoint import checkpoint, checkpoint_sequential
from clt.utils.data_report import DataReport, data_report
from clt.utils.summary import ModelSummary, summary

__all__ = ["DataReport", "ModelSummary", "checkpoint", "checkpoint_sequential", "data_report",
           "summary"]
