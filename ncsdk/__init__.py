"""The NCSDK 1.x command lines, over the compiler, the emulated stick and
the framework references.

``compile`` (mvNCCompile), ``check`` (mvNCCheck), ``profile`` and
``profile_report`` (mvNCProfile), ``dump`` (mvNCDump: look inside a graph
file), and what they share: ``common`` (network flags), ``image`` (the check's
input preprocessing), ``metrics`` (NCSDK's four accuracy tests).
The libraries below (``compiler``, ``emulator``) never import this package.
"""
