"""Tasks: one flow each (embedding, ...), called by the harness with the run context."""

from topoexp.tasks.base import RunContext, Task, TaskResult

__all__ = ["RunContext", "Task", "TaskResult"]
