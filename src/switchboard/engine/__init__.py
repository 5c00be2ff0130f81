"""Continuous-batching inference on llama.cpp kernels.

Only ``runner`` imports llama.cpp; the scheduler, sampler and detokenizer are pure Python.
"""

from switchboard.engine.async_engine import AsyncEngine, EngineStats
from switchboard.engine.engine import LLMEngine, RequestOutput
from switchboard.engine.params import SamplingParams
from switchboard.engine.request import FINISH_REASONS, Request, RequestStatus
from switchboard.engine.scheduler import Scheduler, SchedulerConfig

__all__ = [
    "FINISH_REASONS",
    "AsyncEngine",
    "EngineStats",
    "LLMEngine",
    "Request",
    "RequestOutput",
    "RequestStatus",
    "SamplingParams",
    "Scheduler",
    "SchedulerConfig",
]
