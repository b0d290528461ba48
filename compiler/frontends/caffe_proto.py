"""Caffe's NetParameter messages, declared at run time without Caffe.

Only the parts of Caffe's published ``caffe.proto`` this compiler reads are
declared, with Caffe's field numbers and defaults (proto2), so a
``.caffemodel`` parses as binary and a ``.prototxt`` as text. Other fields
(fillers, learning rates, data layers' parameters) stay unknown: binary
parsing keeps them, text parsing skips them. Enums are declared whole, so an
unsupported layer type reaches the frontend (Error 4) instead of failing the
parse. The messages live in a private descriptor pool and package.
"""
from google.protobuf import descriptor_pb2
from google.protobuf import text_format

from .protodecl import add_field, message_classes

PACKAGE = "zoo_to_stick.caffe"

# V1LayerParameter.LayerType (the legacy ``layers`` form).
V1_TYPES = {
    "NONE": 0, "ABSVAL": 35, "ACCURACY": 1, "ARGMAX": 30, "BNLL": 2,
    "CONCAT": 3, "CONTRASTIVE_LOSS": 37, "CONVOLUTION": 4, "DATA": 5,
    "DECONVOLUTION": 39, "DROPOUT": 6, "DUMMY_DATA": 32,
    "EUCLIDEAN_LOSS": 7, "ELTWISE": 25, "EXP": 38, "FLATTEN": 8,
    "HDF5_DATA": 9, "HDF5_OUTPUT": 10, "HINGE_LOSS": 28, "IM2COL": 11,
    "IMAGE_DATA": 12, "INFOGAIN_LOSS": 13, "INNER_PRODUCT": 14, "LRN": 15,
    "MEMORY_DATA": 29, "MULTINOMIAL_LOGISTIC_LOSS": 16, "MVN": 34,
    "POOLING": 17, "POWER": 26, "RELU": 18, "SIGMOID": 19,
    "SIGMOID_CROSS_ENTROPY_LOSS": 27, "SILENCE": 36, "SOFTMAX": 20,
    "SOFTMAX_LOSS": 21, "SPLIT": 22, "SLICE": 33, "TANH": 23,
    "WINDOW_DATA": 24, "THRESHOLD": 31,
}

# enum name -> {value name: number}
_ENUMS = {
    "Phase": {"TRAIN": 0, "TEST": 1},
    "PoolingParameter.PoolMethod": {"MAX": 0, "AVE": 1, "STOCHASTIC": 2},
    "PoolingParameter.RoundMode": {"CEIL": 0, "FLOOR": 1},
    "LRNParameter.NormRegion": {"ACROSS_CHANNELS": 0, "WITHIN_CHANNEL": 1},
    "EltwiseParameter.EltwiseOp": {"PROD": 0, "SUM": 1, "MAX": 2},
    "Engine": {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2},
    "V1LayerParameter.LayerType": V1_TYPES,
}

