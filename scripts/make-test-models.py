#!/usr/bin/python3
"""Train the demo models that modelcache serves out of the box, and write their reference outputs.

Run with Debian's PyTorch (apt-get install -y python3-torch python3-sklearn):

    /usr/bin/python3 scripts/make-test-models.py

    /usr/bin/python3 scripts/make-test-models.py dtypes   # only the dtypes model (no training)

Writes, for each model, models/<name>/{model.pt,config.json} (the files modelcache fetches and serves) and
models/reference/<name>.json (inputs with the outputs PyTorch computed for them, which the tests and the README's
curl examples are checked against). Training is seeded, so a re-run gives the same labels; float details may
change with the PyTorch build, which is why the outputs are committed rather than re-derived.
"""
import hashlib
import json
import os
import sys

import torch
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import train_test_split

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")


class Iris(torch.nn.Module):
    """Standardise raw iris measurements (cm), a small MLP, softmax: probabilities out."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    def logits(self, x):
        return self.net((x - self.mean) / self.std)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


class Digits(torch.nn.Module):
    """8x8 grey digits (pixel values 0..16) as [N, 1, 8, 8], a small CNN, softmax: probabilities out."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.head = torch.nn.Linear(16 * 2 * 2, 10)

    def logits(self, x):
        return self.head(self.conv(x / 16.0).flatten(1))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def train(model, x, y, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model.logits(x), y)
        loss.backward()
        opt.step()
    return loss.item()


def _rounded(t):
    if t.dim() == 1:
        return [round(v, 4) for v in t.tolist()]
    return [_rounded(s) for s in t]


