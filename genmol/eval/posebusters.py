"""PoseBusters ``mol_fast`` checks (optional extra ``posebusters``): pass rate per check."""

from __future__ import annotations

import math

from genmol.errors import GenmolError

__all__ = ["posebusters_pass_rates"]


def posebusters_pass_rates(mols: list, config: str = "mol_fast") -> dict:
    """Runs PoseBusters on RDKit molecules with 3D conformers and bonds.

    Returns:
        ``{"n": ..., "all_pass": fraction, "checks": {check: pass fraction}}``.
    """
    try:
        from posebusters import PoseBusters
    except ImportError:
        raise GenmolError("PoseBusters checks need the posebusters package: "
                          "pip install 'genmol[posebusters]'") from None
    if not mols:
        return {"n": 0, "all_pass": math.nan, "checks": {}}
    import logging

    logging.getLogger("posebusters").setLevel(logging.ERROR)
    df = PoseBusters(config=config).bust(mol_pred=list(mols), full_report=False)
    checks = {str(c): float(df[c].astype(bool).mean()) for c in df.columns if df[c].dtype == bool}
    all_pass = float(df[[c for c in df.columns if df[c].dtype == bool]].all(axis=1).mean())
    return {"n": len(mols), "all_pass": all_pass, "checks": checks}
