import { describe, expect, it } from "vitest";
import { guessContentType } from "./mime.js";

describe("guessContentType", () => {
  it.each([
    // MLflow's text/plain list, matched case-sensitively, and names without an extension
    ["conda.yaml", "text/plain"],
    ["model/MLmodel", "text/plain"],
    ["MLproject", "text/plain"],
    ["metrics.json", "text/plain"],
    ["notebook.ipynb", "text/plain"],
    ["script.js", "text/plain"],
    ["a/b/train.log", "text/plain"],
    // everything else from mime-db, as MLflow's server answers them (Python's mimetypes)
    ["report.html", "text/html"],
    ["style.css", "text/css"],
    ["plot.png", "image/png"],
    ["PLOT.PNG", "image/png"],
    ["photo.jpeg", "image/jpeg"],
    ["diagram.svg", "image/svg+xml"],
    ["favicon.ico", "image/vnd.microsoft.icon"],
    ["scan.tiff", "image/tiff"],
    ["picture.avif", "image/avif"],
    ["paper.pdf", "application/pdf"],
    ["bundle.zip", "application/zip"],
    ["bundle.tar", "application/x-tar"],
    ["clip.mov", "video/quicktime"],
    ["clip.mp4", "video/mp4"],
    ["sound.mp3", "audio/mpeg"],
    ["sound.wav", "audio/x-wav"],
    ["shapes.geojson", "application/geo+json"],
    ["DATA.JSON", "application/json"],
    // compressed files keep a type saying so (MLflow's Python answers octet-stream or x-tar)
    ["data.gz", "application/gzip"],
    ["data.tgz", "application/gzip"],
    // unknown, hidden or extension-less files are binary
    ["model.onnx", "application/octet-stream"],
    ["weights.safetensors", "application/octet-stream"],
    ["data.parquet", "application/octet-stream"],
    [".png", "application/octet-stream"],
    ["png", "application/octet-stream"],
    ["Makefile", "application/octet-stream"],
  ])("%s is sent as %s", (name, type) => {
    expect(guessContentType(name)).toBe(type);
  });
});
