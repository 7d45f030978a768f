#!/usr/bin/env python3
"""Writes docs/openapi.json (stdout), the OpenAPI 3 document of every route of server/router.c.

Edit this file, then `make docs` (BIN=bin scripts/openapi.py > docs/openapi.json) and `make`
again (the document is compiled into the binary). The training parameters of POST /train are
not written here: they are read from the binary's table (`$BIN/neurond params --json`,
model/params.c), and the version from the VERSION file. tests/api/test_openapi.py checks that
the document is this script's output, valid, and lists exactly the router's routes;
tests/api/test_params.py that its /train parameters are the table's."""
import json
import os

from paramtable import ROOT, table
ref = lambda n: {"$ref": "#/components/schemas/" + n}
def jbody(schema, desc=None):
    c = {"content": {"application/json": {"schema": schema}}}
    if desc: c["description"] = desc
    return c
def err(desc):
    return {"description": desc, "content": {"application/json": {"schema": ref("Error")}}}
E = {s: err(d) for s, d in {
    "400": "Malformed request or bad parameter (`bad_request`)",
    "401": "Missing or wrong API key (`unauthorized`)",
    "404": "No such resource (`not_found`)",
    "409": "Conflict with the resource's state (`conflict`)",
    "413": "Body or batch too large (`payload_too_large`)",
    "415": "Unsupported Content-Type (`unsupported_media_type`)",
    "422": "Well-formed but does not fit the model (`invalid_input`)",
    "429": "The job queue is full (`queue_full`)",
    "503": "Not ready (`not_ready`)",
}.items()}
def errs(*codes):
    return {c: {"$ref": "#/components/responses/E" + c} for c in codes}
P = lambda name, desc, schema=None, where="path": {"name": name, "in": where, "required": where == "path",
                                                  "description": desc, "schema": schema or {"type": "string"}}
name_p = {"$ref": "#/components/parameters/name"}
ver_p = {"$ref": "#/components/parameters/version"}
id_p = {"$ref": "#/components/parameters/id"}
def op(summary, tag, responses, params=None, body=None, desc=None, security=True, opid=None):
    o = {"summary": summary, "tags": [tag], "operationId": opid, "responses": responses}
    if desc: o["description"] = desc
    if params: o["parameters"] = params
    if body: o["requestBody"] = body
    if not security: o["security"] = []
    return o
ok = lambda schema, desc="OK": {"description": desc, "content": {"application/json": {"schema": schema}}}

def param_schema(p):
    """A row of the table as an OpenAPI schema (form fields and query values are text, so
    lists and widths are strings) and its description."""
    t = p["type"]
    s = {"type": {"integer": "integer", "number": "number"}.get(t, "string")}
    if t in ("integer", "number"):
        s.update({k: p[k] for k in ("minimum", "maximum") if k in p})
        if p.get("exclusive_minimum"):
            s["exclusiveMinimum"] = True
        if p.get("exclusive_maximum"):
            s["exclusiveMaximum"] = True
    if t in ("choice", "boolean"):  # a boolean is one of its words as text (true, 1, yes, ...)
        s["enum"] = p["choices"]
    if t in ("list", "widths"):
        s["example"] = "64,32" if t == "widths" else "a,b"
    help_ = p["help"][0].upper() + p["help"][1:]
    return s, f"{help_} (default: {p['default_text']}; {p['accepts']})"


