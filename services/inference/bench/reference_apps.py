"""Apps the benchmark starts with uvicorn next to the inference service.

- `bare_app`: the reference, a FastAPI app that calls onnxruntime directly in
  an async handler, with no validation, auth, metrics or cache.
- `fake_training_app`: serves the model metadata of BENCH_MODEL_DIR at
  training's internal endpoint, for a run without the whole stack.
- the ceiling server (`python reference_apps.py PORT`): a raw asyncio server
  that returns a fixed response to every request, to measure the load
  generator's own ceiling.

Each reads BENCH_MODEL_DIR (model.onnx and metadata.json) at import.
"""

import asyncio
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response

MODEL_DIR = Path(os.environ.get("BENCH_MODEL_DIR", "."))


def _metadata() -> dict:
    path = MODEL_DIR / "metadata.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _bare() -> FastAPI:
    metadata = _metadata()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(MODEL_DIR / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    columns = metadata.get("input_schema", [])
    labels = [str(label) for label in metadata.get("class_labels") or []]
    outputs = [o.name for o in session.get_outputs()]
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        record = (await request.json())["record"]
        feed = {}
        for column in columns:
            value = record[column["name"]]
            if column["type"] == "numeric":
                number = np.nan if value is None else value
                feed[column["onnx_input"]] = np.array([[number]], dtype=np.float32)
            else:
                text = "" if value is None else str(value)
                feed[column["onnx_input"]] = np.array([[text]], dtype=object)
        result = session.run(outputs, feed)
        body = {"prediction": result[0].reshape(-1).tolist()[0]}
        if len(result) > 1:
            body["probabilities"] = dict(
                zip(labels, result[1][0].tolist(), strict=True)
            )
        return Response(json.dumps(body), media_type="application/json")

    return app


def _fake_training() -> FastAPI:
    metadata = _metadata()
    token = os.environ.get("INTERNAL_TOKEN", "")
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/internal/v1/models/{model_id}")
    async def model(
        model_id: str, x_user_id: str = Header(""), x_internal_token: str = Header("")
    ) -> JSONResponse:
        if x_internal_token != token:
            return JSONResponse({"error": "not_authenticated"}, status_code=401)
        if model_id != metadata.get("id") or x_user_id != metadata.get("owner"):
            return JSONResponse({"error": "model_not_found"}, status_code=404)
        return JSONResponse(metadata)

    return app


CEILING_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
)


class _CeilingProtocol(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        # Requests carry a body, so count complete requests by their bodies:
        # good enough for the fixed request the generator sends.
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(CEILING_RESPONSE)


async def _serve_ceiling(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_CeilingProtocol, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if os.environ.get("BENCH_APP") == "bare":
    bare_app = _bare()
if os.environ.get("BENCH_APP") == "training":
    fake_training_app = _fake_training()

if __name__ == "__main__":
    asyncio.run(_serve_ceiling(int(sys.argv[1])))
