"""Where the pipelines' task lived before the ops app: a task queued by an earlier version
names this path (django-q2 stores the function's path with the task), so it still runs
once the new version is deployed. Schedules are pointed at `ops` by `setup_schedules`."""

from ops.pipelines import run_task

__all__ = ["run_task"]
