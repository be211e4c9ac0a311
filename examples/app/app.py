"""An example backend beside modelcache: it calls POST /inference and checks the answer.

compose.yaml starts it once modelcache is healthy (every required model READY). It needs nothing but the Python
standard library. It also reads the shared volume, mounted read-only, as any app could: the files modelcache
verified are there to load directly (Hub models in the HuggingFace cache layout under hub/, local ones under
local/).

Environment: MODELCACHE_URL (default http://modelcache:8080), MODEL (default iris), MODELS_DIR (default /models),
MODELCACHE_TOKEN (sent as a bearer token when set). Exit 0 when the call succeeded and predicted 'setosa' for
the first iris flower of the README.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

URL = os.environ.get("MODELCACHE_URL", "http://modelcache:8080").rstrip("/")
MODEL = os.environ.get("MODEL", "iris")
MODELS_DIR = os.environ.get("MODELS_DIR", "/models")
TOKEN = os.environ.get("MODELCACHE_TOKEN", "")
IRIS_SETOSA = [5.1, 3.4, 1.5, 0.2]


def infer(inputs, attempts=5):
    body = json.dumps({"model": MODEL, "inputs": inputs}).encode()
    headers = {"Content-Type": "application/json"}
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(URL + "/inference", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            # 503 (not ready, busy) says when to come back; anything else is final.
            message = e.read().decode(errors="replace")
            if e.code != 503 or attempt == attempts:
                sys.exit(f"app: POST {URL}/inference answered {e.code}: {message}")
            time.sleep(min(int(e.headers.get("Retry-After", "1")), 5))
        except urllib.error.URLError as e:
            if attempt == attempts:
                sys.exit(f"app: cannot reach modelcache at {URL}: {e.reason}")
            time.sleep(1)
    return None


def shared_files():
    """The model files this app could load itself from the read-only volume."""
    found = []
    for top in ("local", "hub", "s3"):
        root = os.path.join(MODELS_DIR, top)
        for folder, _, files in os.walk(root):
            if os.sep + "snapshots" + os.sep in folder + os.sep:
                found += [os.path.relpath(os.path.join(folder, f), MODELS_DIR) for f in files]
    return sorted(found)


def main():
    answer = infer([IRIS_SETOSA])
    label = answer.get("predictions", [{}])[0].get("label")
    print(f"app: {MODEL} at revision {answer['revision']} predicts {label} for {IRIS_SETOSA}", flush=True)
    files = shared_files()
    print(f"app: {len(files)} model files readable in {MODELS_DIR}: {', '.join(files[:6])}", flush=True)
    if MODEL == "iris" and label != "setosa":
        sys.exit(f"app: expected setosa, got {label}: {json.dumps(answer)}")


if __name__ == "__main__":
    main()
