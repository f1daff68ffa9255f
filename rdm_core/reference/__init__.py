"""The frozen reference of every encoder: cached features (``cache``), evaluation banks and the
reference-directory layout (``banks``), Nystrom bundle and floors (``build``).

Deliberately empty: ``rdm_core.eval`` imports ``banks`` alone and must not pull in the training loss
that ``build`` uses.
"""
