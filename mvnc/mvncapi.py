"""NCAPI v1 (NCSDK 1.x ``mvnc.mvncapi``) of the emulated stick: the same
module contents as ``emulator.mvncapi``, under the name NCSDK apps import.

A real NCSDK's ``mvnc`` earlier on ``PYTHONPATH`` / ``sys.path`` takes
precedence over this package (see ``mvnc/__init__.py``).
"""
from emulator.mvncapi import *  # noqa: F401,F403 - the API is the point
from emulator.mvncapi import __all__  # noqa: F401
