"""mloop's pyfunc worker: loads one MLflow model and scores requests for `mloop serve`.

Started as `python mloop_pyfunc_worker.py MODEL_DIR`. It speaks length-prefixed frames on
stdin/stdout: 4 bytes big-endian length, then the payload.

Raw requests (any model, any input) are UTF-8 JSON and are scored with MLflow's own
scoring-server code, so answers match `mlflow models serve` exactly:
  mloop -> worker  {"id": 7, "content_type": "application/json", "body": "<request body>"}
  worker -> mloop  {"id": 7, "status": 200, "body": "<response body>"}

Columnar batches (the fast path, only for models where it gives MLflow's answer; see
`fast_path`) start with the byte "F", then a 4-byte big-endian header length, the header
JSON {"ids": [7, 8], "rows": [1, 3]} and the values as little-endian float64, column by column
in the signature's order, each column holding the rows of every request one after the other
(NaN for a missing value).
The worker predicts them in one call and answers with one frame:
  worker -> mloop  {"batch": [{"id": 7, "predictions": "<json>"}, {"id": 8, "fallback": true}]}
"fallback" asks mloop to send that request again raw, through MLflow's code: when the batch
fails in the model, each request is predicted alone, and one that still fails goes back to
MLflow so that its error is exactly MLflow's.

The first frame the worker sends is {"ready": true, "fast": {...} or null, ...} once the model
is loaded. Anything the model prints goes to stderr, never into the protocol.
"""
import inspect
import json
import os
import struct
import sys
import warnings

# scikit-learn estimators whose predict functions turn a frame of float64 columns into the same
# float64 array before anything else (check_array), and hold no sub-estimator that could read
# columns by name: given that array directly they compute the same answer, without pandas.
ARRAY_SAFE_MODULES = (
    "sklearn.linear_model.",
    "sklearn.tree.",
    "sklearn.svm.",
    "sklearn.naive_bayes",
    "sklearn.neighbors.",
    "sklearn.discriminant_analysis",
    "sklearn.neural_network.",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._gb",
)


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


def fast_path(model):
    """The model's own predict function and its columns, when scoring a float64 frame built from
    already-checked rows gives exactly what MLflow's pyfunc predict gives: a scikit-learn model
    whose signature is all named double columns, with no params and no type-hint signature.
    Anything else returns None and goes through MLflow's invocations."""
    meta = model.metadata
    pyfunc_conf = meta.flavors.get("python_function", {})
    if pyfunc_conf.get("loader_module") != "mlflow.sklearn":
        return None
    schema = meta.get_input_schema()
    if schema is None or not schema.has_input_names() or schema.is_tensor_spec():
        return None
    if meta.get_params_schema() is not None:
        return None
    if meta._is_signature_from_type_hint() or meta._is_type_hint_from_example():
        return None
    from mlflow.types.schema import DataType

    if any(t != DataType.double for t in schema.input_types()):
        return None
    predict_fn = getattr(model, "_predict_fn", None)
    if predict_fn is None:
        return None
    try:
        takes_params = "params" in inspect.signature(predict_fn).parameters
    except (TypeError, ValueError):
        return None
    columns = schema.input_names()
    array_fn = _array_predict_fn(model, predict_fn, columns)
    if array_fn is not None:

        def predict(matrix, pd):
            with warnings.catch_warnings():
                # "X does not have valid feature names": the names were checked once, at load
                warnings.simplefilter("ignore", UserWarning)
                return array_fn(matrix)

        return columns, predict

    def predict(matrix, pd):
        frame = pd.DataFrame(matrix, columns=columns, copy=False)
        return predict_fn(frame, params=None) if takes_params else predict_fn(frame)

    return columns, predict


def _array_predict_fn(model, predict_fn, columns):
    """The estimator's own predict method, when calling it on the float64 array gives what it gives
    on the frame (see ARRAY_SAFE_MODULES): a plain scikit-learn estimator whose fitted feature names,
    if any, are the signature's columns in the signature's order (on a frame in another order it
    would refuse; on the array it could not tell)."""
    impl = getattr(model, "_model_impl", None)
    estimator = getattr(impl, "sklearn_model", None)
    if estimator is None or not type(estimator).__module__.startswith(ARRAY_SAFE_MODULES):
        return None
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and [str(n) for n in names] != list(columns):
        return None
    bound_to = getattr(predict_fn, "__self__", None)
    name = getattr(predict_fn, "__name__", "")
    if bound_to is impl and name == "predict":
        return estimator.predict
    if bound_to is estimator:
        return predict_fn
    return None


def main():
    model_dir = sys.argv[1]
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(protocol_fd, "wb", buffering=0)
    inp = sys.stdin.buffer

    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import load_model
    from mlflow.pyfunc import scoring_server

    model = load_model(model_dir)
    schema = model.metadata.get_input_schema()
    fast = fast_path(model)

    def predict_rows(matrix):
        """Predictions of a float64 matrix (one row per input row), as a numpy array with one entry per row."""
        result = fast[1](matrix, pd)
        if not isinstance(result, np.ndarray) or result.ndim == 0 or result.shape[0] != matrix.shape[0]:
            raise TypeError("the model's output is not one numpy row per input row")
        if result.dtype.kind not in "biufU":
            raise TypeError("the model's output is not numbers or strings")
        return result

    def score_batch(header, data):
        columns = fast[0]
        ids, rows = header["ids"], header["rows"]
        # column-major, as pandas holds a frame of float64 columns (and hands it to the model)
        matrix = np.frombuffer(data, dtype="<f8").reshape(len(columns), -1).T
        try:
            result = predict_rows(matrix)
            outputs = [result]
        except Exception:
            outputs = None
        items = []
        start = 0
        for rid, n in zip(ids, rows):
            if outputs is not None:
                items.append({"id": rid, "predictions": json.dumps(outputs[0][start : start + n].tolist())})
            elif len(ids) == 1:
                items.append({"id": rid, "fallback": True})
            else:
                try:
                    part = predict_rows(matrix[start : start + n])
                    items.append({"id": rid, "predictions": json.dumps(part.tolist())})
                except Exception:
                    items.append({"id": rid, "fallback": True})
            start += n
        return {"batch": items}

    send(
        out,
        {
            "ready": True,
            "pid": os.getpid(),
            "mlflow_version": mlflow.__version__,
            "fast": {"columns": fast[0]} if fast else None,
        },
    )
    while True:
        header = read_exact(inp, 4)
        if header is None:
            return
        (length,) = struct.unpack(">I", header)
        payload = read_exact(inp, length)
        if payload is None:
            return
        if payload[:1] == b"F" and fast is not None:
            (hlen,) = struct.unpack(">I", payload[1:5])
            send(out, score_batch(json.loads(payload[5 : 5 + hlen]), payload[5 + hlen :]))
            continue
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
