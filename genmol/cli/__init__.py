"""The ``genmol`` command line: one module per command group, each thin over the library.

=================  =====================================================================
module             commands
=================  =====================================================================
``train``          ``genmol train MODEL``, ``genmol export RUN``, ``genmol plot RUN...``
``molecules``      ``genmol sample molecules``, ``genmol evaluate molecules``, ``genmol view`` (molecules)
``proteins``       ``genmol reconstruct protein``, ``genmol encode protein``, ``genmol decode``,
                   ``genmol refine protein``, ``genmol evaluate proteins``, ``genmol view`` (structure files;
                   dispatches to ``molecules`` for molecule files)
``simulate``       ``genmol simulate`` (jump simulators of molecular dynamics)
``dynamics``       ``genmol evaluate dynamics`` (trajectories, optionally against a reference MD)
``data``           ``genmol data qm9``, ``genmol data proteins``, ``genmol data md``
=================  =====================================================================

User errors (:class:`genmol.errors.GenmolError`) print one sentence and exit with status 2;
``--debug`` shows the traceback instead. Ctrl-C ends with status 130 and one sentence.
"""

from __future__ import annotations

import sys

import typer

from genmol.cli import data, dynamics, molecules, proteins, simulate, train
from genmol.cli.common import print_error
from genmol.errors import GenmolError, Interrupted

__all__ = ["app", "main"]

app = typer.Typer(
    name="genmol",
    help="Generative models of molecules and proteins on shared E(3)-equivariant encoders (JAX).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors.")):
    """(``--debug`` is read by :func:`main` before the command runs.)"""


sample_app = typer.Typer(help="Generate structures with a trained model.", no_args_is_help=True,
                         rich_markup_mode=None)
evaluate_app = typer.Typer(help="Score generated structures with the field's metrics.", no_args_is_help=True,
                           rich_markup_mode=None)
reconstruct_app = typer.Typer(help="Encode and decode structures with an autoencoder (round trip).",
                              no_args_is_help=True, rich_markup_mode=None)
encode_app = typer.Typer(help="Encode structures into an autoencoder's latent space.", no_args_is_help=True,
                         rich_markup_mode=None)
refine_app = typer.Typer(help="Fix the covalent geometry and clashes of structures (restrained minimisation).",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(sample_app, name="sample")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(reconstruct_app, name="reconstruct")
app.add_typer(encode_app, name="encode")
app.add_typer(refine_app, name="refine")
app.add_typer(data.app, name="data")
app.command("train")(train.train)
app.command("export")(train.export)
app.command("plot")(train.plot)
sample_app.command("molecules")(molecules.sample)
sample_app.command("proteins")(proteins.sample)
evaluate_app.command("molecules")(molecules.evaluate)
evaluate_app.command("proteins")(proteins.evaluate)
evaluate_app.command("dynamics")(dynamics.evaluate)
reconstruct_app.command("protein")(proteins.reconstruct)
encode_app.command("protein")(proteins.encode)
refine_app.command("protein")(proteins.refine)
app.command("decode")(proteins.decode)
app.command("view")(proteins.view)
app.command("simulate")(simulate.simulate)


def _quiet_unwinding() -> None:
    """After Ctrl-C, silence the errors of library generators finalized mid-call (e.g. flax's jit context, closed
    after its context was popped): they are echoes of the interrupt, and the user gets one sentence, not a traceback."""
    sys.unraisablehook = lambda unraisable: None


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        app(args=argv, prog_name="genmol")  # standalone: usage errors print usage and exit 2
    except Interrupted as e:
        _quiet_unwinding()
        print_error(str(e))
        return 130
    except GenmolError as e:
        if debug:
            raise
        print_error(str(e))
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        _quiet_unwinding()
        print_error("interrupted")
        return 130
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0
