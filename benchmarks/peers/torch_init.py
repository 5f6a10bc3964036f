"""Keras's default initializers for PyTorch modules, so that a peer script starts where the
Keras model starts and the two losses can be compared step for step: glorot-uniform kernels,
orthogonal recurrent kernels, zero biases (an LSTM's forget gate at 1), embeddings
uniform(-0.05, 0.05). A layer a script initialises itself afterwards keeps its own."""

import torch
from torch import nn


def keras_initialization(model):
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
            nn.init.uniform_(module.weight, -0.05, 0.05)
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            for name, weight in module.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(weight)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(weight)
                else:
                    nn.init.zeros_(weight)
                    if isinstance(module, nn.LSTM) and name.startswith("bias_ih"):
                        with torch.no_grad():
                            weight[module.hidden_size:2 * module.hidden_size] = 1.0  # gates i, f, g, o
    return model