# message -> [(name, number, type, label, default)]; label "?" optional,
# "*" repeated, "p" repeated packed. type: scalar, message or "enum:Name".
_MESSAGES = {
    "BlobShape": [("dim", 1, "int64", "p")],
    "BlobProto": [
        ("shape", 7, "BlobShape", "?"), ("data", 5, "float", "p"),
        ("diff", 6, "float", "p"), ("double_data", 8, "double", "p"),
        ("num", 1, "int32", "?", "0"), ("channels", 2, "int32", "?", "0"),
        ("height", 3, "int32", "?", "0"), ("width", 4, "int32", "?", "0")],
    "NetStateRule": [("phase", 1, "enum:Phase", "?")],
    "ConvolutionParameter": [
        ("num_output", 1, "uint32", "?"), ("bias_term", 2, "bool", "?", "true"),
        ("pad", 3, "uint32", "*"), ("kernel_size", 4, "uint32", "*"),
        ("stride", 6, "uint32", "*"), ("dilation", 18, "uint32", "*"),
        ("pad_h", 9, "uint32", "?"), ("pad_w", 10, "uint32", "?"),
        ("kernel_h", 11, "uint32", "?"), ("kernel_w", 12, "uint32", "?"),
        ("stride_h", 13, "uint32", "?"), ("stride_w", 14, "uint32", "?"),
        ("group", 5, "uint32", "?", "1"), ("engine", 15, "enum:Engine", "?"),
        ("axis", 16, "int32", "?", "1")],
    "PoolingParameter": [
        ("pool", 1, "enum:PoolingParameter.PoolMethod", "?", "MAX"),
        ("pad", 4, "uint32", "?", "0"), ("pad_h", 9, "uint32", "?"),
        ("pad_w", 10, "uint32", "?"), ("kernel_size", 2, "uint32", "?"),
        ("kernel_h", 5, "uint32", "?"), ("kernel_w", 6, "uint32", "?"),
        ("stride", 3, "uint32", "?", "1"), ("stride_h", 7, "uint32", "?"),
        ("stride_w", 8, "uint32", "?"), ("engine", 11, "enum:Engine", "?"),
        ("global_pooling", 12, "bool", "?", "false"),
        ("round_mode", 13, "enum:PoolingParameter.RoundMode", "?", "CEIL")],
    "InnerProductParameter": [
        ("num_output", 1, "uint32", "?"), ("bias_term", 2, "bool", "?", "true"),
        ("axis", 5, "int32", "?", "1"), ("transpose", 6, "bool", "?", "false")],
    "LRNParameter": [
        ("local_size", 1, "uint32", "?", "5"), ("alpha", 2, "float", "?", "1"),
        ("beta", 3, "float", "?", "0.75"),
        ("norm_region", 4, "enum:LRNParameter.NormRegion", "?",
         "ACROSS_CHANNELS"),
        ("k", 5, "float", "?", "1"), ("engine", 6, "enum:Engine", "?")],
    "ReLUParameter": [("negative_slope", 1, "float", "?", "0"),
                      ("engine", 2, "enum:Engine", "?")],
    "ELUParameter": [("alpha", 1, "float", "?", "1")],
    "PReLUParameter": [("channel_shared", 2, "bool", "?", "false")],
    "ConcatParameter": [("axis", 2, "int32", "?", "1"),
                        ("concat_dim", 1, "uint32", "?", "1")],
    "EltwiseParameter": [
        ("operation", 1, "enum:EltwiseParameter.EltwiseOp", "?", "SUM"),
        ("coeff", 2, "float", "*"), ("stable_prod_grad", 3, "bool", "?")],
    "SliceParameter": [("axis", 3, "int32", "?", "1"),
                       ("slice_point", 2, "uint32", "*"),
                       ("slice_dim", 1, "uint32", "?", "1")],
    "FlattenParameter": [("axis", 1, "int32", "?", "1"),
                         ("end_axis", 2, "int32", "?", "-1")],
    "ReshapeParameter": [("shape", 1, "BlobShape", "?"),
                         ("axis", 2, "int32", "?", "0"),
                         ("num_axes", 3, "int32", "?", "-1")],
    "SoftmaxParameter": [("engine", 1, "enum:Engine", "?"),
                         ("axis", 2, "int32", "?", "1")],
    "CropParameter": [("axis", 1, "int32", "?", "2"),
                      ("offset", 2, "uint32", "*")],
    "BatchNormParameter": [("use_global_stats", 1, "bool", "?"),
                           ("moving_average_fraction", 2, "float", "?",
                            "0.999"),
                           ("eps", 3, "float", "?", "1e-05")],
    "ScaleParameter": [("axis", 1, "int32", "?", "1"),
                       ("num_axes", 2, "int32", "?", "1"),
                       ("bias_term", 4, "bool", "?", "false")],
    "BiasParameter": [("axis", 1, "int32", "?", "1"),
                      ("num_axes", 2, "int32", "?", "1")],
    "DropoutParameter": [("dropout_ratio", 1, "float", "?", "0.5")],
    "InputParameter": [("shape", 1, "BlobShape", "*")],
    "LayerParameter": [
        ("name", 1, "string", "?"), ("type", 2, "string", "?"),
        ("bottom", 3, "string", "*"), ("top", 4, "string", "*"),
        ("phase", 10, "enum:Phase", "?"), ("blobs", 7, "BlobProto", "*"),
        ("include", 8, "NetStateRule", "*"),
        ("exclude", 9, "NetStateRule", "*"),
        ("batch_norm_param", 139, "BatchNormParameter", "?"),
        ("bias_param", 141, "BiasParameter", "?"),
        ("concat_param", 104, "ConcatParameter", "?"),
        ("convolution_param", 106, "ConvolutionParameter", "?"),
        ("crop_param", 144, "CropParameter", "?"),
        ("dropout_param", 108, "DropoutParameter", "?"),
        ("eltwise_param", 110, "EltwiseParameter", "?"),
        ("elu_param", 140, "ELUParameter", "?"),
        ("flatten_param", 135, "FlattenParameter", "?"),
        ("inner_product_param", 117, "InnerProductParameter", "?"),
        ("input_param", 143, "InputParameter", "?"),
        ("lrn_param", 118, "LRNParameter", "?"),
        ("pooling_param", 121, "PoolingParameter", "?"),
        ("prelu_param", 131, "PReLUParameter", "?"),
        ("relu_param", 123, "ReLUParameter", "?"),
        ("reshape_param", 133, "ReshapeParameter", "?"),
        ("scale_param", 142, "ScaleParameter", "?"),
        ("softmax_param", 125, "SoftmaxParameter", "?"),
        ("slice_param", 126, "SliceParameter", "?")],
    "V1LayerParameter": [
        ("bottom", 2, "string", "*"), ("top", 3, "string", "*"),
        ("name", 4, "string", "?"),
        ("include", 32, "NetStateRule", "*"),
        ("exclude", 33, "NetStateRule", "*"),
        ("type", 5, "enum:V1LayerParameter.LayerType", "?"),
        ("blobs", 6, "BlobProto", "*"),
        ("concat_param", 9, "ConcatParameter", "?"),
        ("convolution_param", 10, "ConvolutionParameter", "?"),
        ("dropout_param", 12, "DropoutParameter", "?"),
        ("eltwise_param", 24, "EltwiseParameter", "?"),
        ("inner_product_param", 17, "InnerProductParameter", "?"),
        ("lrn_param", 18, "LRNParameter", "?"),
        ("pooling_param", 19, "PoolingParameter", "?"),
        ("relu_param", 30, "ReLUParameter", "?"),
        ("softmax_param", 39, "SoftmaxParameter", "?"),
        ("slice_param", 31, "SliceParameter", "?")],
    "NetParameter": [
        ("name", 1, "string", "?"), ("input", 3, "string", "*"),
        ("input_shape", 8, "BlobShape", "*"), ("input_dim", 4, "int32", "*"),
        ("layer", 100, "LayerParameter", "*"),
        ("layers", 2, "V1LayerParameter", "*")],
}


