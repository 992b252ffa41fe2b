"""One process serves the API (/api, /docs), the widget (/widget) and the Gradio chat (/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from assistant.api import create_api
from assistant.partners import Gate
from assistant.service import Assistant
from ui.gradio_app import CSS, JS, build_ui

STATIC = Path(__file__).parent / "static"


def create_app(assistant_factory: Callable[[], Assistant], gate: Gate | None = None) -> FastAPI:
    app = create_api(assistant_factory, gate)
    if STATIC.exists():
        app.mount("/widget", StaticFiles(directory=STATIC, html=True), name="widget")

    def current() -> Assistant:
        assistant = app.state.assistant
        if assistant is None:  # before the lifespan ran (e.g. mounted in tests without it)
            assistant = app.state.assistant = assistant_factory().warm_up()
        return assistant

    return gr.mount_gradio_app(app, build_ui(current), path="/", css=CSS, js=JS, footer_links=["api"])
