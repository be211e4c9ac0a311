#!/usr/bin/python3
"""Train the demo models that modelcache serves out of the box, and write their reference outputs.

Run with Debian's PyTorch (apt-get install -y python3-torch python3-sklearn python3-pil):

    /usr/bin/python3 scripts/make-test-models.py              # every model
    /usr/bin/python3 scripts/make-test-models.py sentiment    # only the ones named (demo = iris + digits)
    /usr/bin/python3 scripts/make-test-models.py dtypes       # the dtypes model (no training)

Writes, for each model, models/<name>/{model.pt,config.json} (the files modelcache fetches and serves) and
models/reference/<name>.json (inputs with the outputs PyTorch computed for them, which the tests and the README's
curl examples are checked against). Training is seeded, so a re-run gives the same labels; float details may
change with the PyTorch build, which is why the outputs are committed rather than re-derived.
"""
import base64
import hashlib
import io
import json
import os
import random
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


def make_demo():
    """iris and digits, from one seed in this order (as the committed files were made)."""
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


# --- tensor test model of every dtype: "dtypes" (TorchScript, no training) ---------------------------------------

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


# --- text-classification test model: "sentiment" (TorchScript) --------------------------------------------------

POSITIVE = ["good", "great", "excellent", "wonderful", "love", "loved", "amazing", "fantastic", "happy", "best",
            "enjoyed", "nice", "superb", "brilliant"]
NEGATIVE = ["bad", "terrible", "awful", "hate", "hated", "worst", "boring", "poor", "sad", "horrible",
            "disappointing", "broken", "dull", "rude"]
FILLERS = ["the", "a", "movie", "film", "service", "food", "was", "is", "it", "this", "i", "and", "very", "really",
           "plot", "acting", "staff", "day", "book", "hotel", "room", "we", "our", "of", "to", "in", "with",
           "okay", "ordinary", "average", "today", "music", "!", ".", ","]
SENTIMENT_LABELS = ["negative", "neutral", "positive"]


class Sentiment(torch.nn.Module):
    """Bag of word embeddings, mean over the attention mask, a linear layer: logits [N, 3] from input_ids and
    attention_mask [N, L] int64. Padding (id 0, mask 0) does not change a row's result."""

    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, 16, padding_idx=0)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).to(torch.float32)
        summed = (self.embedding(input_ids) * mask).sum(1)
        return self.head(summed / mask.sum(1).clamp(min=1.0))


