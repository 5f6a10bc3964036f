"""The PTB word language model in plain PyTorch, as PyTorch's word_language_model example
trains it: the windows as one tensor, the hidden state carried from window to window and
detached, SGD with clip_grad_norm_, model.train(), zero_grad(set_to_none=True).

The same model and optimizer as nnkit's `lm`: embedding, two LSTM layers with locked dropout
(one mask per window) before each and before the output, output tied to the embedding.
"""

import torch
from torch import nn

from runner import Clock, arguments, report
from torch_init import keras_initialization


class LockedDropout(nn.Module):
    """One dropout mask per sequence, the same at every step (SpatialDropout1D in Keras)."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):  # (batch, time, features)
        if not self.training or not self.rate:
            return x
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.rate) / (1 - self.rate)
        return x * mask


class LanguageModel(nn.Module):
    def __init__(self, vocabulary, embedding_dim, units, layers, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding_dim)
        sizes = [embedding_dim] + [units] * layers
        self.rnns = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(layers))
        self.dropout = LockedDropout(dropout)
        self.bias = nn.Parameter(torch.zeros(vocabulary))

    def forward(self, tokens, states):
        x = self.embedding(tokens)
        new_states = []
        for rnn, state in zip(self.rnns, states):
            x, state = rnn(self.dropout(x), state)
            new_states.append(state)
        return self.dropout(x) @ self.embedding.weight.T + self.bias, new_states


def main():
    args, data, meta = arguments(__doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model_config, training = meta["config"]["model"], meta["config"]["training"]
    batch_size, units = training["batch_size"], model_config["units"]
    inputs, targets = torch.from_numpy(data["x"]).long(), torch.from_numpy(data["y"]).long()
    model = keras_initialization(LanguageModel(meta["sizes"]["vocabulary"], model_config["embedding_dim"], units,
                                               model_config["layers"], model_config["dropout"]))
    nn.init.uniform_(model.embedding.weight, -0.1, 0.1)  # nnkit's language model's embedding
    optimizer = torch.optim.SGD(model.parameters(), lr=training["learning_rate"])
    loss_function = nn.CrossEntropyLoss()
    steps = len(inputs) // batch_size
    clock = Clock()
    model.train()
    for _ in range(args.epochs):
        clock.start()
        states = [(torch.zeros(1, batch_size, units), torch.zeros(1, batch_size, units))
                  for _ in range(model_config["layers"])]
        total = torch.zeros(())
        for step in range(steps):
            rows = slice(step * batch_size, (step + 1) * batch_size)
            states = [tuple(part.detach() for part in state) for state in states]
            optimizer.zero_grad(set_to_none=True)
            logits, states = model(inputs[rows], states)
            loss = loss_function(logits.reshape(-1, logits.shape[-1]), targets[rows].reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), training["global_clipnorm"])
            optimizer.step()
            total += loss.detach()
        clock.stop(total / steps)
    report(clock, steps)


if __name__ == "__main__":
    main()
