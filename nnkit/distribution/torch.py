"""The torch backend's devices. Keras has no data-parallel training for torch, so there is no
strategy here: one device, the first GPU if there is one."""

from nnkit.errors import UsageError


def visible_devices():
    import torch

    return ("cpu:0", *(f"gpu:{index}" for index in range(torch.cuda.device_count())))


def split_cpu(count):
    raise UsageError("--devices cpu:0,cpu:1,... splits the CPU only on the TensorFlow and JAX backends")