def _field(msg, spec):
    name, number, ftype, label = spec[:4]
    add_field(msg, PACKAGE, name, number, ftype, repeated=label in "*p",
              packed=label == "p", default=spec[4] if len(spec) > 4 else None)


def _file_proto():
    fp = descriptor_pb2.FileDescriptorProto(
        name="zoo_to_stick_caffe.proto", package=PACKAGE, syntax="proto2")
    msgs = {name: fp.message_type.add(name=name) for name in _MESSAGES}
    for full, values in _ENUMS.items():
        outer, _, inner = full.rpartition(".")
        parent = msgs[outer] if outer else fp
        enum = parent.enum_type.add(name=inner)
        for vname, number in values.items():
            enum.value.add(name=vname, number=number)
    for name, fields in _MESSAGES.items():
        for spec in fields:
            _field(msgs[name], spec)
    return fp


def _build():
    return message_classes(_file_proto(), PACKAGE, _MESSAGES)


_CLASSES = _build()
NetParameter = _CLASSES["NetParameter"]
LayerParameter = _CLASSES["LayerParameter"]
V1LayerParameter = _CLASSES["V1LayerParameter"]
BlobProto = _CLASSES["BlobProto"]
BlobShape = _CLASSES["BlobShape"]
V1_NAMES = {number: name for name, number in V1_TYPES.items()}


def parse_text(text):
    """Prototxt text -> NetParameter; unknown fields are skipped, as a
    deploy file carries training-only settings this compiler never reads."""
    net = NetParameter()
    text_format.Parse(text, net, allow_unknown_field=True)
    return net


def parse_binary(data):
    """.caffemodel bytes -> NetParameter."""
    net = NetParameter()
    net.ParseFromString(data)
    return net
