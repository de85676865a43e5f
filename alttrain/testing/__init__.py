"""Test helpers that ship with alttrain: a fault-injecting OpenAI-compatible server (chat and Batch API),
stand-in training rows (`standin`) and random Llama checkpoints (`random_model`)."""

from alttrain.testing.answers import BatchFault, Fault, FaultPlan
from alttrain.testing.fault_server import FaultServer, ServerStats, teacher_config
from alttrain.testing.process import FaultServerProcess

__all__ = ["BatchFault", "Fault", "FaultPlan", "FaultServer", "FaultServerProcess", "ServerStats", "teacher_config"]