train_params = {"model": ({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
                          "Model name; a new version is created when the job succeeds")}
train_params.update({p["name"]: param_schema(p) for p in table()})
form_props = {"file": {"type": "string", "format": "binary", "description": "The CSV (RFC 4180, header row)"}}
form_props.update({k: dict(s, description=d) for k, (s, d) in train_params.items()})
query_params = [dict(P(k, d, s, "query"), required=(k == "model")) for k, (s, d) in train_params.items()]

tensor_data = {"type": "array", "description": "Row-major; flat or nested", "items": {}}
schemas = {
 "Error": {"type": "object", "required": ["error", "code", "details"], "properties": {
    "error": {"type": "string", "description": "One human sentence"},
    "code": {"type": "string", "enum": ["bad_request", "unauthorized", "not_found", "method_not_allowed", "conflict",
             "payload_too_large", "uri_too_long", "unsupported_media_type", "invalid_input", "queue_full",
             "headers_too_large", "not_ready", "insufficient_storage", "internal"]},
    "details": {"type": "object", "description": "Points at the culprit: line/column, field/index or parameter",
                "additionalProperties": True}}},
 "HistoryRow": {"type": "object", "properties": {
    "epoch": {"type": "integer"}, "train_loss": {"type": "number", "nullable": True},
    "val_loss": {"type": "number", "nullable": True}, "val_accuracy": {"type": "number", "nullable": True},
    "val_rmse": {"type": "number", "nullable": True}, "seconds": {"type": "number"}}},
 "Job": {"type": "object", "required": ["id", "model", "status"], "properties": {
    "id": {"type": "string"}, "model": {"type": "string"},
    "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
    "progress": {"type": "number", "minimum": 0, "maximum": 1}, "epoch": {"type": "integer"}, "epochs": {"type": "integer"},
    "params": {"type": "object", "additionalProperties": True},
    "dataset": {"type": "object", "properties": {"rows": {"type": "integer"}, "columns": {"type": "integer"}, "sha256": {"type": "string"}}},
    "history": {"type": "array", "items": ref("HistoryRow")},
    "metrics": {"type": "object", "nullable": True, "additionalProperties": True},
    "model_version": {"type": "integer", "nullable": True},
    "error": {"type": "object", "nullable": True, "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
    "created_at": {"type": "string", "format": "date-time", "nullable": True},
    "started_at": {"type": "string", "format": "date-time", "nullable": True},
    "finished_at": {"type": "string", "format": "date-time", "nullable": True}}},
 "JobList": {"type": "object", "required": ["jobs"], "properties": {"jobs": {"type": "array", "items": ref("Job")}}},
 "ModelSummary": {"type": "object", "properties": {
    "name": {"type": "string"}, "version": {"type": "integer"}, "versions": {"type": "array", "items": {"type": "integer"}},
    "pinned": {"type": "boolean"}, "task": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}},
 "ModelList": {"type": "object", "required": ["models"], "properties": {"models": {"type": "array", "items": ref("ModelSummary")}}},
 "Input": {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string", "enum": ["numeric", "categorical", "text"]},
    "categories": {"type": "array", "items": {"type": "string"}}}},
 "ModelCard": {"type": "object", "required": ["name", "version", "task", "inputs"], "properties": {
    "name": {"type": "string"}, "version": {"type": "integer"}, "versions": {"type": "array", "items": {"type": "integer"}},
    "serving_version": {"type": "integer"}, "pinned": {"type": "boolean"},
    "task": {"type": "string", "enum": ["classification", "regression"]},
    "inputs": {"type": "array", "items": ref("Input")},
    "label": {"type": "object", "properties": {"name": {"type": "string"}, "classes": {"type": "array", "items": {"type": "string"}}}},
    "architecture": {"type": "object", "additionalProperties": True},
    "metrics": {"type": "object", "additionalProperties": True},
    "importance": {"type": "object", "nullable": True, "description": "Permutation importance on the validation "
                   "split: per input, the mean drop in the metric over 5 shuffles and its sd (null: not measured)",
                   "properties": {"method": {"type": "string", "enum": ["permutation"]},
                                  "metric": {"type": "string", "enum": ["accuracy", "rmse"]},
                                  "split": {"type": "string"}, "shuffles": {"type": "integer"},
                                  "inputs": {"type": "array", "items": {"type": "object", "properties": {
                                      "name": {"type": "string"}, "mean": {"type": "number"},
                                      "sd": {"type": "number"}}}}}},
    "job_id": {"type": "string", "nullable": True}, "created_at": {"type": "string", "format": "date-time"}},
    "additionalProperties": True},
 "ModelExport": {"type": "object", "description": "The card plus the feature pipeline and every weight and bias",
    "required": ["task", "inputs", "layers"], "additionalProperties": True, "properties": {
    "task": {"type": "string"}, "inputs": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    "label": {"type": "object", "additionalProperties": True},
    "layers": {"type": "array", "items": {"type": "object", "properties": {
        "weights": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "bias": {"type": "array", "items": {"type": "number"}}, "activation": {"type": "string"}}}}}},
 "PredictRequest": {"type": "object", "required": ["instances"], "properties": {
    "model": {"type": "string", "description": "Required on /predict; taken from the path on /models/{name}/predict"},
    "version": {"type": "integer", "minimum": 1, "description": "Default: the serving version"},
    "instances": {"type": "array", "items": {"oneOf": [
        {"type": "object", "additionalProperties": {"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]}},
        {"type": "array", "items": {"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]}}]}},
    "explain": ref("Explain")}},
 "Explain": {"description": "true, false, or {\"top\": n}: explain each prediction, listing n words per text "
             "input (1 to 1000, default 10). Any other value is 400 with details.field `explain` or `explain.top`",
             "oneOf": [{"type": "boolean"}, {"type": "object", "properties": {
                 "top": {"type": "integer", "minimum": 1, "maximum": 1000}}}]},
 "Explanation": {"type": "object", "description": "Integrated gradients from a baseline row to the instance: the "
    "attributions add up to output - baseline within 1e-3 relative",
    "required": ["output", "baseline", "baseline_source", "attributions", "completeness"], "properties": {
    "class": {"type": "string", "description": "The class whose logit is explained (the predicted one)"},
    "output": {"type": "number", "description": "The logit of the class (regression: the value)"},
    "baseline": {"type": "number", "description": "The same at the baseline row"},
    "baseline_source": {"type": "string", "enum": ["training_means", "zeros"]},
    "attributions": {"type": "object", "additionalProperties": {"type": "number"},
                     "description": "Input -> attribution, largest magnitude first"},
    "words": {"type": "object", "description": "Text input -> its top words and bigrams",
              "additionalProperties": {"type": "array", "items": ref("WordValue")}},
    "shape": {"type": "object", "description": "Text input -> its shape features",
              "additionalProperties": ref("ShapeValues")},
    "completeness": {"type": "object", "properties": {"sum": {"type": "number"}, "error": {"type": "number"},
                     "steps": {"type": "integer"}, "converged": {"type": "boolean"}}}}},
 "WordValue": {"type": "object", "properties": {"word": {"type": "string"}, "value": {"type": "number"}}},
 "ShapeValues": {"type": "object", "properties": {k: {"type": "number"} for k in (
    "capitals", "capital_run", "exclamations", "dollars", "urls")}},
 "Prediction": {"type": "object", "properties": {
    "label": {"type": "string"}, "probability": {"type": "number", "description": "Binary: probability of classes[1]"},
    "probabilities": {"type": "object", "additionalProperties": {"type": "number"}},
    "value": {"type": "number", "description": "Regression"},
    "explanation": ref("Explanation")}},
 "PredictResponse": {"type": "object", "required": ["model", "version", "predictions"], "properties": {
    "model": {"type": "string"}, "version": {"type": "integer"}, "predictions": {"type": "array", "items": ref("Prediction")}}},
 "Status": {"type": "object", "properties": {"status": {"type": "string"}}},
 "V2ServerMetadata": {"type": "object", "required": ["name", "version", "extensions"], "properties": {
    "name": {"type": "string"}, "version": {"type": "string"}, "extensions": {"type": "array", "items": {"type": "string"}}}},
 "V2MetadataTensor": {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
    "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}}}},
 "V2ModelMetadata": {"type": "object", "required": ["name", "platform", "inputs", "outputs"], "properties": {
    "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}}, "platform": {"type": "string"},
    "inputs": {"type": "array", "items": ref("V2MetadataTensor")}, "outputs": {"type": "array", "items": ref("V2MetadataTensor")}}},
 "V2Tensor": {"type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
    "name": {"type": "string", "description": "`input` ([n, k], all inputs in card order) or a column name ([n])"},
    "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                                            "INT64", "FP16", "FP32", "FP64", "BF16", "BYTES"]},
    "parameters": {"type": "object", "additionalProperties": True}, "data": tensor_data}},
 "V2InferRequest": {"type": "object", "required": ["inputs"], "properties": {
    "id": {"type": "string"}, "parameters": {"type": "object", "additionalProperties": True, "properties": {
        "explain": dict(ref("Explain"), description="true adds the `explanation` output (details.field "
                        "`parameters.explain` when bad)")}},
    "inputs": {"type": "array", "minItems": 1, "items": ref("V2Tensor")},
    "outputs": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "enum": ["probabilities", "label", "value", "explanation"]},
        "parameters": {"type": "object", "additionalProperties": True}}}}}},
 "V2InferResponse": {"type": "object", "required": ["model_name", "outputs"], "properties": {
    "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
    "parameters": {"type": "object", "additionalProperties": True},
    "outputs": {"type": "array", "items": ref("V2Tensor")}}},
}
paths = {}
def add(path, method, o):
    paths.setdefault(path, {})[method] = o
add("/healthz", "get", op("Liveness", "operations", {"200": ok(ref("Status"))}, security=False, opid="healthz"))
add("/livez", "get", op("Liveness (the Kubernetes name of /healthz)", "operations", {"200": ok(ref("Status"))}, security=False, opid="livez"))
add("/readyz", "get", op("Readiness: the store is open and migrated", "operations",
    {"200": ok(ref("Status")), "503": {"$ref": "#/components/responses/E503"}}, security=False, opid="readyz"))
add("/metrics", "get", op("Prometheus metrics", "operations", {"200": {"description": "Prometheus text format 0.0.4",
    "content": {"text/plain": {"schema": {"type": "string"}}}}}, security=False, opid="metrics",
    desc="Requests by route and status, latency histograms, predictions (total and by model), jobs by status, "
         "queue depth, workers busy, models loaded, training rows per second, store errors."))
add("/openapi.json", "get", op("This document", "operations", {"200": ok({"type": "object"})}, opid="openapi"))
add("/", "get", op("The web dashboard", "dashboard", {"200": {"description": "HTML page",
    "content": {"text/html": {"schema": {"type": "string"}}}}}, security=False, opid="dashboard",
    desc="Static files compiled into the daemon; they carry no data, so they need no key (the page asks for one)."))
add("/ui/{file}", "get", op("A static file of the dashboard (app.js, style.css)", "dashboard",
    {"200": {"description": "The file", "content": {"text/javascript": {"schema": {"type": "string"}},
                                                    "text/css": {"schema": {"type": "string"}}}},
     **errs("404")}, params=[P("file", "File name")], security=False, opid="dashboardFile"))
add("/train", "post", op("Start a training job from a CSV", "training",
    {"202": {"description": "Accepted: the job (queued or running)", "headers": {"Location": {"schema": {"type": "string"},
     "description": "/jobs/{id}"}}, "content": {"application/json": {"schema": ref("Job")}}},
     **errs("400", "401", "413", "415", "429", "503")},
    params=query_params,
    body={"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file", "model"], "properties": form_props}},
        "text/csv": {"schema": {"type": "string"}, "example": "x,y\n1,a\n"}}},
    desc="multipart/form-data (the CSV in the part `file`, parameters as fields) or a text/csv body "
         "with the parameters in the query string.", opid="train"))
