"""Test helpers that ship with alttrain: a fault-injecting OpenAI-compatible server."""

from alttrain.testing.answers import Fault, FaultPlan
from alttrain.testing.fault_server import FaultServer, FaultServerProcess, ServerStats, teacher_config

__all__ = ["Fault", "FaultPlan", "FaultServer", "FaultServerProcess", "ServerStats", "teacher_config"]
