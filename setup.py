"""Builds the emulator's optional C loops (emulator/ops/_native.c).

Everything else is in pyproject.toml. If no C compiler is at hand the
build goes on without the module and the emulator uses numpy, with the
same results (emulator/ops/native.py).
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "emulator.ops._native", ["emulator/ops/_native.c"],
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math"],
    optional=True)])