add("/jobs", "get", op("List jobs, newest first", "training", {"200": ok(ref("JobList")), **errs("400", "401")},
    params=[P("status", "Filter by status", {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]}, "query"),
            P("model", "Filter by model", where="query"),
            P("limit", "At most this many (default 50)", {"type": "integer", "minimum": 1, "maximum": 1000}, "query")],
    opid="listJobs"))
add("/jobs/{id}", "get", op("A job", "training", {"200": ok(ref("Job")), **errs("401", "404")}, params=[id_p], opid="getJob"))
add("/jobs/{id}", "delete", op("Cancel a queued or running job", "training", {"200": ok(ref("Job")), **errs("401", "404", "409")},
    params=[id_p], opid="deleteJob"))
add("/jobs/{id}/cancel", "post", op("Cancel a queued or running job", "training",
    {"200": ok(ref("Job")), **errs("401", "404", "409")}, params=[id_p], opid="cancelJob"))
add("/jobs/{id}/events", "get", op("Live training progress (Server-Sent Events)", "training",
    {"200": {"description": "`event: progress` with a history row per epoch (the history so far first), "
             "then `event: done` with the final job object",
             "content": {"text/event-stream": {"schema": {"type": "string"}}}}, **errs("401", "404")},
    params=[id_p], opid="jobEvents"))
