"""Molecules as data: the :class:`Molecule` record, :class:`MoleculeSet` collections, element →
species vocabularies, RDKit conversion, and QM9 (embedded subset, full set, EDM split)."""
