"""mloop's pyfunc worker: loads one MLflow model and scores requests for `mloop serve`.

Started as `python mloop_pyfunc_worker.py MODEL_DIR`. It speaks length-prefixed frames on
stdin/stdout: 4 bytes big-endian length, then UTF-8 JSON.
  mloop -> worker  {"id": 7, "content_type": "application/json", "body": "<request body>"}
  worker -> mloop  {"id": 7, "status": 200, "body": "<response body>"}
The first frame the worker sends is {"ready": true, ...} once the model is loaded. Requests are
scored with MLflow's own scoring-server code, so answers match `mlflow models serve` exactly.
Anything the model prints goes to stderr, never into the protocol.
"""
import json
import os
import struct
import sys


def read_exact(stream, n):
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def send(out, message):
    data = json.dumps(message).encode("utf-8")
    out.write(struct.pack(">I", len(data)) + data)
    out.flush()


def main():
    model_dir = sys.argv[1]
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(protocol_fd, "wb", buffering=0)
    inp = sys.stdin.buffer

    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import load_model
    from mlflow.pyfunc import scoring_server

    model = load_model(model_dir)
    schema = model.metadata.get_input_schema()
    send(out, {"ready": True, "pid": os.getpid(), "mlflow_version": mlflow.__version__})
    while True:
        header = read_exact(inp, 4)
        if header is None:
            return
        (length,) = struct.unpack(">I", header)
        payload = read_exact(inp, length)
        if payload is None:
            return
        msg = json.loads(payload)
        try:
            result = scoring_server.invocations(msg["body"], msg["content_type"], model, schema)
            reply = {"id": msg["id"], "status": result.status, "body": result.response}
        except MlflowException as e:
            reply = {"id": msg["id"], "status": e.get_http_status_code(), "body": e.serialize_as_json()}
        except Exception as e:  # the model raised: the client's input did not suit it
            body = json.dumps({"error_code": "BAD_REQUEST", "message": f"The model raised {type(e).__name__}: {e}"})
            reply = {"id": msg["id"], "status": 400, "body": body}
        send(out, reply)


if __name__ == "__main__":
    main()