add("/models", "get", op("List models", "models", {"200": ok(ref("ModelList")), **errs("401")}, opid="listModels"))
add("/models/{name}", "get", op("The serving version's card", "models", {"200": ok(ref("ModelCard")), **errs("401", "404")},
    params=[name_p], opid="getModel"))
add("/models/{name}", "delete", op("Delete a model and all its versions", "models",
    {"204": {"description": "Deleted"}, **errs("401", "404")}, params=[name_p], opid="deleteModel"))
add("/models/{name}/versions/{version}", "get", op("One version's card", "models",
    {"200": ok(ref("ModelCard")), **errs("401", "404")}, params=[name_p, ver_p], opid="getModelVersion"))
add("/models/{name}/versions/{version}", "delete", op("Delete one version", "models",
    {"204": {"description": "Deleted"}, **errs("401", "404")}, params=[name_p, ver_p], opid="deleteModelVersion"))
add("/models/{name}/serving", "put", op("Pin the serving version, or un-pin with null", "models",
    {"200": ok(ref("ModelCard")), **errs("400", "401", "404")}, params=[name_p],
    body={"required": True, **jbody({"type": "object", "required": ["version"], "properties": {
        "version": {"type": "integer", "minimum": 1, "nullable": True}}})}, opid="setServing"))
