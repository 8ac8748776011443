#!/usr/bin/env python3
"""Local model-provider endpoints for tests: one HTTP server per API family.

    provider_endpoint.py DIR FAMILY:PORT [FAMILY:PORT ...]

FAMILY is one of anthropic-messages, openai-completions, openai-responses,
google-generative-ai, ollama. Each server answers the smallest valid reply
of its API (a stream when the request asks for one) with the text
`pong from FAMILY:PORT model=MODEL`, and appends one JSON line per request
to DIR/requests.jsonl: family, port, method, path, query, headers, the
credential it carried (and in which header), the model id and the body.

Failures: before each request the server reads DIR/fail-PORT.json (then
DIR/fail.json), `{"mode": "500"|"429"|"401"|"drop"|"stall", "count": N}`,
and when count > 0 fails that request that way and writes count - 1 back.
`stall` holds the connection open for `seconds` (default 600) and then
drops it. DIR/ready-PORT is written once the port listens.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DIR = sys.argv[1]
LOCK = threading.Lock()
FAMILIES = {"anthropic-messages", "openai-completions", "openai-responses", "google-generative-ai", "ollama"}


def record(entry):
    with LOCK, open(os.path.join(DIR, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def take_failure(port):
    """The failure planned for this request, if any (and count it down)."""
    with LOCK:
        for name in (f"fail-{port}.json", "fail.json"):
            path = os.path.join(DIR, name)
            try:
                with open(path) as f:
                    plan = json.load(f)
            except (OSError, ValueError):
                continue
            if plan.get("count", 0) <= 0:
                continue
            plan["count"] -= 1
            with open(path + ".tmp", "w") as f:
                json.dump(plan, f)
            os.replace(path + ".tmp", path)
            return plan
    return None


def credential(headers, query):
    """(where, value) of the credential the request carried."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return "authorization-bearer", auth[7:]
    for name in ("x-api-key", "x-goog-api-key", "api-key"):
        if name in headers:
            return name, headers[name]
    if "key" in query:
        return "query-key", query["key"][0]
    return None, None


