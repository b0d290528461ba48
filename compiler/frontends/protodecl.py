"""Protobuf messages declared at run time, without generated code.

The TF and Caffe frontends both read formats whose owners (TensorFlow,
Caffe) we do not import; each lists its fields with their published numbers
and builds the classes here, in a private descriptor pool.
"""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64, "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64, "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE, "bool": _F.TYPE_BOOL,
    "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES,
}


def add_field(msg, package, name, number, ftype, repeated=False,
              packed=False, default=None, oneof=None):
    """One field: a scalar name, `enum:Name`, or a message name."""
    f = msg.field.add(name=name, number=number)
    f.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if packed:
        f.options.packed = True
    if ftype in SCALARS:
        f.type = SCALARS[ftype]
    elif ftype.startswith("enum:"):
        f.type = _F.TYPE_ENUM
        f.type_name = f".{package}.{ftype[5:]}"
    else:
        f.type = _F.TYPE_MESSAGE
        f.type_name = f".{package}.{ftype}"
    if default is not None:
        f.default_value = default
    if oneof is not None:
        f.oneof_index = oneof


def message_classes(file_proto, package, names):
    """{name: class} for the named messages of a FileDescriptorProto."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{package}.{name}")) for name in names}
