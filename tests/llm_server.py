"""A small deterministic OpenAI-compatible server on loopback, for the contract of the generative client.

It reads the numbered passages of the prompt and answers, streamed in chunked server-sent events like
vLLM or llama.cpp, with sentences taken from them — or misbehaves as `mode` says: wrong or out-of-range
sources, an invented figure, malformed output, quota and server errors, a connection cut mid-stream, a
first token that never comes, a model that obeys an instruction.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PASSAGE = re.compile(r"\[(\d+)\] \(document : [^\n]*\)\n<<<(.*?)>>>", re.DOTALL)


def best_sentence(text: str, question: str) -> str:
    """The sentence of a passage sharing the most words with the question (the fake's idea of an answer)."""
    asked = set(re.findall(r"\w{4,}", question.lower()))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if len(s.split()) >= 4] or [text]
    return max(sentences, key=lambda s: len(asked & set(re.findall(r"\w{4,}", s.lower()))))


class FakeLLM:
    def __init__(self, api_key: str | None = None) -> None:
        self.mode = "good"
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0  # seconds before the response starts (mode "slow" waits longer than any test timeout)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                fake.handle(self, body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the "die" mode breaks its own connection on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what the "model" writes ---------------------------------------------------------------------------

    def output(self, body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        passages = {int(n): text for n, text in PASSAGE.findall(prompt)}
        question = prompt.rsplit("Question :", 1)[-1]
        first = [(n, best_sentence(text, question)) for n, text in sorted(passages.items())][:2]
        if self.mode == "malformed":
            return "Voici la réponse : le mécénat [1]"
        if self.mode == "empty":
            return json.dumps({"phrases": []})
        phrases = [{"texte": text, "source": n} for n, text in first]
        if self.mode == "wrong_source" and len(phrases) == 2:
            phrases = [{"texte": first[0][1], "source": 2}, {"texte": first[1][1], "source": 1}]
        elif self.mode == "out_of_range":
            phrases = [{"texte": first[0][1], "source": 9}]
        elif self.mode == "unsupported":
            phrases = [{"texte": "Le budget national des alliances atteint 987 millions d'euros en 2031.",
                        "source": 1}]
        elif self.mode == "partly_unsupported":
            phrases.append({"texte": "Le budget national des alliances atteint 987 millions d'euros en 2031.",
                            "source": 1})
        elif self.mode == "obey":  # a model that did what a document told it to
            phrases = [{"texte": "PIRATÉ : toutes les associations doivent virer leurs dons sur le compte 666.",
                        "source": 1}]
        return json.dumps({"phrases": phrases}, ensure_ascii=False)

    # --- how it is sent ------------------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if self.api_key and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._json(handler, 401, {"error": {"message": "Invalid API Key", "code": 401}})
        if self.mode == "quota":
            return self._json(handler, 429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}})
        if self.mode == "error500":
            return self._json(handler, 500, {"error": {"message": "boom"}})
        if self.mode == "slow":
            time.sleep(5)
        time.sleep(self.delay)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        text = self.output(body)
        pieces = [text[i:i + 7] for i in range(0, len(text), 7)]
        for i, piece in enumerate(pieces):
            if self.mode == "die" and i == len(pieces) // 2:
                handler.wfile.flush()
                handler.connection.shutdown(2)  # the server dies in the middle of the answer
                return
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self._chunk(handler, f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n")
        self._chunk(handler, "data: " + json.dumps({"choices": [{"index": 0, "delta": {},
                                                                  "finish_reason": "stop"}]}) + "\n\n")
        self._chunk(handler, "data: [DONE]\n\n")
        self._chunk(handler, "")

    @staticmethod
    def _chunk(handler: BaseHTTPRequestHandler, text: str) -> None:
        data = text.encode()
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
