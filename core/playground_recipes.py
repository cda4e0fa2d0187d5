"""The playground's recipes (the exercises of LESSONS.md L4 and L3 as ready-to-run cells) and the
"is this cell complete?" test that decides whether Enter runs a cell or starts a new line.

Plain data and the standard library only: no torch, no UI. The engine runs the recipes; the UI
lists them and loads one into its input box without waiting for the engine.
"""

from __future__ import annotations

import codeop
import warnings
from dataclasses import dataclass

from core.i18n import N_


@dataclass(frozen=True)
class Recipe:
    key: str  # stable name, for tests and scripts
    lesson: str  # "L4" or "L3" (LESSONS.md)
    title: str
    code: str
    expect: str  # what the learner should see, in words and numbers
    raises: str | None = None  # the error type this recipe exists to show, if any


def is_complete(code: str) -> bool:
    """True when ``code`` is a whole cell: Enter runs it. False when more lines are expected (an
    open bracket, a ``def:`` without a body, a line ending in a backslash), so Enter starts a new
    line, as in IPython. A cell with a syntax error counts as complete: running it shows the error.

    A block (``for``, ``def``, ``class``…) is complete once its last line is blank or back at the
    left margin, as in IPython.
    """
    if not code.strip():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for "is" with a literal and friends
            compiled = codeop.compile_command(code, "<cell>", "exec")
    except (SyntaxError, ValueError, OverflowError):
        return True
    if compiled is None:
        return False
    # compile_command accepts "for i in x:\n    f(i)" as soon as the body has a line; the
    # person may still be typing the body: wait while the last line is indented.
    last = code.split("\n")[-1]
    return not last[:1].isspace() or not last.strip()


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "create",
        "L4",
        N_("Create tensors (list, NumPy, ones_like, rand_like)"),
        """\
data_list = [[1, 2], [3, 4]]
x_data = torch.tensor(data_list)             # from a Python list: integers give int64
x_np = torch.from_numpy(np.array(data_list)) # from NumPy: shares the array's memory
x_ones = torch.ones_like(x_data)             # same shape and dtype, filled with 1
x_rand = torch.rand_like(x_data, dtype=torch.float)  # same shape, uniform in [0, 1)
print("from list:", x_data.tolist(), "| from numpy:", x_np.tolist())
print("ones_like:", x_ones.tolist())
print("shape", x_rand.shape, "| dtype", x_rand.dtype, "| device", x_rand.device)
x_rand
""",
        N_(
            "x_data is [[1, 2], [3, 4]] (int64); x_rand has shape [2, 2], dtype float32, device cpu"
        ),
    ),
    Recipe(
        "operations",
        "L4",
        N_("Operations: add, scale, matrix product"),
        """\
x_data = torch.tensor([[1, 2], [3, 4]])
print("x + x =", (x_data + x_data).tolist())   # element by element
print("x * 10 =", (x_data * 10).tolist())      # a scalar reaches every element
x_data @ x_data.T                              # matrix product with the transpose
""",
        N_(
            "x + x = [[2, 4], [6, 8]]; x * 10 = [[10, 20], [30, 40]]; x @ x.T = [[5, 11], [11, 25]]"
        ),
    ),
    Recipe(
        "indexing",
        "L4",
        N_("Indexing and slicing: a row, a column, one element"),
        """\
x_data = torch.tensor([[1, 2], [3, 4]])
print("row 0:   ", x_data[0])       # the first row
print("column 1:", x_data[:, 1])    # every row, second column
print("x[1, 0]: ", x_data[1, 0])    # one element, still a (0-d) tensor
x_data[1, 0].item()                 # .item() gives the Python number
""",
        N_("row 0 = [1, 2]; column 1 = [2, 4]; x[1, 0] = 3"),
    ),
    Recipe(
        "reshape",
        "L4",
        N_("reshape (4, 4) -> (16, 1)"),
        """\
t44 = torch.rand(4, 4)
t161 = t44.reshape(16, 1)            # same 16 numbers, new shape
print("before", t44.shape, "after", t161.shape)
print("same numbers:", torch.equal(t44.flatten(), t161.flatten()))
t161
""",
        N_("before torch.Size([4, 4]), after torch.Size([16, 1]); the numbers are unchanged"),
    ),
    Recipe(
        "autograd",
        "L4",
        N_("Autograd: z = 3 (x + 2)^2, dz/dx at x = 1"),
        """\
x = torch.ones(1, requires_grad=True)
y = x + 2                      # y remembers how it was made
print("y.grad_fn:", y.grad_fn)
z = y * y * 3
z.backward()                   # dz/dx = 6 (x + 2) = 18 at x = 1
x.grad
""",
        N_("y.grad_fn is AddBackward0; x.grad = tensor([18.])"),
    ),
    Recipe(
        "backward_twice",
        "L4",
        N_("The double backward error (retain_graph)"),
        """\
x = torch.ones(1, requires_grad=True)
z = (x + 2) * (x + 2) * 3
z.backward()                   # first pass: fine, frees the graph's saved values
print("x.grad after one backward:", x.grad)
z.backward()                   # second pass through the freed graph: RuntimeError
""",
        N_(
            "x.grad = tensor([18.]) is printed, then a RuntimeError about backward through the graph "
            "a second time, with the retain_graph=True hint"
        ),
        raises="RuntimeError",
    ),
    Recipe(
        "linear",
        "L4",
        N_("nn.Linear(5, 2) on a batch of 3"),
        """\
linear_layer = nn.Linear(in_features=5, out_features=2)
batch = torch.randn(3, 5)        # 3 samples of 5 features
out = linear_layer(batch)        # batch @ weight.T + bias
print("input", batch.shape, "-> output", out.shape)
out
""",
        N_("output shape [3, 2] with grad_fn AddmmBackward0"),
    ),
    Recipe(
        "embedding",
        "L4",
        N_("nn.Embedding(10, 3) looks up rows"),
        """\
embedding_layer = nn.Embedding(num_embeddings=10, embedding_dim=3)
ids = torch.LongTensor([1, 5, 0, 8])   # each id must be < 10
vectors = embedding_layer(ids)         # one row of the weight per id
print("ids", ids.shape, "-> vectors", vectors.shape)
vectors
""",
        N_("ids shape [4] -> vectors shape [4, 3] with grad_fn EmbeddingBackward0"),
    ),
    Recipe(
        "my_first_model",
        "L4",
        N_("MyFirstModel: Embedding -> Linear -> ReLU -> Linear"),
        """\
class MyFirstModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.linear = nn.Linear(embedding_dim, hidden_dim)
        self.activation = nn.ReLU()
        self.output_layer = nn.Linear(hidden_dim, output_dim)

    def forward(self, indices):                  # indices: [batch, tokens]
        embeds = self.embedding(indices)         # [batch, tokens, embedding_dim]
        hidden = self.activation(self.linear(embeds))  # [batch, tokens, hidden_dim]
        return self.output_layer(hidden)         # [batch, tokens, output_dim]

# named my_model so that `model` stays the app's live model
my_model = MyFirstModel(vocab_size=100, embedding_dim=16, hidden_dim=8, output_dim=2)
my_out = my_model(torch.LongTensor([[1, 2, 5, 9]]))   # one sentence of 4 ids
print("output shape:", my_out.shape)
my_model
""",
        N_("output shape torch.Size([1, 4, 2]); the module has 1,754 parameters"),
    ),
    Recipe(
        "embedding_vs_linear",
        "L3",
        N_("Embedding vs Linear: same weight shape, swapped arguments"),
        """\
e = nn.Embedding(num_embeddings=5000, embedding_dim=70)   # (vocab, dim)
l = nn.Linear(in_features=70, out_features=5000)          # (in, out): the other order
print("Embedding weight", e.weight.shape, "| Linear weight", l.weight.shape)
only_e = sorted(set(vars(e)) - set(vars(l)) - {"_fill_padding_idx_with_zero"})
only_l = sorted(set(vars(l)) - set(vars(e)))
print("only Embedding:", [a for a in only_e if not a.startswith("_")])
print("only Linear:   ", [a for a in only_l if not a.startswith("_")] + ["bias"])
print("both wrap nn.Parameter:", type(e.weight).__name__, type(l.weight).__name__)
e.weight.shape == l.weight.shape
""",
        N_(
            "both weights are torch.Size([5000, 70]); only Embedding has padding_idx, max_norm, "
            "norm_type, scale_grad_by_freq, sparse; only Linear has in_features, out_features, bias"
        ),
    ),
    Recipe(
        "linear_with_int",
        "L3",
        N_("Calling a Linear with an int (the TypeError)"),
        """\
l = nn.Linear(in_features=70, out_features=5000)
row = l.weight[14]      # works: row 14 of the weight, shape [70]
print("l.weight[14] has shape", row.shape)
l(14)                   # a layer takes a tensor, not an int: TypeError
""",
        N_("l.weight[14] has shape [70]; l(14) raises TypeError with a hint"),
        raises="TypeError",
    ),
    Recipe(
        "one_hot_lookup",
        "L3",
        N_("Embedding lookup = one-hot @ weight"),
        """\
e = nn.Embedding(5000, 70)
lookup = e(torch.tensor([14]))                       # O(1): pick row 14
one_hot = F.one_hot(torch.tensor([14]), num_classes=5000).float()
product = one_hot @ e.weight                         # O(V*d): a whole matrix product
print("shapes", lookup.shape, product.shape)
print("max abs difference:", (lookup - product).abs().max().item())
torch.allclose(lookup, product)
""",
        N_("both are [1, 70], the max abs difference is 0.0 and allclose is True"),
    ),
    Recipe(
        "init",
        "L3",
        N_("Default initialisation: Normal(0, 1) vs Kaiming-uniform"),
        """\
e = nn.Embedding(5000, 70)
l = nn.Linear(70, 5000)
bound = 1 / 70 ** 0.5                      # Linear: uniform in [-bound, bound]
print(f"Embedding: mean {e.weight.mean().item():+.3f} std {e.weight.std().item():.3f}"
      "  (theory 0, 1)")
print(f"Linear:    mean {l.weight.mean().item():+.4f} std {l.weight.std().item():.4f}"
      f"  (theory 0, {bound / 3 ** 0.5:.4f}); max |w| {l.weight.abs().max().item():.4f}"
      f" <= {bound:.4f}")
with torch.no_grad():
    nn.init.normal_(l.weight, 0.0, 1.0)    # now the Linear looks like the Embedding
print(f"Linear after normal_: std {l.weight.std().item():.3f}")
l.weight
""",
        N_(
            "Embedding std about 1.0; Linear std about 0.069 with every |w| <= 0.1195; after "
            "normal_ the Linear's std is about 1.0"
        ),
    ),
    Recipe(
        "weight_tying",
        "L3",
        N_("Weight tying: one matrix, counted once"),
        """\
class TiedLM(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.unembed = nn.Linear(dim, vocab_size, bias=False)
        self.unembed.weight = self.embed.weight        # the same Parameter, as in GPT-2

    def forward(self, ids):
        return self.unembed(self.embed(ids))

tied = TiedLM(5000, 70)
print("same tensor:", tied.unembed.weight is tied.embed.weight)
print("parameters:", sum(p.numel() for p in tied.parameters()), "(5000 x 70, once)")
print(f"GPT-2 size matrix 50k x 768 in float32: {50_000 * 768 * 4 / 1e6:.1f} MB")
tied
""",
        N_("same tensor: True; parameters: 350000 (not 700000); 153.6 MB for 50k x 768"),
    ),
)


def recipe(key: str) -> Recipe:
    for r in RECIPES:
        if r.key == key:
            return r
    raise KeyError(f"no recipe {key!r}; recipes are: {', '.join(r.key for r in RECIPES)}")
