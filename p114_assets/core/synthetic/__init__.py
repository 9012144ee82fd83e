"""Synthetic S0142 files at real scale, for demos, tests and benchmarks, calibrated to the public
profile of two real 2026 files (S0142_FORMAT.md, last section).

- market.py: parties and BM units (prefix mix, party ids, trading units), stable for a seed;
- economics.py: the values of one date and run, in integer units, with every identity exact;
- system_section.py, party_section.py: the records of each section, as frames named by layout;
- rendering.py: frames -> lines through core/s0142/layout.py (no field position anywhere else);
- files.py: a file's header, trailer, name, byte-order mark, and writing it.

Part of core: it must not import dagster, the warehouse, defs, app or config.
"""

from p114_assets.core.synthetic.files import GeneratedFile, generate_file, generate_files, has_bom, publication_stamp
from p114_assets.core.synthetic.market import DEFAULT_UNITS, MIN_UNITS, SyntheticMarket

__all__ = ["DEFAULT_UNITS", "MIN_UNITS", "GeneratedFile", "SyntheticMarket", "generate_file", "generate_files", "has_bom", "publication_stamp"]
