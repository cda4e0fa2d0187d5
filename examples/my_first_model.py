"""The course's MyFirstModel (tensor_exercises.md) as a model torchdeck can train.

The course builds it with output_dim=2; here the output is one score per character of the
corpus, so that it predicts the next character:

    torchdeck train --model examples/my_first_model.py:build --preset mini --steps 500 --out runs/first
    torchdeck sample --checkpoint runs/first --model examples/my_first_model.py:build

torchdeck calls ``build(vocab_size, block_size)`` with the corpus's number of distinct
characters and the context length, and trains what it returns with the cross-entropy of its
logits [B, T, vocab_size] against the next characters.
"""

import torch.nn as nn


class MyFirstModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim):
        super().__init__()
        # the layers it uses
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.linear = nn.Linear(embedding_dim, hidden_dim)
        self.activation = nn.ReLU()
        self.output_layer = nn.Linear(hidden_dim, output_dim)

    def forward(self, indices):
        # the data's path through them
        embeds = self.embedding(indices)  # 1. one vector per character id
        hidden = self.activation(self.linear(embeds))  # 2. linear layer, then ReLU
        output = self.output_layer(hidden)  # 3. one score per character
        return output


def build(vocab_size, block_size):
    # each position sees only its own character, so block_size only sets the training window
    return MyFirstModel(vocab_size, embedding_dim=16, hidden_dim=8, output_dim=vocab_size)
