// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) for tests/api/test_onnx.py.
// usage: node run_ort.mjs MODEL.onnx < feeds.json > outputs.json
// feeds.json: {"<input>": {"type": "float"|"string", "dims": [N, 1], "data": [...]}, ...}
// (a null in float data is NaN). Prints {"<output>": {"dims": [...], "data": [...]}, ...},
// plus "ms_per_row" (one row at a time, after a warm-up; the mean of "__time__" runs) when the
// feeds hold "__time__": the first row of each input, dims [1, ...its other dims].
import { readFileSync } from "node:fs";
import ort from "onnxruntime-node";

const feeds = JSON.parse(readFileSync(0, "utf8"));
const timing = feeds.__time__;
delete feeds.__time__;
const session = await ort.InferenceSession.create(process.argv[2]);
const tensors = {};
for (const [name, f] of Object.entries(feeds)) {
  const data = f.type === "float" ? Float32Array.from(f.data, (v) => (v === null ? NaN : v)) : f.data;
  tensors[name] = new ort.Tensor(f.type === "float" ? "float32" : "string", data, f.dims);
}
const res = await session.run(tensors);
const out = {};
for (const [name, t] of Object.entries(res)) {
  out[name] = { dims: t.dims, data: Array.from(t.data, (v) => (typeof v === "bigint" ? Number(v) : v)) };
}
if (timing) {
  const row = {};
  for (const [name, f] of Object.entries(feeds)) {
    const dims = [1, ...f.dims.slice(1)];
    const n = dims.reduce((a, b) => a * b, 1);
    const v = f.data.slice(0, n);
    row[name] = new ort.Tensor(f.type === "float" ? "float32" : "string",
      f.type === "float" ? Float32Array.from(v, (x) => (x === null ? NaN : x)) : v, dims);
  }
  for (let i = 0; i < 200; i++) await session.run(row);
  const n = timing, t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await session.run(row);
  out.ms_per_row = Number(process.hrtime.bigint() - t0) / 1e6 / n;
}
process.stdout.write(JSON.stringify(out));
