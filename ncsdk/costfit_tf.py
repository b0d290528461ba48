"""The two measured TensorFlow networks, rebuilt as saved sessions (.meta +
checkpoint) as their owners profiled them: Keras VGG16 (weights=None) and
the NCSDK guide's MNIST "deep" net. Weights are random: times depend on
shapes only."""
from pathlib import Path


def _save(sess, tf1, path):
    sess.run(tf1.global_variables_initializer())
    tf1.train.Saver().save(sess, str(path))
    return Path(f"{path}.meta")


def vgg16(tf1, path):
    """Keras VGG16 in graph mode, saved from Keras' own session (the
    variables live there, initialised by K.get_session())."""
    import tf_keras
    from tf_keras.src import backend as K
    tf_keras.backend.set_learning_phase(0)
    tf_keras.applications.VGG16(weights=None)   # input_1 .. predictions
    tf1.train.Saver().save(K.get_session(), str(path))
    return Path(f"{path}.meta")


def mnist_deep(tf1, path):
    """conv5x5x32-pool-conv5x5x64-pool-fc1024-fc10 on [None, 784]."""
    x = tf1.placeholder(tf1.float32, [None, 784], name="input")
    h = tf1.reshape(x, [-1, 28, 28, 1])
    for i, ch in ((1, 32), (2, 64)):
        with tf1.variable_scope(f"conv{i}"):
            w = tf1.get_variable("w", [5, 5, h.shape[-1], ch])
            b = tf1.get_variable("b", [ch])
            h = tf1.nn.relu(tf1.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") + b,
                            name="Relu")
        with tf1.variable_scope(f"pool{i}"):
            h = tf1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME",
                                name="MaxPool")
    h = tf1.reshape(h, [-1, 7 * 7 * 64])
    with tf1.variable_scope("fc1"):
        h = tf1.nn.relu(tf1.matmul(h, tf1.get_variable("w", [3136, 1024]))
                        + tf1.get_variable("b", [1024]), name="Relu")
    with tf1.variable_scope("fc2"):
        h = tf1.add(tf1.matmul(h, tf1.get_variable("w", [1024, 10])),
                    tf1.get_variable("b", [10]), name="add")
    tf1.nn.softmax(h, name="output")   # the profile's `output`: 3 x 10 flops
    return _save(tf1.Session(), tf1, path)


def build(name, workdir):
    """Write network `name` under workdir; the .meta file's path."""
    from tfcompat import tf1
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with tf1.Graph().as_default():
            return {"vgg16": vgg16, "mnist_deep": mnist_deep}[name](
                tf1, workdir / name)
    finally:
        if name == "vgg16":     # Keras' session, closed outside its graph
            import tf_keras
            tf_keras.backend.clear_session()
