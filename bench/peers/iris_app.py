"""The TorchScript peer: FastAPI + uvicorn serving a TorchScript model (models/iris) the way a
Python service would, done well: torch with one intra-op thread per worker process (uvicorn runs 2),
the model loaded once per process, inference_mode, inference inline in the event loop (the model
costs microseconds: a thread-pool hop would cost more than it), the answer serialised once.

Same request and answer as modelcache's POST /inference/{model} on a tensor model:
{"inputs": [[5.1, 3.4, 1.5, 0.2]]} -> {"model", "revision", "outputs", "shape", "dtype", "predictions"}.

Run by bench/peers/serve.sh; PEER_MODEL_DIR is the model's folder (model.pt, config.json).
"""

import hashlib
import json
import os

import torch
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

MODEL_DIR = os.environ["PEER_MODEL_DIR"]
NAME = os.path.basename(os.path.normpath(MODEL_DIR))
with open(os.path.join(MODEL_DIR, "model.pt"), "rb") as f:
    REVISION = hashlib.sha1(f.read()).hexdigest()  # a stand-in for modelcache's snapshot id
MODEL = torch.jit.load(os.path.join(MODEL_DIR, "model.pt"), map_location="cpu").eval()
with open(os.path.join(MODEL_DIR, "config.json"), encoding="utf-8") as f:
    ID2LABEL = json.load(f).get("id2label", {})
LABELS = [ID2LABEL[str(i)] for i in range(len(ID2LABEL))]

app = FastAPI()


class Request(BaseModel):
    inputs: list[list[float]]


@app.post("/inference/{model}")
async def infer(model: str, request: Request) -> Response:
    if model != NAME:
        raise HTTPException(status_code=404, detail=f"no model {model}")
    with torch.inference_mode():
        out = MODEL(torch.tensor(request.inputs, dtype=torch.float32))
    rows = out.tolist()
    answer = {
        "model": NAME,
        "revision": REVISION,
        "outputs": rows,
        "shape": list(out.shape),
        "dtype": "float32",
    }
    if LABELS and out.dim() == 2 and out.shape[1] == len(LABELS):
        best = out.argmax(dim=1).tolist()
        answer["predictions"] = [
            {"label": LABELS[b], "index": b, "score": row[b]} for b, row in zip(best, rows)
        ]
    return Response(json.dumps(answer), media_type="application/json")


@app.get("/health/live")
async def live() -> Response:
    return Response('{"status":"live"}', media_type="application/json")