def sentiment_tokenizer(vocab):
    """A HuggingFace tokenizer.json (WordLevel, lower case, split on whitespace and punctuation), written by hand
    because the `tokenizers` Python package is not in Debian."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in ("[PAD]", "[UNK]")
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    }


def tokenize(vocab, text):
    """What the tokenizer.json above does: lower case, \w+ and runs of punctuation, unknown -> [UNK]."""
    import re
    return [vocab.get(w, vocab["[UNK]"]) for w in re.findall(r"\w+|[^\w\s]+", text.lower())]


def sentiment_sentence(rng):
    words = [rng.choice(FILLERS) for _ in range(rng.randint(2, 9))]
    label = rng.randrange(3)
    cue = {0: NEGATIVE, 1: [], 2: POSITIVE}[label]
    for _ in range(rng.randint(1, 2) if cue else 0):
        words.insert(rng.randint(0, len(words)), rng.choice(cue))
    return " ".join(words), label


def make_sentiment():
    rng = random.Random(0)
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for w in sorted(set(POSITIVE + NEGATIVE + FILLERS)):
        vocab[w] = len(vocab)
    train_set = [sentiment_sentence(rng) for _ in range(3000)]
    test_set = [sentiment_sentence(rng) for _ in range(500)]

    def batch(rows):
        ids = [tokenize(vocab, t) for t, _ in rows]
        width = max(len(i) for i in ids)
        x = torch.tensor([i + [0] * (width - len(i)) for i in ids], dtype=torch.int64)
        m = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids], dtype=torch.int64)
        return x, m, torch.tensor([label for _, label in rows])

    model = Sentiment(len(vocab))
    x, m, y = batch(train_set)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, m), y)
        loss.backward()
        opt.step()
    model.eval()
    out_dir = os.path.join(ROOT, "sentiment")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.pt")
    example = batch(train_set[:2])
    torch.jit.trace(model, (example[0], example[1])).save(path)
    loaded = torch.jit.load(path)
    xt, mt, yt = batch(test_set)
    with torch.no_grad():
        accuracy = (loaded(xt, mt).argmax(1) == yt).float().mean().item()
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(sentiment_tokenizer(vocab), f, indent=1)
        f.write("\n")
    config = {
        "model_type": "sentiment",
        "description": "Toy sentiment of a short English sentence (synthetic data: a bag of word embeddings); "
                       "inputs input_ids and attention_mask [N, L] int64, output logits [N, 3]",
        "problem_type": "single_label_classification",
        "id2label": {str(i): label for i, label in enumerate(SENTIMENT_LABELS)},
        "label2id": {label: i for i, label in enumerate(SENTIMENT_LABELS)},
        "test_accuracy": round(accuracy, 4),
        "torch_version": torch.__version__,
    }
    write_json(os.path.join(out_dir, "config.json"), config)
    sentences = ["What a wonderful day!", "The service was terrible and the food was cold.",
                 "It is a movie.", "I loved the acting, but the plot was boring", "great", "",
                 "Rude staff, broken room, awful hotel; the worst trip of our lives"]
    cases = []
    for text in sentences:
        ids = tokenize(vocab, text)
        with torch.no_grad():
            logits = loaded(torch.tensor([ids or [0]]), torch.tensor([[1] * len(ids) or [0]]))[0]
        probs = torch.softmax(logits, 0)
        cases.append({"text": text, "input_ids": ids, "label": SENTIMENT_LABELS[int(probs.argmax())],
                      "logits": logits.tolist(), "probabilities": probs.tolist()})
    write_json(os.path.join(ROOT, "reference", "sentiment.json"), {
        "model": "sentiment",
        "note": "outputs computed by PyTorch " + torch.__version__ + " from models/sentiment/model.pt",
        "cases": cases,
    })
    print_digests("sentiment", ("model.pt", "config.json", "tokenizer.json"))
    print(f"sentiment: test accuracy {accuracy:.4f}")


# --- image-classification test model: "colors" (ONNX) -----------------------------------------------------------

COLOR_LABELS = ["red", "green", "blue", "grey"]
COLOR_SIZE = 32
COLOR_MEAN = [0.5, 0.5, 0.5]
COLOR_STD = [0.25, 0.25, 0.25]


class Colors(torch.nn.Module):
    """The dominant colour of an RGB picture: pixel_values [N, 3, 32, 32] (rescaled to 0..1 and normalised with
    mean 0.5, std 0.25) in, logits [N, 4] out."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
        self.head = torch.nn.Linear(8, len(COLOR_LABELS))

    def forward(self, pixel_values):
        return self.head(self.conv(pixel_values).flatten(1))


def color_picture(gen, label, height=COLOR_SIZE, width=COLOR_SIZE):
    """uint8 [H, W, 3]: a base colour of the class with blotches and noise."""
    base = torch.rand(3, generator=gen) * 0.35
    if label < 3:
        base[label] = 0.6 + torch.rand(1, generator=gen).item() * 0.4
    else:
        base[:] = 0.2 + torch.rand(1, generator=gen).item() * 0.6
    noise = (torch.rand(height, width, 3, generator=gen) - 0.5) * 0.3
    return ((base + noise).clamp(0, 1) * 255).round().to(torch.uint8)


