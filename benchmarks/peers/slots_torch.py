"""Joint slot filling and intent detection on ATIS in plain PyTorch, written as a PyTorch
user would: tensors made once, padded length batches, packed sequences through a
bidirectional LSTM, scaled_dot_product_attention, model.train(), zero_grad(set_to_none=True).

The same model and optimizer as nnkit's default `slots` model: word embedding beside word
hashing (letter-trigram ids summed: nn.EmbeddingBag), dropout, a two-layer bidirectional LSTM
with dropout after each layer, four-head self-attention (Keras's key size: units / heads),
a softmax tag per word, the intent as the mean of every word's vote; Adam with each weight's
gradient clipped by its norm (Keras's clipnorm).
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from runner import Clock, arguments, padded_batches, report
from torch_init import keras_initialization


class SelfAttention(nn.Module):
    """Keras's MultiHeadAttention(heads, key_dim) over one sequence, padding masked out."""

    def __init__(self, features, heads, key_dim, dropout):
        super().__init__()
        self.heads, self.key_dim, self.dropout = heads, key_dim, dropout
        self.query, self.key, self.value = (nn.Linear(features, heads * key_dim) for _ in range(3))
        self.output = nn.Linear(heads * key_dim, features)

    def forward(self, x, present):  # x (batch, time, features), present (batch, time)
        def split(projection):
            return projection(x).unflatten(-1, (self.heads, self.key_dim)).transpose(1, 2)

        mask = (present[:, None, :, None] & present[:, None, None, :])  # query and key both real
        attended = functional.scaled_dot_product_attention(
            split(self.query), split(self.key), split(self.value), attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0)
        return self.output(attended.transpose(1, 2).flatten(2))


class SlotFiller(nn.Module):
    def __init__(self, config, sizes):
        super().__init__()
        dim, units, dropout = config["embedding_dim"], config["units"], config["dropout"]
        self.words = nn.Embedding(sizes["words"], dim, padding_idx=0)
        self.trigrams = nn.EmbeddingBag(sizes["hash_buckets"], dim, mode="sum", padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.rnns = nn.ModuleList(nn.LSTM(2 * dim if depth == 0 else 2 * units, units, batch_first=True,
                                          bidirectional=True) for depth in range(config["layers"]))
        heads = config["attention_heads"]
        self.attention = SelfAttention(2 * units, heads, units // heads, dropout)
        self.slots = nn.Linear(4 * units, sizes["tags"])
        self.votes = nn.Linear(4 * units, sizes["intents"])

    def forward(self, words, trigrams, lengths):
        batch, time = words.shape
        hashed = self.trigrams(trigrams.reshape(batch * time, -1)).reshape(batch, time, -1)
        x = self.dropout(torch.cat([self.words(words), hashed], dim=-1))
        for rnn in self.rnns:
            packed, _ = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
            x = self.dropout(pad_packed_sequence(packed, batch_first=True, total_length=time)[0])
        present = words != 0
        x = torch.cat([x, self.attention(x, present)], dim=-1)
        votes = torch.softmax(self.votes(x), dim=-1) * present[..., None]
        intent = votes.sum(dim=1) / lengths[:, None].to(votes.dtype)
        return self.slots(x), intent


def main():
    args, data, meta = arguments(__doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    training = meta["config"]["training"]
    tensors = {name: torch.from_numpy(array).long() for name, array in data.items()}
    lengths = (data["x_words"] != 0).sum(axis=1)
    model = keras_initialization(SlotFiller(meta["config"]["model"], meta["sizes"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=training["learning_rate"], eps=1e-7)
    parameters = list(model.parameters())
    rng = np.random.default_rng(args.seed)
    clock = Clock()
    model.train()
    for _ in range(args.epochs):
        clock.start()
        batches = padded_batches(lengths, training["batch_size"], rng)
        total = torch.zeros(())
        for rows, width in batches:
            rows = torch.from_numpy(rows)
            optimizer.zero_grad(set_to_none=True)
            slots, intent = model(tensors["x_words"][rows, :width], tensors["x_trigrams"][rows, :width],
                                  torch.from_numpy(lengths)[rows])
            loss = (functional.cross_entropy(slots.transpose(1, 2), tensors["y_slots"][rows, :width], ignore_index=0)
                    + functional.nll_loss(intent.clamp_min(1e-7).log(), tensors["y_intent"][rows]))
            loss.backward()
            for parameter in parameters:  # Keras's clipnorm: each weight's gradient on its own
                nn.utils.clip_grad_norm_(parameter, training["clipnorm"])
            optimizer.step()
            total += loss.detach()
        clock.stop(total / len(batches))
    report(clock, len(batches))


if __name__ == "__main__":
    main()
