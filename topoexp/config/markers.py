"""What a component's signature says about its config: build-time arguments and argument errors.

Imported by the components themselves, so it stays free of heavy dependencies.
"""

from __future__ import annotations

__all__ = ["BUILD_ARG", "ArgumentError"]


class _BuildArg:
    """Marks a parameter the task supplies when it builds the component (not a config key)."""

    def __repr__(self) -> str:
        return "BUILD_ARG"


#: ``Annotated[T, BUILD_ARG]``: the value comes from the run (data shape, wrapped model, seed),
#: never from the config, so the parameter is left out of the component's schema.
BUILD_ARG = _BuildArg()


class ArgumentError(ValueError):
    """An invalid constructor argument; ``argument`` names it so the config key can be reported."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.detail = message
