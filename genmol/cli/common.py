"""What every command module shares: the error console and how an error is printed."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

__all__ = ["console", "print_error", "out_console"]

console = Console(stderr=True, soft_wrap=True)  # never hard-wrap a message inside a sentence


def print_error(message: str) -> None:
    """``error: <message>`` on stderr; the message is printed literally (``genmol[qm9]`` stays intact)."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def out_console() -> Console:
    """A console on stdout for a command's results."""
    return Console(soft_wrap=True)
