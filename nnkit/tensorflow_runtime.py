"""TensorFlow-only runtime settings. Imported only when the backend is TensorFlow."""



def enable_determinism():
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