fmt_p = P("format", "json (default): the model as JSON; onnx: the whole pipeline as one ONNX graph "
          "(docs/file-format.md)", {"type": "string", "enum": ["json", "onnx"]}, "query")
export_ok = {"description": "The model", "content": {"application/json": {"schema": ref("ModelExport")},
             "application/onnx": {"schema": {"type": "string", "format": "binary"}}}}
add("/models/{name}/export", "get", op("The model as JSON (card, feature pipeline, weights) or ONNX", "models",
    {"200": export_ok, **errs("400", "401", "404", "422")},
    params=[name_p, P("version", "Default: the serving version", {"type": "integer", "minimum": 1}, "query"), fmt_p],
    desc="format=onnx of a model with a text input is 422 naming the column (details.field).", opid="exportModel"))
add("/models/{name}/versions/{version}/export", "get", op("One version as JSON or ONNX", "models",
    {"200": export_ok, **errs("400", "401", "404", "422")}, params=[name_p, ver_p, fmt_p], opid="exportModelVersion"))
onnx_q = [P(k, d, where="query") for k, d in (
    ("inputs", "application/onnx: comma-separated input names (default: the graph's metadata or <input>_<i>)"),
    ("classes", "application/onnx: comma-separated class names (default: the ZipMap's or the labels metadata)"),
    ("label", "application/onnx: the label's name (default: label)"),
    ("task", "application/onnx: classification or regression, for a graph that ends in a linear layer"))]
add("/models/{name}/import", "post", op("Store a JSON or ONNX model as a new version", "models",
    {"201": {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}},
             "content": {"application/json": {"schema": ref("ModelCard")}}}, **errs("400", "401", "413", "415", "422")},
    params=[name_p] + onnx_q, body={"required": True, "content": {
        "application/json": {"schema": ref("ModelExport")},
        "application/onnx": {"schema": {"type": "string", "format": "binary"}}}},
    desc="application/onnx: a feed-forward network as torch.onnx.export or skl2onnx write it; "
         "a graph outside the subset is 422 naming the node and its op, bytes that are not an ONNX "
         "model are 400.", opid="importModel"))