def sse(events):
    out = []
    for name, data in events:
        if name:
            out.append(f"event: {name}\n")
        out.append(f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n")
    return "".join(out).encode()


def anthropic(body, text):
    model = body.get("model", "")
    usage = {"input_tokens": 5, "output_tokens": 3}
    if not body.get("stream"):
        return "application/json", json.dumps({
            "id": "msg_local", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": usage}).encode()
    return "text/event-stream", sse([
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_local", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 3}}),
        ("message_stop", {"type": "message_stop"}),
    ])


def completions(body, text):
    model = body.get("model", "")
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    base = {"id": "chatcmpl-local", "created": int(time.time()), "model": model}
    if not body.get("stream"):
        return "application/json", json.dumps({**base, "object": "chat.completion", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage}).encode()
    chunk = {**base, "object": "chat.completion.chunk"}
    return "text/event-stream", sse([
        (None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}),
        (None, {**chunk, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}),
        (None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        (None, {**chunk, "choices": [], "usage": usage}),
        (None, "[DONE]"),
    ])


def responses(body, text):
    model = body.get("model", "")
    msg = {"id": "msg_local", "type": "message", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": text, "annotations": []}]}
    usage = {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8,
             "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
    done = {"id": "resp_local", "object": "response", "created_at": int(time.time()), "status": "completed",
            "model": model, "output": [msg], "usage": usage, "error": None, "incomplete_details": None}
    if not body.get("stream"):
        return "application/json", json.dumps(done).encode()
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    part = {"type": "output_text", "text": "", "annotations": []}
    seq = iter(range(100))
    return "text/event-stream", sse([(t, {"type": t, "sequence_number": next(seq), **d}) for t, d in [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
        ("response.output_item.added", {"output_index": 0, "item": {**msg, "status": "in_progress", "content": []}}),
        ("response.content_part.added", {"item_id": "msg_local", "output_index": 0, "content_index": 0, "part": part}),
        ("response.output_text.delta", {"item_id": "msg_local", "output_index": 0, "content_index": 0, "delta": text}),
        ("response.output_text.done", {"item_id": "msg_local", "output_index": 0, "content_index": 0, "text": text}),
        ("response.content_part.done", {"item_id": "msg_local", "output_index": 0, "content_index": 0,
                                        "part": {**part, "text": text}}),
        ("response.output_item.done", {"output_index": 0, "item": msg}),
        ("response.completed", {"response": done}),
    ]])


def google(body, text, stream):
    reply = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
             "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
             "modelVersion": "local"}
    if not stream:
        return "application/json", json.dumps(reply).encode()
    return "text/event-stream", sse([(None, reply)])


def ollama(body, text):
    model = body.get("model", "")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    final = {"model": model, "created_at": now, "message": {"role": "assistant", "content": ""}, "done": True,
             "done_reason": "stop", "total_duration": 1000, "prompt_eval_count": 5, "eval_count": 3}
    if body.get("stream") is False:
        return "application/json", json.dumps({**final, "message": {"role": "assistant", "content": text}}).encode()
    lines = [{"model": model, "created_at": now, "message": {"role": "assistant", "content": text}, "done": False}, final]
    return "application/x-ndjson", "".join(json.dumps(line) + "\n" for line in lines).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        family, port = self.server.family, self.server.server_port
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        headers = {k.lower(): v for k, v in self.headers.items()}
        where, key = credential(headers, query)
        model = body.get("model") if isinstance(body, dict) else None
        if family == "google-generative-ai" and "/models/" in url.path:
            model = url.path.split("/models/", 1)[1].split(":", 1)[0]
        failure = take_failure(port) if self.command == "POST" else None
        record({"t": time.time(), "family": family, "port": port, "method": self.command, "path": url.path,
                "query": {k: v[0] for k, v in query.items()}, "headers": headers, "credential_header": where,
                "credential": key, "model": model, "body": body,
                "failed": failure["mode"] if failure else None})
        if failure:
            return self.fail(str(failure["mode"]), failure)
        if self.command == "GET":
            return self.listing(url.path)
        text = f"pong from {family}:{port} model={model}"
        if family == "anthropic-messages":
            ctype, data = anthropic(body, text)
        elif family == "openai-completions":
            ctype, data = completions(body, text)
        elif family == "openai-responses":
            ctype, data = responses(body, text)
        elif family == "google-generative-ai":
            ctype, data = google(body, text, "streamGenerateContent" in url.path)
        elif url.path.endswith("/api/show"):
            ctype, data = "application/json", json.dumps({"model_info": {"general.context_length": 32768},
                                                          "capabilities": ["completion", "tools"]}).encode()
        else:
            ctype, data = ollama(body, text)
        self.reply(200, ctype, data)

    def listing(self, path):
        if self.server.family == "ollama":
            data = {"models": [{"name": "gemma4", "model": "gemma4", "size": 1, "details": {}}]}
        elif self.server.family == "google-generative-ai":
            data = {"models": []}
        else:
            data = {"object": "list", "data": []}
        self.reply(200, "application/json", json.dumps(data).encode())

    def fail(self, mode, plan):
        if mode == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if mode == "stall":
            time.sleep(float(plan.get("seconds", 600)))
            self.close_connection = True
            return
        status = int(mode)
        kind = {429: "rate_limit_error", 401: "authentication_error"}.get(status, "api_error")
        data = json.dumps({"type": "error", "error": {"type": kind, "code": status, "message": f"local endpoint: planned {status}"}})
        self.reply(status, "application/json", data.encode(), {"retry-after": "0"} if status == 429 else {})

    def reply(self, status, ctype, data, extra=None):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def serve(family, port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.family = family
    server.daemon_threads = True
    open(os.path.join(DIR, f"ready-{port}"), "w").close()
    server.serve_forever()


def main():
    threads = []
    for spec in sys.argv[2:]:
        family, port = spec.rsplit(":", 1)
        if family not in FAMILIES:
            sys.exit(f"unknown API family {family}")
        t = threading.Thread(target=serve, args=(family, int(port)), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
