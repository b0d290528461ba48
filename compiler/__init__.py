"""The in-repo NCS compiler: frontends -> IR -> passes -> graph file.

    from compiler import compile_file, write_graph
    result = compile_file("frozen.pb", shaves=12)
    write_graph(result, "graph")
"""
from .api import CompileResult, compile_file, compile_graph, write_graph
from .errors import CompileError

__all__ = ["CompileResult", "CompileError", "compile_file", "compile_graph",
           "write_graph"]
