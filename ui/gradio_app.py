"""The Gradio app (French): a cited conversation, and a case-example finder with facets."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from assistant.answer import describe_filters
from assistant.errors import as_seve_error
from assistant.schemas import chat_response, citation_out
from assistant.service import Assistant
from assistant.sources import safe_url, source_link

TYPE_LABELS = {"rapport": "Rapport", "fiche": "Fiche Repères", "exemple": "Exemple", "article": "Article"}
KIND_LABELS = {"ecosysteme_territorial": "Écosystème territorial", "demarche_alliance": "Démarche d'alliance"}
EXAMPLES = [
    "Quel pourcentage des Français souhaite que les acteurs fassent alliance ?",
    "Qu'est-ce que le mécénat de compétences ?",
    "Des exemples d'alliances en Bretagne dans l'alimentation ?",
]
ANY = "(tous)"


def _e(value: Any) -> str:
    return html.escape(str(value)) if value not in (None, "") else ""


def example_card_html(card: dict[str, Any], n: int | None = None) -> str:
    """One case example: title, place, year, domain, type, actors, partners, summary."""
    where = ", ".join(_e(card.get(k)) for k in ("territoire", "region") if card.get(k))
    facts = " · ".join(x for x in (where, _e(card.get("annee")), _e(card.get("domaine")),
                                   _e(KIND_LABELS.get(card.get("type") or "", card.get("type")))) if x)
    actors = ", ".join(_e(a) for a in card.get("acteurs") or [])
    partners = ", ".join(_e(p) for p in card.get("partenaires") or [])
    number = f"<b>[{n}]</b> " if n is not None else ""
    title = _source_link(card.get("link"), _e(card.get("title")))
    return (f"<div class='seve-card'><div class='seve-card-title'>{number}{title}"
            f"<span class='seve-type'>Exemple</span>{_original(card.get('url'))}</div>"
            f"<div class='seve-facts'>{facts}</div>"
            f"<div class='seve-snippet'>{_e(card.get('resume') or card.get('snippet'))}</div>"
            + (f"<div class='seve-facts'>Acteurs : {actors}</div>" if actors else "")
            + (f"<div class='seve-facts'>Partenaires : {partners}</div>" if partners else "")
            + ("<div class='seve-note'>Exemple illustratif</div>" if card.get("illustratif") else "")
            + "</div>")


def _source_link(link: str | None, label: str) -> str:
    """A title that opens Sève's source view (the cited span highlighted) in a new tab."""
    if not link or not link.startswith(("/sources/", "http://", "https://")):
        return label
    return f"<a href='{_e(link)}' target='_blank' rel='noopener'>{label}</a>"


def _original(url: str | None) -> str:
    safe = safe_url(url)
    return f" <a class='seve-orig' href='{_e(safe)}' target='_blank' rel='noopener noreferrer'>site d'origine ↗</a>" \
        if safe else ""


def sources_html(citations: list[dict[str, Any]]) -> str:
    """The sources panel: one card per citation; case examples get a full example card."""
    if not citations:
        return "<p class='seve-empty'>Aucune source pour l'instant.</p>"
    cards = []
    for c in citations:
        if c["doc_type"] == "exemple":
            cards.append(example_card_html({**c["metadata"], "title": c["title"], "snippet": c["snippet"],
                                            "link": c.get("link"), "url": c.get("url")}, c["n"]))
            continue
        title = _source_link(c.get("link"), _e(c["title"] or c["source"]))
        kind = _e(TYPE_LABELS.get(c["doc_type"], c["doc_type"] or "Document"))
        cards.append(f"<div class='seve-source' data-n='{c['n']}'><div><b>[{c['n']}]</b> {title} "
                     f"<span class='seve-type'>{kind}</span>{_original(c.get('url'))}</div>"
                     f"<div class='seve-snippet'>{_e(c['snippet'])}</div></div>")
    return "<div class='seve-sources'>" + "".join(cards) + "</div>"


def filters_note(filters: dict[str, Any]) -> str:
    detected = {k: v for k, v in (filters or {}).get("detected", {}).items()}
    if not detected:
        return ""
    text = as_chat(describe_filters(detected))  # values the index holds: shown as typed (this is Markdown)
    if filters.get("relaxed"):
        return (f"Filtres lus dans la question : {text} — trop peu de résultats avec ces filtres : ils servent "
                "seulement à classer les résultats (ceux qui y correspondent d'abord).")
    return f"Filtres lus dans la question : {text}. Décochez « Lire les filtres dans la question » pour les retirer."


