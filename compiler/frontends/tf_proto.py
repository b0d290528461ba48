"""TensorFlow's GraphDef messages, declared at run time without TensorFlow.

Importing TensorFlow costs seconds; reading a frozen graph needs only the
wire format. The field numbers follow TensorFlow's published .proto files
(graph.proto, node_def.proto, attr_value.proto, tensor.proto,
tensor_shape.proto, versions.proto). Fields this compiler never reads
(function libraries, debug info, resource handles) are left out: protobuf
keeps them as unknown fields. The messages live in a private descriptor pool
under their own package so they never clash with TensorFlow's own classes
when both are loaded in one process.
"""
from google.protobuf import descriptor_pb2

from .protodecl import add_field, message_classes

PACKAGE = "zoo_to_stick.tf"

# DataType enum values (types.proto) and the numpy dtype names they map to.
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT16, DT_INT8 = 1, 2, 3, 4, 5, 6
DT_STRING, DT_INT64, DT_BOOL, DT_HALF = 7, 9, 10, 19
NUMPY_TYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8",
               5: "int16", 6: "int8", 9: "int64", 10: "bool", 17: "uint16",
               19: "float16", 22: "uint32", 23: "uint64"}

# message name -> [(field name, number, type, repeated?, oneof index?)]
# type is a scalar name above or a message name; DataType is an int32 enum
# on the wire, so it is declared as int32 here.
_MESSAGES = {
    "TensorShapeProto.Dim": [("size", 1, "int64", 0), ("name", 2, "string", 0)],
    "TensorShapeProto": [("dim", 2, "TensorShapeProto.Dim", 1),
                         ("unknown_rank", 3, "bool", 0)],
    "TensorProto": [
        ("dtype", 1, "int32", 0), ("tensor_shape", 2, "TensorShapeProto", 0),
        ("version_number", 3, "int32", 0), ("tensor_content", 4, "bytes", 0),
        ("float_val", 5, "float", 1), ("double_val", 6, "double", 1),
        ("int_val", 7, "int32", 1), ("string_val", 8, "bytes", 1),
        ("scomplex_val", 9, "float", 1), ("int64_val", 10, "int64", 1),
        ("bool_val", 11, "bool", 1), ("dcomplex_val", 12, "double", 1),
        ("half_val", 13, "int32", 1), ("uint32_val", 16, "uint32", 1),
        ("uint64_val", 17, "uint64", 1)],
    "AttrValue.ListValue": [
        ("s", 2, "bytes", 1), ("i", 3, "int64", 1), ("f", 4, "float", 1),
        ("b", 5, "bool", 1), ("type", 6, "int32", 1),
        ("shape", 7, "TensorShapeProto", 1), ("tensor", 8, "TensorProto", 1),
        ("func", 9, "NameAttrList", 1)],
    "AttrValue": [
        ("list", 1, "AttrValue.ListValue", 0, 0), ("s", 2, "bytes", 0, 0),
        ("i", 3, "int64", 0, 0), ("f", 4, "float", 0, 0),
        ("b", 5, "bool", 0, 0), ("type", 6, "int32", 0, 0),
        ("shape", 7, "TensorShapeProto", 0, 0),
        ("tensor", 8, "TensorProto", 0, 0),
        ("placeholder", 9, "string", 0, 0), ("func", 10, "NameAttrList", 0, 0)],
    "NameAttrList.AttrEntry": [("key", 1, "string", 0),
                               ("value", 2, "AttrValue", 0)],
    "NameAttrList": [("name", 1, "string", 0),
                     ("attr", 2, "NameAttrList.AttrEntry", 1)],
    "NodeDef.AttrEntry": [("key", 1, "string", 0), ("value", 2, "AttrValue", 0)],
    "NodeDef": [("name", 1, "string", 0), ("op", 2, "string", 0),
                ("input", 3, "string", 1), ("device", 4, "string", 0),
                ("attr", 5, "NodeDef.AttrEntry", 1)],
    "VersionDef": [("producer", 1, "int32", 0), ("min_consumer", 2, "int32", 0),
                   ("bad_consumers", 3, "int32", 1)],
    "GraphDef": [("node", 1, "NodeDef", 1), ("versions", 4, "VersionDef", 0),
                 ("version", 3, "int32", 0)],
}


def _add_fields(msg, fields):
    for spec in fields:
        name, number, ftype, repeated = spec[:4]
        add_field(msg, PACKAGE, name, number, ftype, bool(repeated),
                  oneof=spec[4] if len(spec) > 4 else None)


def _file_proto():
    fp = descriptor_pb2.FileDescriptorProto(
        name="zoo_to_stick_tf_graph.proto", package=PACKAGE, syntax="proto3")
    tops = {}
    for full, fields in _MESSAGES.items():
        outer, _, inner = full.partition(".")
        if not inner:
            tops[outer] = fp.message_type.add(name=outer)
    for full, fields in _MESSAGES.items():
        outer, _, inner = full.partition(".")
        msg = tops[outer]
        if inner:
            msg = msg.nested_type.add(name=inner)
            if inner == "AttrEntry":
                msg.options.map_entry = True
        _add_fields(msg, fields)
    tops["AttrValue"].oneof_decl.add(name="value")
    return fp


def _build():
    return message_classes(_file_proto(), PACKAGE, (
        "GraphDef", "NodeDef", "AttrValue", "TensorProto",
        "TensorShapeProto", "NameAttrList", "VersionDef"))


_CLASSES = _build()
GraphDef = _CLASSES["GraphDef"]
NodeDef = _CLASSES["NodeDef"]
AttrValue = _CLASSES["AttrValue"]
TensorProto = _CLASSES["TensorProto"]
TensorShapeProto = _CLASSES["TensorShapeProto"]
NameAttrList = _CLASSES["NameAttrList"]
VersionDef = _CLASSES["VersionDef"]
