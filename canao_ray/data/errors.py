"""The one error every problem with a task's data raises: its message names the file, the
column or the value, and what to do."""


class TaskDataError(ValueError):
    """A task's data cannot be read or does not fit the task; the message is one line for the user."""