predict_body = {"required": True, "content": {"application/json": {"schema": ref("PredictRequest")},
                                               "text/csv": {"schema": {"type": "string"}}}}
explain_q = P("explain", "CSV bodies: 1 or true adds one `attr_<input>` column per input (the attributions of "
              "the JSON form's explanation); 0 or false none; anything else is 400 (details.parameter `explain`)",
              {"type": "string", "enum": ["0", "1", "false", "true"]}, "query")
predict_resp = {"200": {"description": "Predictions (JSON), or the CSV with `prediction`, `p_<class>` (and with "
                        "?explain=1 `attr_<input>`) columns",
                        "content": {"application/json": {"schema": ref("PredictResponse")},
                                    "text/csv": {"schema": {"type": "string"}}}},
                **errs("400", "401", "404", "413", "415", "422")}
add("/models/{name}/predict", "post", op("Predict with a model", "prediction", predict_resp, params=[name_p,
    P("version", "CSV bodies: the version (default: serving)", {"type": "integer", "minimum": 1}, "query"),
    explain_q], body=predict_body, opid="predictModel"))
add("/predict", "post", op("Predict (the model named in the body, or ?model= for CSV)", "prediction", predict_resp,
    params=[P("model", "CSV bodies: the model", where="query"),
            P("version", "CSV bodies: the version (default: serving)", {"type": "integer", "minimum": 1}, "query"),
            explain_q], body=predict_body, opid="predict"))
spam_result = {"type": "object", "required": ["model", "version", "score", "spam", "threshold"], "properties": {
    "model": {"type": "string"}, "version": {"type": "integer"},
    "score": {"type": "number", "minimum": 0, "maximum": 1, "description": "Probability of the spam class"},
    "spam": {"type": "boolean", "description": "score >= threshold"}, "threshold": {"type": "number"},
    "threshold_source": {"type": "string", "description": "Where the threshold came from"},
    "explanation": ref("SpamExplanation")}}
schemas["SpamResult"] = spam_result
schemas["SpamExplanation"] = {"type": "object", "description": "The Explanation of the spam class's logit (a "
    "positive value pushed the score up) with the text input's `words` and `shape` lifted out of their maps",
    "properties": {"class": {"type": "string"}, "output": {"type": "number"}, "baseline": {"type": "number"},
                   "baseline_source": {"type": "string"},
                   "attributions": {"type": "object", "additionalProperties": {"type": "number"}},
                   "words": {"type": "array", "items": ref("WordValue")}, "shape": ref("ShapeValues"),
                   "completeness": {"type": "object", "additionalProperties": True}}}
message = {"type": "object", "properties": {"text": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}}}
schemas["SpamMessage"] = message
schemas["SpamRequest"] = {"type": "object", "properties": dict(message["properties"], explain=ref("Explain"))}
model_q = P("model", "The model (default: spam)", where="query")
spam_explain_q = P("explain", "1 or true: add `explanation` (the form for raw e-mail bodies; a JSON body may say "
                   "\"explain\" instead); 0 or false none; anything else is 400 (details.parameter `explain`)",
                   {"type": "string", "enum": ["0", "1", "false", "true"]}, "query")
add("/spam-score", "post", op("Spam score of one message", "prediction",
    {"200": ok(ref("SpamResult")), **errs("400", "401", "404", "413", "415", "422")}, params=[model_q, spam_explain_q],
    body={"required": True, "content": {"application/json": {"schema": ref("SpamRequest")},
        "message/rfc822": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}},
    desc="A JSON message ({\"text\"} or {\"subject\", \"body\"}) or a raw e-mail (headers, MIME parts, "
         "base64 and quoted-printable decoded, HTML reduced to text).", opid="spamScore"))
