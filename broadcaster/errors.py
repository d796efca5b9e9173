"""One exception tree for everything a user can get wrong or the world can break.

Library code raises these with a message a technician can act on; the CLI turns
them into one line and an exit status (see ``cli.main``), the daemon logs them.
"""

from __future__ import annotations


class BroadcasterError(Exception):
    """Base of every error broadcaster reports to a person.

    ``where`` is ``file`` or ``file:line`` when the problem is in an input file;
    ``hint`` says what to do next.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(BroadcasterError):
    """schedule.toml is wrong. May carry several problems at once."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None,
                 problems: list[str] | None = None):
        super().__init__(message, where=where, hint=hint)
        self.problems = problems or [str(BroadcasterError(message, where=where, hint=hint))]

    def __str__(self) -> str:
        return "\n".join(self.problems)


class ScriptError(BroadcasterError):
    """An announcement script cannot be read or has nothing to read."""


class AudioError(BroadcasterError):
    """An audio file (jingle, rendered bulletin) cannot be decoded or written."""


class StorageError(BroadcasterError):
    """A file cannot be written: the disk is full, or the folder is not writable. Not the input's fault."""

    exit_code = 1


class SynthesisError(BroadcasterError):
    """A TTS engine could not speak. ``transient`` errors may succeed on retry."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None,
                 transient: bool = False):
        super().__init__(message, where=where, hint=hint)
        self.transient = transient


class EngineUnavailable(SynthesisError):
    """The engine cannot be used here at all (package, program or network missing)."""


class PlaybackError(BroadcasterError):
    """A sound output cannot be found, opened or written."""

    exit_code = 1


class FleetError(BroadcasterError):
    """The message server of the hub above (or our own) cannot be reached or refused us. Not the input's fault."""

    exit_code = 1


class RefusedError(FleetError):
    """Something that arrived from the hub above failed verification (signature, hash, shape)."""
