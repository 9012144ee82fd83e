"""The one native part of p114: the S0142 line index and field splitter (p114_assets/core/s0142/_fields.c),
built by `pip install` (make install) with the system's C compiler and Python headers. It is optional:
where it cannot be built the install still succeeds and the parser takes its numpy and pyarrow paths
(the same results, several times slower). Everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("p114_assets.core.s0142._fields", ["p114_assets/core/s0142/_fields.c"],
                  extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"], optional=True),
    ],
)