add("/spam-score/batch", "post", op("Spam scores of up to 1,000 messages", "prediction",
    {"200": ok({"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": ref("SpamResult")}}}),
     **errs("400", "401", "404", "413", "415", "422")}, params=[model_q, spam_explain_q],
    body={"required": True, **jbody({"type": "object", "required": ["messages"], "properties": {
        "messages": {"type": "array", "maxItems": 1000, "items": ref("SpamMessage")},
        "explain": ref("Explain")}})}, opid="spamScoreBatch"))
# learning from feedback (issue 21)
fb_added = {"type": "object", "required": ["model", "version", "received", "stored", "updated", "feedback"], "properties": {
    "model": {"type": "string"}, "version": {"type": "integer", "description": "The version the instances were checked against"},
    "received": {"type": "integer"}, "stored": {"type": "integer", "description": "New rows"},
    "updated": {"type": "integer", "description": "Rows already stored (same content hash) whose label was set again"},
    "feedback": {"type": "integer", "description": "The model's feedback rows now"},
    "retrain_job": {"type": "string", "description": "The retraining job --retrain-after queued, if any"}}}
schemas["FeedbackAdded"] = fb_added
fb_row = {"type": "object", "properties": {"id": {"type": "integer"}, "hash": {"type": "string"},
    "instance": {"type": "object"}, "label": {"type": "string"},
    "holdout": {"type": "boolean", "description": "In the share held out for the champion/challenger gate (by hash)"},
    "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}
add("/models/{name}/feedback", "post", op("Store labelled instances as feedback", "feedback",
    {"200": ok(ref("FeedbackAdded")), **errs("400", "401", "404", "413", "415", "422")}, params=[name_p],
    body={"required": True, "content": {"application/json": {"schema": {"type": "object", "required": ["instances", "labels"],
        "properties": {"instances": {"type": "array", "items": {}},
                       "labels": {"type": "array", "items": {}}}}},
        "text/csv": {"schema": {"type": "string"}}}},
    desc="Each instance as for /predict, each label one of the model's classes (regression: a number); or a CSV "
         "with the label column. One row per content hash: the same instance again updates its label.",
    opid="postFeedback"))
add("/models/{name}/feedback", "get", op("List a model's feedback", "feedback",
    {"200": ok({"type": "object", "properties": {"model": {"type": "string"}, "count": {"type": "integer"},
        "feedback": {"type": "array", "items": fb_row}}}), **errs("400", "401", "404")},
    params=[name_p, P("limit", "At most this many (default 100)", {"type": "integer", "minimum": 1, "maximum": 10000}, "query"),
            P("after", "Only rows with a larger id", {"type": "integer", "minimum": 0}, "query")], opid="listFeedback"))
add("/models/{name}/feedback", "delete", op("Delete a model's feedback (all, or ?hash= one)", "feedback",
    {"204": {"description": "Deleted"}, **errs("401", "404")},
    params=[name_p, P("hash", "The content hash of one row", where="query")], opid="deleteFeedback"))
add("/models/{name}/retrain", "post", op("Retrain from feedback (warm start, replay, champion/challenger gate)", "feedback",
    {"202": {"description": "Accepted: the job", "headers": {"Location": {"schema": {"type": "string"}}},
             "content": {"application/json": {"schema": ref("Job")}}}, **errs("400", "401", "404", "409", "429")},
    params=[name_p], body={"required": False, **jbody({"type": "object", "description": "Training parameters (optional)"})},
    desc="A warm-start job from the serving version on the feedback (but its holdout share) plus a replay of the "
         "training rows kept with that version; the new version serves only if it is at least as good on the "
         "feedback's holdout share and on the serving version's validation rows (the job's metrics.gate). "
         "409 when there is no feedback to learn from.", opid="retrain"))
add("/spam-score/learn", "post", op("Teach the spam model a message (spam or ham)", "feedback",
    {"200": ok(ref("FeedbackAdded")), **errs("400", "401", "404", "413", "415", "422")},
    params=[model_q, P("label", "spam or ham (raw e-mail bodies)", {"type": "string", "enum": ["spam", "ham"]}, "query")],
    body={"required": True, "content": {"application/json": {"schema": {"allOf": [ref("SpamMessage"), {"type": "object",
        "properties": {"label": {"type": "string", "enum": ["spam", "ham"]}}}]}},
        "message/rfc822": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}},
    desc="A message in any form /spam-score reads plus its label; stored as feedback of the model.", opid="spamLearn"))
# KServe V2
add("/v2", "get", op("Server metadata", "kserve-v2", {"200": ok(ref("V2ServerMetadata")), **errs("401")}, opid="v2Server"))
add("/v2/health/live", "get", op("Server liveness", "kserve-v2", {"200": ok({"type": "object", "properties": {"live": {"type": "boolean"}}})},
    security=False, opid="v2Live"))
add("/v2/health/ready", "get", op("Server readiness", "kserve-v2", {"200": ok({"type": "object", "properties": {"ready": {"type": "boolean"}}}),
    **errs("503")}, security=False, opid="v2Ready"))
ready = {"200": ok({"type": "object", "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}}), **errs("401", "404")}
infer_body = {"required": True, **jbody(ref("V2InferRequest"))}
infer_resp = {"200": ok(ref("V2InferResponse")), **errs("400", "401", "404", "413", "422")}
add("/v2/models/{name}", "get", op("Model metadata (serving version)", "kserve-v2", {"200": ok(ref("V2ModelMetadata")), **errs("401", "404")},
    params=[name_p], opid="v2Model"))
add("/v2/models/{name}/versions/{version}", "get", op("Model metadata (one version)", "kserve-v2",
    {"200": ok(ref("V2ModelMetadata")), **errs("401", "404")}, params=[name_p, ver_p], opid="v2ModelVersion"))
add("/v2/models/{name}/ready", "get", op("Model readiness", "kserve-v2", ready, params=[name_p], opid="v2ModelReady"))
add("/v2/models/{name}/versions/{version}/ready", "get", op("Model version readiness", "kserve-v2", ready,
    params=[name_p, ver_p], opid="v2ModelVersionReady"))
add("/v2/models/{name}/infer", "post", op("Inference (Open Inference Protocol)", "kserve-v2", infer_resp, params=[name_p],
    body=infer_body, opid="v2Infer",
    desc="Inputs: one tensor `input` [n, k] (numeric models), or one tensor per input column [n], FP32 or BYTES. "
         "Outputs: `probabilities` FP32 [n, classes] and `label` BYTES [n]; regression `value` FP32 [n]; "
         "`explanation` FP64 [n, k] (each row's attributions, inputs in the model's order) when `outputs` names it "
         "or `parameters.explain` is true."))
add("/v2/models/{name}/versions/{version}/infer", "post", op("Inference with one version", "kserve-v2", infer_resp,
    params=[name_p, ver_p], body=infer_body, opid="v2InferVersion"))

doc = {
 "openapi": "3.0.3",
 "info": {"title": "neurond", "version": open(os.path.join(ROOT, "VERSION")).read().strip(),
          "description": "Train neural networks on CSV files and serve predictions over HTTP. "
                         "Errors are JSON: {\"error\", \"code\", \"details\"}. Every reply carries X-Request-Id.",
          "license": {"name": "See the repository"}},
 "servers": [{"url": "http://127.0.0.1:8080"}],
 "security": [{"bearer": []}, {}],
 "tags": [{"name": n} for n in ["training", "models", "feedback", "prediction", "kserve-v2", "operations", "dashboard"]],
 "paths": paths,
 "components": {
   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
        "description": "Required when the daemon runs with --api-key; a predict-only key may call what only reads"}},
   "parameters": {
     "name": {"name": "name", "in": "path", "required": True, "description": "Model name",
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}},
     "version": {"name": "version", "in": "path", "required": True, "description": "Version number (from 1)",
                 "schema": {"type": "integer", "minimum": 1}},
     "id": {"name": "id", "in": "path", "required": True, "description": "Job id", "schema": {"type": "string"}}},
   "responses": {"E" + k: v for k, v in E.items()},
   "schemas": schemas}}
print(json.dumps(doc, indent=1))
