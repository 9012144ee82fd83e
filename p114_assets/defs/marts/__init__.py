"""Marts domain: VLP revenue and settlement positions, the self-balancing classification, their
checks, and where plots are written.

Part of defs: must not import app.
"""
