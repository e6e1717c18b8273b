"""A registry from genotype spec classes to the functions that handle them (builders, closed forms)."""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

from archspace.errors import ArchspaceError

F = TypeVar("F", bound=Callable[..., Any])


class SpecRegistry(Generic[F]):
    """Maps each spec class to one function; `what` names the function kind in errors."""

    def __init__(self, what: str):
        self.what = what
        self._functions: dict[type, F] = {}

    def register(self, *spec_types: type) -> Callable[[F], F]:
        """Decorator: the function handles every spec class given."""

        def wrap(fn: F) -> F:
            for spec_type in spec_types:
                if spec_type in self._functions:
                    raise ArchspaceError(f"{spec_type.__name__} has two registered {self.what}s")
                self._functions[spec_type] = fn
            return fn

        return wrap

    def lookup(self, spec: Any) -> F:
        """The function registered for `spec`'s class."""
        try:
            return self._functions[type(spec)]
        except KeyError:
            raise ArchspaceError(f"no {self.what} is registered for {type(spec).__name__} (kind {getattr(spec, 'kind', '?')!r})") from None

    def as_dict(self) -> dict[type, F]:
        """A copy: spec class -> function."""
        return dict(self._functions)
