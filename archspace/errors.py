"""Errors that carry a field path and a reason, printed as one line."""


class ArchspaceError(Exception):
    """Base class for every error archspace reports to a user."""


class GenotypeError(ArchspaceError, ValueError):
    """A genotype is invalid: `path` names the field, `reason` says why."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)

    def under(self, prefix: str) -> "GenotypeError":
        """The same error with its path placed under `prefix`."""
        return GenotypeError(join_path(prefix, self.path), self.reason)


def join_path(prefix: str, path: str) -> str:
    """Join two field paths: `stages[1]` + `mixer.kernels[0]`."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


class InputSizeError(ArchspaceError, ValueError):
    """An op got a map size it cannot take: names the op, the size it got and the sizes it accepts."""