def save(name, model, example, labels, x_test, y_test, ref_rows, description):
    model.eval()
    out_dir = os.path.join(ROOT, name)
    os.makedirs(out_dir, exist_ok=True)
    traced = torch.jit.trace(model, example)
    path = os.path.join(out_dir, "model.pt")
    traced.save(path)
    # Reload what was written, so the reference comes from the exact bytes that get served.
    loaded = torch.jit.load(path)
    with torch.no_grad():
        accuracy = (loaded(x_test).argmax(1) == y_test).float().mean().item()
        probs = loaded(ref_rows[0])
    config = {
        "model_type": name,
        "description": description,
        "input_shape": list(example.shape[1:]),
        "id2label": {str(i): label for i, label in enumerate(labels)},
        "label2id": {label: i for i, label in enumerate(labels)},
        "test_accuracy": round(accuracy, 4),
        "torch_version": torch.__version__,
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    reference = {
        "model": name,
        "note": "outputs computed by PyTorch " + torch.__version__ + " from models/" + name + "/model.pt",
        "cases": [
            {
                # float32 values of the data set, printed at the data set's precision (same float32 bits)
                "inputs": _rounded(row),
                "expected_label": labels[int(expected)],
                "label": labels[int(p.argmax())],
                "probabilities": p.tolist(),
            }
            for row, expected, p in zip(ref_rows[0], ref_rows[1], probs)
        ],
    }
    os.makedirs(os.path.join(ROOT, "reference"), exist_ok=True)
    with open(os.path.join(ROOT, "reference", name + ".json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    for file in ("model.pt", "config.json"):
        with open(os.path.join(out_dir, file), "rb") as f:
            print(f"{name}/{file}: sha256 {hashlib.sha256(f.read()).hexdigest()}")
    print(f"{name}: test accuracy {accuracy:.4f}")


class Dtypes(torch.nn.Module):
    """One input and one output of each dtype the tensor task carries, each [N, 2], plus a float32 [N] sum:
    exact arithmetic, so every value can be checked, batched or not."""

    def forward(self, f32: torch.Tensor, f64: torch.Tensor, i32: torch.Tensor, i64: torch.Tensor,
                b: torch.Tensor):
        return (f32 * 2.0, f64 + 0.5, i32 * 3, i64 - 7, torch.logical_not(b),
                f32.sum(1) + f64.sum(1).to(torch.float32))


DTYPE_INPUTS = [("f32", "FP32"), ("f64", "FP64"), ("i32", "INT32"), ("i64", "INT64"), ("b", "BOOL")]
DTYPE_OUTPUTS = [("f32_doubled", "FP32", [2]), ("f64_plus_half", "FP64", [2]), ("i32_tripled", "INT32", [2]),
                 ("i64_minus_7", "INT64", [2]), ("b_negated", "BOOL", [2]), ("row_sum", "FP32", [])]


def make_dtypes():
    """models/dtypes: a scripted model with inputs and outputs of every dtype, and its reference."""
    out_dir = os.path.join(ROOT, "dtypes")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.pt")
    torch.jit.script(Dtypes()).save(path)
    config = {
        "model_type": "dtypes",
        "description": "Inputs f32, f64, i32, i64, b of shape [N, 2]; outputs f32*2, f64+0.5, i32*3, i64-7, not b, "
                       "and the float32 sum of the f32 and f64 rows [N]",
        "inputs": [{"name": n, "datatype": t, "shape": [2]} for n, t in DTYPE_INPUTS],
        "outputs": [{"name": n, "datatype": t, "shape": s} for n, t, s in DTYPE_OUTPUTS],
        "torch_version": torch.__version__,
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    inputs = {
        "f32": torch.tensor([[1.5, -2.25], [0.125, 3.0]], dtype=torch.float32),
        "f64": torch.tensor([[1e-300, 2.5], [-7.75, 1e15]], dtype=torch.float64),
        "i32": torch.tensor([[2147483647 // 3, -5], [0, 7]], dtype=torch.int32),
        "i64": torch.tensor([[9007199254740993, -9], [0, 1]], dtype=torch.int64),
        "b": torch.tensor([[True, False], [False, True]]),
    }
    loaded = torch.jit.load(path)
    with torch.no_grad():
        outputs = loaded(*[inputs[n] for n, _ in DTYPE_INPUTS])
    reference = {
        "model": "dtypes",
        "note": "outputs computed by PyTorch " + torch.__version__ + " from models/dtypes/model.pt",
        "inputs": {n: inputs[n].tolist() for n, _ in DTYPE_INPUTS},
        "outputs": {name: value.tolist() for (name, _, _), value in zip(DTYPE_OUTPUTS, outputs)},
    }
    os.makedirs(os.path.join(ROOT, "reference"), exist_ok=True)
    with open(os.path.join(ROOT, "reference", "dtypes.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    for file in ("model.pt", "config.json"):
        with open(os.path.join(out_dir, file), "rb") as f:
            print(f"dtypes/{file}: sha256 {hashlib.sha256(f.read()).hexdigest()}")


def main():
    if sys.argv[1:] == ["dtypes"]:
        make_dtypes()
        return
    torch.manual_seed(0)
    torch.set_num_threads(1)

    iris = load_iris()
    x_tr, x_te, y_tr, y_te = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=0, stratify=iris.target)
    x_tr, x_te = torch.tensor(x_tr, dtype=torch.float32), torch.tensor(x_te, dtype=torch.float32)
    y_tr, y_te = torch.tensor(y_tr), torch.tensor(y_te)
    model = Iris(x_tr.mean(0), x_tr.std(0))
    train(model, x_tr, y_tr, epochs=300, lr=0.02)
    # One reference row per class, plus two borderline test rows.
    picks = [int((y_te == c).nonzero()[0]) for c in range(3)] + [3, 7]
    save("iris", model, x_tr[:1], list(iris.target_names), x_te, y_te,
         (x_te[picks], y_te[picks]),
         "Iris species from sepal/petal length and width in cm (sklearn's copy of Fisher's data); "
         "input [N, 4] float32, output [N, 3] probabilities")

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    model = Digits()
    train(model, x_tr, y_tr, epochs=200, lr=0.01)
    picks = [int((y_te == c).nonzero()[0]) for c in range(10)]
    save("digits", model, x_tr[:1], [str(d) for d in range(10)], x_te, y_te,
         (x_te[picks], y_te[picks]),
         "Handwritten digit from an 8x8 grey image (sklearn's UCI optdigits); "
         "input [N, 1, 8, 8] float32 pixel values 0..16, output [N, 10] probabilities")

    make_dtypes()


if __name__ == "__main__":
    main()