def to_pixel_values(pictures):
    x = torch.stack([p.to(torch.float32) / 255.0 for p in pictures]).permute(0, 3, 1, 2)
    mean = torch.tensor(COLOR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(COLOR_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def png_bytes(picture):
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(picture.numpy(), "RGB").save(out, format="PNG")
    return out.getvalue()


def make_colors():
    gen = torch.Generator().manual_seed(0)
    labels = [i % len(COLOR_LABELS) for i in range(2000)]
    pictures = [color_picture(gen, label) for label in labels]
    x, y = to_pixel_values(pictures), torch.tensor(labels)
    model = Colors()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        for i in range(0, len(labels), 250):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[i:i + 250]), y[i:i + 250])
            loss.backward()
            opt.step()
    model.eval()
    test_labels = [i % len(COLOR_LABELS) for i in range(400)]
    with torch.no_grad():
        test_x = to_pixel_values([color_picture(gen, label) for label in test_labels])
        accuracy = (model(test_x).argmax(1) == torch.tensor(test_labels)).float().mean().item()
    out_dir = os.path.join(ROOT, "colors")
    os.makedirs(out_dir, exist_ok=True)
    torch.onnx.export(model, x[:1], os.path.join(out_dir, "model.onnx"), input_names=["pixel_values"],
                      output_names=["logits"], dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13)
    write_json(os.path.join(out_dir, "config.json"), {
        "model_type": "colors",
        "description": "The dominant colour of an RGB picture (synthetic data, a small CNN); "
                       "input pixel_values [N, 3, 32, 32], output logits [N, 4]",
        "id2label": {str(i): label for i, label in enumerate(COLOR_LABELS)},
        "label2id": {label: i for i, label in enumerate(COLOR_LABELS)},
        "test_accuracy": round(accuracy, 4),
        "torch_version": torch.__version__,
    })
    # As HuggingFace image processors write it: modelcache reads size, image_mean and image_std from here.
    write_json(os.path.join(out_dir, "preprocessor_config.json"), {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": True,
        "size": {"height": COLOR_SIZE, "width": COLOR_SIZE},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": COLOR_MEAN,
        "image_std": COLOR_STD,
    })
    cases = []
    for label in range(len(COLOR_LABELS)):
        picture = color_picture(gen, label)
        with torch.no_grad():
            logits = model(to_pixel_values([picture]))[0]
        probs = torch.softmax(logits, 0)
        cases.append({"png_base64": base64.b64encode(png_bytes(picture)).decode("ascii"),
                      "expected_label": COLOR_LABELS[label], "label": COLOR_LABELS[int(probs.argmax())],
                      "probabilities": probs.tolist()})
    # A bigger picture, which modelcache must resize first: only its label is compared.
    picture = color_picture(gen, 2, height=48, width=64)
    cases.append({"png_base64": base64.b64encode(png_bytes(picture)).decode("ascii"), "expected_label": "blue",
                  "label": "blue", "resized_from": [48, 64]})
    write_json(os.path.join(ROOT, "reference", "colors.json"), {
        "model": "colors",
        "note": "probabilities computed by PyTorch " + torch.__version__ + " from the model exported to "
                "models/colors/model.onnx (OnnxRuntime agrees within float tolerance)",
        "cases": cases,
    })
    print_digests("colors", ("model.onnx", "config.json", "preprocessor_config.json"))
    print(f"colors: test accuracy {accuracy:.4f}")


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def print_digests(name, files):
    for file in files:
        with open(os.path.join(ROOT, name, file), "rb") as f:
            print(f"{name}/{file}: sha256 {hashlib.sha256(f.read()).hexdigest()}")


MAKERS = {
    "demo": make_demo,  # iris and digits
    "sentiment": lambda: make_sentiment(),
    "colors": lambda: make_colors(),
    "dtypes": lambda: make_dtypes(),
}


def main():
    names = sys.argv[1:] or list(MAKERS)
    unknown = [n for n in names if n not in MAKERS]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; known: {list(MAKERS)}")
    for name in names:
        # Each model from the same seed, so that making one alone gives the same bytes as making all.
        torch.manual_seed(0)
        random.seed(0)
        torch.set_num_threads(1)
        MAKERS[name]()


if __name__ == "__main__":
    main()
