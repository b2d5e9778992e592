"""Small tasks that need no download, for the command line, examples and validation study."""

from ._load import TASKS, load_task

__all__ = ["load_task", "TASKS"]
