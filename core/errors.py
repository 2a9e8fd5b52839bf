"""Domain errors that the API and the commands turn into messages."""


class RowErrors(Exception):
    """Errors of a batch of input rows, by row index (0-based) and field.

    A batch is written whole or not at all, so one bad row rejects every row.
    """

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = dict(sorted(errors.items()))
        super().__init__(self.describe())

    def describe(self, line_offset: int = 0, label: str = "row") -> str:
        return "; ".join(
            f"{label} {index + line_offset}: "
            + ", ".join(f"{field}: {' '.join(messages)}" for field, messages in fields.items())
            for index, fields in self.errors.items()
        )


class Conflict(Exception):
    """The request is valid but the object's state does not allow it (HTTP 409)."""
