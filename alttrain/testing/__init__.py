"""Test helpers that ship with alttrain, for tests and benches only: the product never imports them.

A fault-injecting OpenAI-compatible server (chat and Batch API), stand-in training rows (``standin``) and
randomly initialised Llama checkpoints (``random_model``).
"""

from alttrain.testing.answers import BatchFault, Fault, FaultPlan
from alttrain.testing.fault_server import FaultServer, ServerStats, teacher_config
from alttrain.testing.process import FaultServerProcess

__all__ = ["BatchFault", "Fault", "FaultPlan", "FaultServer", "FaultServerProcess", "ServerStats", "teacher_config"]
