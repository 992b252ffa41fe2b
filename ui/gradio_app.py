"""The Gradio chat (French): a conversation on the left, the sources of the last answer on the right."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import gradio as gr

from assistant.errors import SeveError
from assistant.service import Assistant
from index.filters import FilterError

TYPE_LABELS = {"rapport": "Rapport", "fiche": "Fiche Repères", "exemple": "Exemple", "article": "Article"}
EXAMPLES = [
    "Quel pourcentage des Français souhaite que les acteurs fassent alliance ?",
    "Qu'est-ce que le mécénat de compétences ?",
    "Des exemples d'alliances en Bretagne dans l'éducation ?",
]


def sources_html(citations: list[dict[str, Any]]) -> str:
    """The sources panel: one card per citation with its number, title, type, snippet and link."""
    if not citations:
        return "<p class='seve-empty'>Aucune source pour l'instant.</p>"
    cards = []
    for c in citations:
        title = html.escape(c["title"] or c["source"])
        if c.get("url"):
            title = f"<a href='{html.escape(c['url'])}' target='_blank' rel='noopener'>{title}</a>"
        kind = html.escape(TYPE_LABELS.get(c["doc_type"], c["doc_type"] or "Document"))
        cards.append(
            f"<div class='seve-source' data-n='{c['n']}'><div><b>[{c['n']}]</b> {title} "
            f"<span class='seve-type'>{kind}</span></div>"
            f"<div class='seve-snippet'>{html.escape(c['snippet'])}</div></div>"
        )
    return "<div class='seve-sources'>" + "".join(cards) + "</div>"


CSS = """
.seve-source {border:1px solid #d9e2d0; border-radius:8px; padding:8px 10px; margin-bottom:8px; background:#fbfdf8}
.seve-type {font-size:0.8em; background:#e6efd9; color:#2f4a1d; border-radius:6px; padding:1px 6px; margin-left:4px}
.seve-snippet {font-size:0.9em; color:#444; margin-top:4px}
"""


def build_ui(get_assistant: Callable[[], Assistant]) -> gr.Blocks:
    def respond(message: str, history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str, str]:
        history = list(history or [])
        past = [{"role": m["role"], "content": _text(m["content"])} for m in history]
        try:
            answer = get_assistant().chat(message, past).as_dict()
            reply, sources = answer["answer"], sources_html(answer["citations"])
        except (SeveError, FilterError) as exc:
            reply, sources = f"⚠️ {exc}", sources_html([])
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
        return history, sources, ""

    with gr.Blocks(title="Sève — alliances pour le bien commun") as demo:
        gr.Markdown("## Sève\nPosez vos questions sur les alliances pour le bien commun (ODD 17). "
                    "Chaque réponse cite ses sources.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=480, elem_id="seve-chat")
                box = gr.Textbox(label="Votre question", placeholder="Posez votre question…",
                                 elem_id="seve-question", lines=1)
                with gr.Row():
                    send = gr.Button("Envoyer", variant="primary", elem_id="seve-send")
                    clear = gr.Button("Nouvelle conversation", elem_id="seve-clear")
                gr.Examples(EXAMPLES, inputs=box, label="Exemples de questions")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html([]), elem_id="seve-sources")
        send.click(respond, [box, chat], [chat, sources, box])
        box.submit(respond, [box, chat], [chat, sources, box])
        clear.click(lambda: ([], sources_html([]), ""), None, [chat, sources, box])
    return demo


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(c) for c in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    return str(content)
