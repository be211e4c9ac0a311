"""The text-embedding peer: FastAPI + uvicorn serving all-MiniLM-L6-v2 with onnxruntime and
HuggingFace tokenizers the way a Python service would, done well: one intra-op and one inter-op
thread per worker process (uvicorn runs 2), the session and tokenizer loaded once per process,
inference inline in the event loop. What modelcache's text-embedding task does: the tokenizer's
truncation (max_length from tokenizer.json, 128 here), no fixed padding (a batch is padded to its
longest text), mean pooling of last_hidden_state over the real tokens, then L2 normalisation.

Same request and answer as modelcache's POST /inference/{model} on a text-embedding model:
{"inputs": "a sentence"} or {"inputs": ["a", "b"]} -> {"model", "revision", "outputs": [[...384 floats]]}.

Run by bench/peers/serve.sh; PEER_MODEL_DIR is the folder with model.onnx and tokenizer.json.
"""

import hashlib
import json
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel
from tokenizers import Tokenizer

MODEL_DIR = os.environ["PEER_MODEL_DIR"]
NAME = os.environ.get("PEER_MODEL_NAME") or os.path.basename(os.path.normpath(MODEL_DIR))
with open(os.path.join(MODEL_DIR, "model.onnx"), "rb") as f:
    REVISION = hashlib.sha1(f.read()).hexdigest()  # a stand-in for modelcache's snapshot id

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
SESSION = ort.InferenceSession(
    os.path.join(MODEL_DIR, "model.onnx"), options, providers=["CPUExecutionProvider"]
)
INPUTS = {i.name for i in SESSION.get_inputs()}

with open(os.path.join(MODEL_DIR, "tokenizer.json"), encoding="utf-8") as f:
    _spec = json.load(f)
MAX_LENGTH = (_spec.get("truncation") or {}).get("max_length") or 512
PAD_ID = (_spec.get("padding") or {}).get("pad_id", 0)
TOKENIZER = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
TOKENIZER.no_padding()
TOKENIZER.enable_truncation(MAX_LENGTH)
TOKENIZER.enable_padding(pad_id=PAD_ID)  # to the longest of the batch

app = FastAPI()


class Request(BaseModel):
    inputs: str | list[str]


def embed(texts: list[str]) -> np.ndarray:
    encodings = TOKENIZER.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in INPUTS:
        feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
    hidden = SESSION.run(["last_hidden_state"], feed)[0]  # [N, L, H]
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)


@app.post("/inference/{model}")
async def infer(model: str, request: Request) -> Response:
    if model != NAME:
        raise HTTPException(status_code=404, detail=f"no model {model}")
    texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
    if not texts:
        raise HTTPException(status_code=400, detail="inputs: no text")
    vectors = embed(texts)
    return Response(
        json.dumps({"model": NAME, "revision": REVISION, "outputs": vectors.tolist()}), media_type="application/json"
    )


@app.get("/health/live")
async def live() -> Response:
    return Response('{"status":"live"}', media_type="application/json")
