"""German -> English on Multi30k in plain PyTorch, written as a PyTorch user would: tensors
made once, padded length batches, a packed bidirectional GRU encoder, the decoder GRU run
over the whole teacher-forced target at once, model.train(), zero_grad(set_to_none=True).

The same model and optimizer as nnkit's default `translate` model: a bidirectional GRU
encoder, a tanh bridge from its final states to the decoder's first state, a GRU decoder,
additive (Bahdanau) attention, a tanh attentional layer, dropout, logits; Adam with the
gradients clipped by their global norm (clip_grad_norm_).
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from runner import Clock, arguments, padded_batches, report
from torch_init import keras_initialization


class Translator(nn.Module):
    def __init__(self, config, sizes):
        super().__init__()
        units, dim = config["units"], config["embedding_dim"]
        self.source_embedding = nn.Embedding(sizes["source_words"], dim, padding_idx=0)
        self.encoder = nn.GRU(dim, units // 2, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(units, units)
        self.target_embedding = nn.Embedding(sizes["target_words"], dim, padding_idx=0)
        self.decoder = nn.GRU(dim, units, batch_first=True)
        self.query, self.key = nn.Linear(units, units, bias=False), nn.Linear(units, units, bias=False)
        self.score = nn.Linear(units, 1, bias=False)
        self.attentional = nn.Linear(2 * units, units)
        self.logits = nn.Linear(units, sizes["target_words"])
        self.dropout = nn.Dropout(config["dropout"])

    def forward(self, source, source_lengths, previous_words):
        packed, final = self.encoder(pack_padded_sequence(self.source_embedding(source), source_lengths,
                                                          batch_first=True, enforce_sorted=False))
        encoded = pad_packed_sequence(packed, batch_first=True, total_length=source.shape[1])[0]
        state = torch.tanh(self.bridge(torch.cat([final[0], final[1]], dim=-1)))[None]
        # Padding comes after a target's last word, so it cannot change the real positions.
        x = self.dropout(self.decoder(self.target_embedding(previous_words), state)[0])
        scores = self.score(torch.tanh(self.query(x)[:, :, None] + self.key(encoded)[:, None])).squeeze(-1)
        scores = scores.masked_fill((source == 0)[:, None, :], -1e9)
        context = torch.softmax(scores, dim=-1) @ encoded
        x = self.dropout(torch.tanh(self.attentional(torch.cat([x, context], dim=-1))))
        return self.logits(x)


def main():
    args, data, meta = arguments(__doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    training = meta["config"]["training"]
    tensors = {name: torch.from_numpy(array).long() for name, array in data.items()}
    source_lengths = torch.from_numpy((data["x_source"] != 0).sum(axis=1))
    lengths = np.maximum((data["x_source"] != 0).sum(axis=1), (data["y_words"] != 0).sum(axis=1))
    model = keras_initialization(Translator(meta["config"]["model"], meta["sizes"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=training["learning_rate"], eps=1e-7)
    rng = np.random.default_rng(args.seed)
    clock = Clock()
    model.train()
    for _ in range(args.epochs):
        clock.start()
        batches = padded_batches(lengths, training["batch_size"], rng)
        total = torch.zeros(())
        for rows, width in batches:
            def cut(name):
                array = tensors[name][rows, :width]
                return functional.pad(array, (0, width - array.shape[1]))

            rows = torch.from_numpy(rows)
            optimizer.zero_grad(set_to_none=True)
            logits = model(cut("x_source"), source_lengths[rows], cut("x_previous_words"))
            loss = functional.cross_entropy(logits.transpose(1, 2), cut("y_words"), ignore_index=0)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), training["global_clipnorm"])
            optimizer.step()
            total += loss.detach()
        clock.stop(total / len(batches))
    report(clock, len(batches))


if __name__ == "__main__":
    main()
