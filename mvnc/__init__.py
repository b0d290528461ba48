"""``mvnc``: the name NCSDK 1.x apps import, here served by the emulated stick.

``from mvnc import mvncapi as mvnc`` and ``import mvnc.mvncapi`` give the
NCSDK 1.x Python API (NCAPI v1) of the emulated Neural Compute Stick
(``emulator.mvncapi``, where it is implemented), so apps written for NCSDK
run without editing a line and without a stick.

A real NCSDK wins: its ``mvnc`` package, when earlier on ``PYTHONPATH`` /
``sys.path`` than this project, is the one Python imports, and the app then
talks to real sticks.
"""