# Document text may hold very long words (URLs, references, identifiers): they wrap instead of overflowing.
CSS = """
.seve-source, .seve-card {border:1px solid #d9e2d0; border-radius:8px; padding:8px 10px; margin-bottom:8px;
  background:#fbfdf8; overflow-wrap:anywhere; min-width:0}
#seve-chat .message-content, #seve-ex-facets, #seve-filters {overflow-wrap:anywhere}
.seve-type {font-size:0.8em; background:#e6efd9; color:#2f4a1d; border-radius:6px; padding:1px 6px; margin-left:4px}
.seve-snippet {font-size:0.9em; color:#444; margin-top:4px}
.seve-card-title {font-weight:600}
.seve-facts {font-size:0.85em; color:#555; margin-top:2px}
.seve-note {font-size:0.75em; color:#6b5416; margin-top:4px}
.seve-orig {font-size:0.8em; margin-left:6px}
#seve-send, #seve-ex-search {background:#2f6b2f !important; border-color:#2f6b2f !important; color:#fff !important}
#seve-send:hover, #seve-ex-search:hover {background:#245224 !important}
.show-api {color:#4a4a52 !important}
"""

# The page is in French: say so to browsers and screen readers (Gradio writes lang="en").
JS = """
() => { document.documentElement.lang = "fr"; }
"""


def _choices(values: set[str] | None) -> list[str]:
    return [ANY] + sorted(values or [])


def chat_responder(get_assistant: Callable[[], Assistant]) -> Callable[..., Iterator[tuple[Any, str, str, str]]]:
    """The chat's handler: streams the answer into the chat as its events arrive."""

    def respond(message: str, history: list[dict[str, Any]], detect: bool) -> Iterator[tuple[Any, str, str, str]]:
        """Streams the answer into the chat as its events arrive (tokens, then a replacement if any)."""
        history = list(history or [])
        past = [{"role": m["role"], "content": from_chat(_text(m["content"]))} for m in history]
        history.append({"role": "user", "content": as_chat(message)})
        waiting = [{"role": "assistant", "content": "Recherche dans le corpus…"}]
        yield history + waiting, sources_html([]), "", ""  # the question shows at once, the box empties
        try:
            events = get_assistant().stream(message, past, detect_filters=detect)
            text, sources = "", sources_html([])
            for event in events:
                if event.kind == "citations":  # the passages are known before the text: show them while it comes
                    sources = sources_html([citation_out(c).model_dump() for c in event.data])
                    yield history + waiting, sources, "", ""
                elif event.kind in ("token", "replace"):
                    text = text + event.data if event.kind == "token" else event.data
                    if event.citations is not None:
                        sources = sources_html([citation_out(c).model_dump() for c in event.citations])
                    yield history + [{"role": "assistant", "content": as_chat(text)}], sources, "", ""
                elif event.kind == "done":
                    answer = chat_response(event.data).model_dump()
                    yield (history + [{"role": "assistant", "content": as_chat(answer["answer"])}],
                           sources_html(answer["citations"]), "", filters_note(answer["filters"]))
        except Exception as exc:  # noqa: BLE001 - every error becomes one readable line
            error = as_seve_error(exc)
            yield (history + [{"role": "assistant", "content": as_chat(f"⚠️ {error.message}")}], sources_html([]),
                   "", "")

    return respond


