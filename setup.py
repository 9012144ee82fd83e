"""The one native part of p114: the S0142 line index, field splitter, nesting and BPI/BP7 join
(p114_assets/core/s0142/_fields.c, _join.c, _attach.c),
built by `pip install` (make install) with the system's C compiler and Python headers. It is optional:
where it cannot be built the install still succeeds and the parser takes its numpy and pyarrow paths
(the same results, several times slower). Everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("p114_assets.core.s0142._fields",
                  [f"p114_assets/core/s0142/{name}.c" for name in ("_fields", "_join", "_attach")],
                  depends=["p114_assets/core/s0142/_fields.h"],
                  extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"], optional=True),
    ],
)
