"""Drives mloop's artifact proxy with the official mlflow client's own repository class.

Usage: python mlflow_artifacts_client.py <artifact-uri> <work-dir>
Prints one line per check; exits non-zero on the first failure.
"""
import filecmp
import hashlib
import os
import sys

from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

uri, work = sys.argv[1], sys.argv[2]
repo = get_artifact_repository(uri)
print("repository", type(repo).__name__)

src = os.path.join(work, "src")
os.makedirs(os.path.join(src, "model", "data"))
with open(os.path.join(src, "model", "MLmodel"), "w") as f:
    f.write("flavors:\n  python_function: {}\n")
with open(os.path.join(src, "model", "data", "weights.bin"), "wb") as f:
    f.write(os.urandom(3 * 1024 * 1024 + 11))
with open(os.path.join(src, "metrics.json"), "w") as f:
    f.write('{"acc": 0.9}')
with open(os.path.join(src, "notes.txt"), "w") as f:
    f.write("hello")

repo.log_artifacts(src)
repo.log_artifact(os.path.join(src, "notes.txt"), "extra")

top = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
assert top == [("extra", True, None), ("metrics.json", False, 12), ("model", True, None), ("notes.txt", False, 5)], top
print("list", top)
nested = [(f.path, f.is_dir) for f in repo.list_artifacts("model")]
assert nested == [("model/MLmodel", False), ("model/data", True)], nested

dst = os.path.join(work, "dst")
os.makedirs(dst)
out = repo.download_artifacts("", dst)
cmp = filecmp.dircmp(src, os.path.join(out, ""))
for rel in ["model/MLmodel", "model/data/weights.bin", "metrics.json", "notes.txt", "extra/notes.txt"]:
    a = os.path.join(src, rel if not rel.startswith("extra/") else "notes.txt")
    b = os.path.join(out, rel)
    assert filecmp.cmp(a, b, shallow=False), rel
print("download ok")
if os.environ.get("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD") == "true":
    presigned = repo._get_presigned_download_url("model/data/weights.bin")
    assert presigned.file_size == 3 * 1024 * 1024 + 11, presigned
    print("ranged download ok")

# Multipart upload through the proxy, the way MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD makes the client do it.
big = os.path.join(work, "big.bin")
with open(big, "wb") as f:
    f.write(os.urandom(12 * 1024 * 1024 + 3))
repo._try_multipart_upload(big, "mpu")
os.makedirs(os.path.join(work, "mpu-dst"))
got = repo.download_artifacts("mpu/big.bin", os.path.join(work, "mpu-dst"))
h = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
assert h(got) == h(big)
print("multipart ok")

repo.delete_artifacts("model")
assert [f.path for f in repo.list_artifacts()] == ["extra", "metrics.json", "mpu", "notes.txt"]
print("delete ok")