def build_ui(get_assistant: Callable[[], Assistant]) -> gr.Blocks:
    respond = chat_responder(get_assistant)

    def find(query: str, region: str, domaine: str, acteurs: str, kind: str, since: str,
             until: str) -> tuple[str, str]:
        filters: dict[str, Any] = {k: v for k, v in (("region", region), ("domaine", domaine), ("acteurs", acteurs),
                                                    ("type", kind)) if v and v != ANY}
        if since and since != ANY:
            filters["annee_min"] = int(since)
        if until and until != ANY:
            filters["annee_max"] = int(until)
        try:
            found = get_assistant().examples(query or "", filters, k=12)
        except Exception as exc:  # noqa: BLE001
            return f"<p>⚠️ {_e(as_seve_error(exc).message)}</p>", ""
        head = f"<p><b>{found['total']}</b> exemple(s) correspondent aux filtres.</p>"
        if found["filters"]["relaxed"]:
            head += "<p>Aucun exemple ne correspond aux filtres lus dans la requête : ils ont été levés.</p>"
        cards = "".join(example_card_html({**c, "link": source_link("", c["doc_id"])}) for c in found["results"]) \
            or "<p>Aucun exemple.</p>"
        facets = []
        for key, label in (("region", "Région"), ("domaine", "Domaine"), ("acteurs", "Acteurs"), ("annee", "Année")):
            counts = found["facets"].get(key, {})
            if counts:  # the values come from documents: shown as typed, never as Markdown or HTML
                shown = ", ".join(f"{as_chat(value)} ({n})" for value, n in list(counts.items())[:15])
                facets.append(f"**{label}** : {shown}")
        return head + cards, "\n\n".join(facets)

    def load_choices() -> tuple[Any, ...]:
        assistant = get_assistant()
        known, _ = assistant.known_values()
        years = sorted(assistant.examples("", {}, k=1)["facets"].get("annee", {}))
        lists = [_choices(known.get(k)) for k in ("region", "domaine", "acteurs")] + [[ANY] + years] * 2
        return tuple(gr.update(choices=choices, value=ANY) for choices in lists)

    with gr.Blocks(title="Sève — alliances pour le bien commun") as demo:
        gr.Markdown("# Sève\nPosez vos questions sur les alliances pour le bien commun (ODD 17). "
                    "Chaque réponse cite ses sources.")
        with gr.Tab("Conversation", id="chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", height=460, elem_id="seve-chat", buttons=["copy"])
                    box = gr.Textbox(label="Votre question", placeholder="Posez votre question…",
                                     elem_id="seve-question", lines=1)
                    note = gr.Markdown("", elem_id="seve-filters")
                    with gr.Row():
                        send = gr.Button("Envoyer", variant="primary", elem_id="seve-send")
                        clear = gr.Button("Nouvelle conversation", elem_id="seve-clear")
                    detect = gr.Checkbox(True, label="Lire les filtres dans la question (région, domaine, acteurs…)",
                                         elem_id="seve-detect")
                    gr.Examples(EXAMPLES, inputs=box, label="Exemples de questions")
                with gr.Column(scale=2):
                    gr.Markdown("## Sources")
                    sources = gr.HTML(sources_html([]), elem_id="seve-sources")
        with gr.Tab("Exemples", id="examples"):
            with gr.Row():
                query = gr.Textbox(label="Recherche", placeholder="ex. alimentation avec une collectivité",
                                   elem_id="seve-ex-query", scale=3)
                search = gr.Button("Rechercher", variant="primary", elem_id="seve-ex-search", scale=1)
            with gr.Row():
                region = gr.Dropdown([ANY], value=ANY, label="Région", elem_id="seve-ex-region")
                domaine = gr.Dropdown([ANY], value=ANY, label="Domaine", elem_id="seve-ex-domaine")
                acteurs = gr.Dropdown([ANY], value=ANY, label="Acteurs", elem_id="seve-ex-acteurs")
                kind = gr.Dropdown([ANY, "ecosysteme_territorial", "demarche_alliance"], value=ANY, label="Type")
                since = gr.Dropdown([ANY], value=ANY, label="Depuis (année)", elem_id="seve-ex-since")
                until = gr.Dropdown([ANY], value=ANY, label="Jusqu'à (année)", elem_id="seve-ex-until")
            facets = gr.Markdown("", elem_id="seve-ex-facets")
            cards = gr.HTML("", elem_id="seve-ex-results")
        send.click(respond, [box, chat, detect], [chat, sources, box, note])
        box.submit(respond, [box, chat, detect], [chat, sources, box, note])
        clear.click(lambda: ([], sources_html([]), "", ""), None, [chat, sources, box, note])
        inputs = [query, region, domaine, acteurs, kind, since, until]
        search.click(find, inputs, [cards, facets])
        query.submit(find, inputs, [cards, facets])
        demo.load(load_choices, None, [region, domaine, acteurs, since, until])
    return demo


# The chat renders Markdown (and some HTML). Answers quote documents, so their text is escaped to show as
# typed: no tag, image or link that a document carries is ever rendered (or fetched) in the visitor's browser.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~$])")
_UNMARKDOWN = re.compile(r"\\([\\`*_{}\[\]()#+!|~$])")


def as_chat(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def from_chat(text: str) -> str:
    return html.unescape(_UNMARKDOWN.sub(r"\1", text))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(c) for c in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    return str(content)
