"""Answers that answer: question kinds, passage structure, list/definition/comparison quotes, pronouns,
duplicates, neighbours with the figure, small talk, English, typos, soft filters and the gate."""

from pathlib import Path

import pytest

from assistant.extractive import compose_extractive, defines, read_passages, similar
from assistant.gate import GateModel, Signals, load_gate, question_terms, type_present
from assistant.question import language, read_question, small_talk
from index.filters import matches, normalize_filters, to_where
from index.lexical import LexicalIndex, analyze
from index.store import ScoredChunk
from ingest.html import html_to_text
from ingest.loaders import drop_running_lines
from ingest.models import Chunk
from ingest.structure import leans_on_previous, parse
from tests.fakes import make_assistant, make_ingestor

MINI = Path(__file__).parent / "data" / "mini"

DOC = """# Rapport

## 2. Trois leviers

Le rapport distingue trois leviers que chaque structure combine :

- **Les richesses humaines** : salariés, bénévoles et volontaires.
- **Les ressources financières** : ventes, dons et subventions.
- **Les alliances** : les relations nouées avec d'autres organisations.

## Définitions

Le mécénat de compétences est la mise à disposition de salariés sur leur temps de travail. \
Il reste rare dans les petites entreprises.

La démarche d'alliance désigne un partenariat entre un nombre limité de partenaires. \
L'écosystème territorial regroupe les acteurs d'un territoire autour de plusieurs projets.

## Chiffres

Le programme a été évalué par un cabinet indépendant. Il a permis de créer 42 emplois en trois ans.
"""


def doc_hits(text=DOC, spans=((0, 200),)):
    """Chunks of one document, with a window provider that gives the whole document."""
    hits = [ScoredChunk(f"c{i}", "doc", text[a:b], a, b, 0.9 - 0.01 * i, {"title": "Rapport"})
            for i, (a, b) in enumerate(spans)]
    return hits, (lambda hit: (0, text))


def overlap_scores(question, sentences):
    """A stand-in for the model: word overlap with the question."""
    q = set(question.lower().replace("?", "").split())
    return [len(q & set(s.text.lower().split())) / (len(q) or 1) for s in sentences]


@pytest.mark.parametrize("text, kind", [
    ("Qu'est-ce que l'ODD 17 ?", "definition"), ("c koi le mecena de competance", "definition"),
    ("Quels sont les trois leviers du modèle ?", "list"), ("What are the five steps?", "list"),
    ("Quelle différence entre un écosystème territorial et une démarche d'alliance ?", "comparison"),
    ("Combien de bénévoles ?", "figure"), ("Quand le rapport a-t-il paru ?", "date"),
    ("Qui a piloté la mission ?", "name"), ("Comment monter un partenariat ?", "howto"),
    ("Pourquoi coopérer ?", "explanation")])
def test_question_kinds(text, kind):
    assert read_question(text).kind == kind


def test_question_terms_language_and_small_talk():
    assert read_question("Quelle différence entre le mécénat financier et le mécénat de compétences ?").terms == \
        ("mecenat financier", "mecenat de competences")
    assert read_question("Qu'est-ce que l'ODD 17 ?").terms == ("odd 17",)
    assert language("What is the ODD 17?") == "en" and language("Qu'est-ce que l'ODD 17 ?") == "fr"
    assert language("Le mécénat en entreprise") == "fr"
    assert small_talk("Bonjour, qui es-tu ?") == "identity" and small_talk("merci beaucoup !") == "thanks"
    assert small_talk("Hello, what can you do?") == "identity" and small_talk("au revoir") == "bye"
    assert small_talk("Bonjour, des exemples de mécénat en Bretagne ?") is None
    assert small_talk("Qui finance les alliances ?") is None


def test_parse_reads_headings_items_pdf_titles_and_hyphens():
    units = parse(DOC)
    assert [u.text for u in units if u.kind == "heading"][:2] == ["Rapport", "Trois leviers"]
    items = [u for u in units if u.kind == "item"]
    assert len(items) == 3 and len({u.list_id for u in items}) == 1 and items[0].heading == "Trois leviers"
    assert all(DOC[u.start:u.end].lstrip("- ").startswith("**") for u in items)  # offsets point into the text
    pdf = "2. Les leviers de la coopération\nLe partenariat a per-\nmis de créer 12 emplois.\n7\n• un\n• deux\n"
    got = [(u.kind, u.text) for u in parse(pdf)]
    assert got == [("heading", "Les leviers de la coopération"),
                   ("sentence", "Le partenariat a permis de créer 12 emplois."), ("item", "un"), ("item", "deux")]


def test_list_question_quotes_the_items_under_the_heading():
    hits, windows = doc_hits(spans=((0, DOC.index(":\n\n- ") + 1),))  # the chunk stops before the list
    answer = compose_extractive("Quels sont les trois leviers ?", hits, overlap_scores, windows=windows)
    lines = answer.answer.splitlines()
    assert lines[0].startswith("Le rapport distingue trois leviers")
    assert lines[1:] == ["- Les richesses humaines : salariés, bénévoles et volontaires. [1]",
                         "- Les ressources financières : ventes, dons et subventions. [1]",
                         "- Les alliances : les relations nouées avec d'autres organisations. [1]"]
    citation = answer.citations[0]
    assert DOC[citation.start:citation.end].startswith("Le rapport distingue") and "alliances" in \
        DOC[citation.start:citation.end]


def test_definition_prefers_the_defining_sentence_and_pronouns_bring_their_antecedent():
    start = DOC.index("## Définitions")
    hits, windows = doc_hits(spans=((start, len(DOC)),))
    answer = compose_extractive("Qu'est-ce que le mécénat de compétences ?", hits, overlap_scores, windows=windows)
    assert answer.answer.startswith("Le mécénat de compétences est la mise à disposition de salariés")
    assert defines("mecenat de competences", "Le mécénat de compétences est un don en nature.")
    assert defines("ecosysteme territorial", "Écosystème territorial : ensemble d'acteurs.")
    assert not defines("ecosysteme territorial", "Il existe 350 écosystèmes territoriaux en France.")
    assert leans_on_previous("Il reste rare.") and not leans_on_previous("Le mécénat reste rare.")
    rare = compose_extractive("Le mécénat reste-t-il rare dans les petites entreprises ?", hits,
                              overlap_scores, windows=windows)
    assert rare.answer.startswith("Le mécénat de compétences est la mise à disposition")
    assert "Il reste rare dans les petites entreprises. [1]" in rare.answer


def test_comparison_quotes_one_passage_per_term():
    start = DOC.index("## Définitions")
    hits, windows = doc_hits(spans=((start, len(DOC)),))
    answer = compose_extractive("Quelle différence entre une démarche d'alliance et un écosystème territorial ?",
                                hits, overlap_scores, windows=windows)
    first, second = answer.answer.splitlines()
    assert first.startswith("La démarche d'alliance désigne") and second.startswith("L'écosystème territorial regroupe")


def test_figure_question_takes_the_neighbour_with_the_figure():
    start = DOC.index("## Chiffres")
    hits, windows = doc_hits(spans=((start, len(DOC)),))

    def prefers_first(question, sentences):  # the model likes the sentence that repeats the question's words
        return [0.9 if "évalué" in s.text else 0.5 for s in sentences]

    answer = compose_extractive("Combien d'emplois le programme évalué a-t-il créés ?", hits, prefers_first,
                                windows=windows)
    assert "42 emplois" in answer.answer and answer.answer.startswith("Le programme a été évalué")


def test_same_fact_from_two_documents_is_quoted_once():
    assert similar("81 % des Français aimeraient une envie d'alliance.",
                   "Selon l'étude, 81 % des Français souhaitent passer du devoir à l'envie d'alliance.")
    hits = [ScoredChunk("a", "d1", "Selon l'étude de 2020, 81 % des Français veulent une envie d'alliance.", 0, 70,
                        0.9, {"title": "A"}),
            ScoredChunk("b", "d2", "81 % des Français veulent passer à une envie d'alliance, dit l'étude.", 0, 70,
                        0.8, {"title": "B"})]
    answer = compose_extractive("Quelle part des Français veulent une envie d'alliance ?", hits,
                                lambda q, s: [0.9] * len(s))
    assert answer.answer.count("81 %") == 1 and len(answer.citations) == 1


def test_passages_without_windows_fall_back_to_the_chunk():
    hits, _ = doc_hits(spans=((0, 90),))
    passages = read_passages(hits, None)
    assert passages[0].units and passages[0].units[0].start >= 0


def test_html_pages_keep_structure_and_lose_boilerplate():
    page = ("<html><head><title>Alliance locale | Journal</title></head><body>"
            "<div class='cookie-banner'>Nous utilisons des cookies. Accepter</div>"
            "<ul id='main-menu'><li>Accueil</li><li>Actus</li></ul><main><div class='breadcrumb'>Accueil</div>"
            "<h1>La ville et l'<a href='#'>association</a> s'allient</h1>"
            "<p>Le <b>partenariat</b> réunit 12 acteurs.</p>"
            "<h2>Les étapes</h2><ol><li>Diagnostic</li><li>Plan d'action</li></ol>"
            "<div class='share-buttons'>Partager sur Facebook</div></main>"
            "<footer>Mentions légales</footer></body></html>")
    text, meta = html_to_text(page)
    assert meta["title"] == "Alliance locale | Journal"
    assert text == ("# La ville et l'association s'allient\n\nLe partenariat réunit 12 acteurs.\n\n## Les étapes\n\n"
                    "- Diagnostic\n- Plan d'action")


def test_running_headers_and_page_numbers_are_dropped():
    pages = [f"Rapport annuel 2023 — page {i}\nTexte de la page {i} qui continue.\n{i}" for i in range(1, 5)]
    cleaned = drop_running_lines(pages)
    assert all("Rapport annuel" not in p for p in cleaned) and all("Texte de la page" in p for p in cleaned)
    assert cleaned[0].splitlines() == ["Texte de la page 1 qui continue."]


def test_lexical_typos_and_document_windows(tmp_path):
    index = LexicalIndex(tmp_path / "lex.sqlite")
    text = "Le mécénat de compétences mobilise des salariés. " * 3 + "Les collectivités coopèrent."
    chunks = [Chunk("d", text[:60], 0, 60, {}), Chunk("d", text[60:120], 60, 120, {}),
              Chunk("d", text[125:], 125, len(text), {})]
    index.upsert(chunks)
    fixed = index.correct("mecena de competance")
    assert fixed and all(n > 0 for n in index.document_frequency(list(fixed.values())).values())
    assert all(term not in analyze(text) for term in fixed)
    assert index.search("mecena competance", 3)  # found through the corrections
    assert not index.search("kouign amann", 3)
    offset, window = index.window("d", 60, 120)
    assert offset == 0 and window[:120] == text[:120] and window[125:] == text[125:] and len(window) == len(text)


def test_all_actors_filter_means_every_one():
    f = normalize_filters({"acteurs_tous": ["fondation", "académique"]})
    assert to_where(f) == {"$and": [{"acteurs": {"$contains": "fondation"}}, {"acteurs": {"$contains": "académique"}}]}
    assert matches({"acteurs": ["fondation", "académique", "association"]}, f)
    assert not matches({"acteurs": ["fondation"]}, f)


def test_gate_model_round_trip_and_shipped_coefficients():
    gate = load_gate()
    assert 0 < gate.threshold < 1 and len(gate.weights) == 8
    strong = Signals(0.9, 1.1, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0)
    weak = Signals(0.8, 0.8, 0.2, 0.0, 0.0, 0.0, 0.6, 0.0)
    assert gate.answerable(strong) and not gate.answerable(weak)
    again = GateModel.from_json(gate.to_json())
    assert again.probability(strong) == pytest.approx(gate.probability(strong))
    assert "mecenat" in question_terms(read_question("What is skills-based sponsorship?"))


@pytest.mark.parametrize("question, answer, expected", [
    ("Combien de salariés compte l'association ?", "Elle emploie 12 salariés. [1]", 1.0),
    ("Combien de salariés compte l'association ?", "Elle a été créée en 2012 par trois amis. [1]", 0.5),
    ("Combien de salariés compte l'association ?", "Elle accompagne des familles. [1]", 0.0),
    ("Quel est le budget de l'alliance ?", "Son budget annuel atteint 40 000 euros. [1]", 1.0),
    ("Quel est le budget de l'alliance ?", "Les habitants ont réuni 2 000 euros pour la fête. [1]", 0.5),
    ("Qui préside l'association ?", "Elle est présidée par Jeanne Morel. [1]", 1.0),
    ("Qui préside l'association ?", "Jeanne Morel y est bénévole. [1]", 0.0),
    ("Numéro de téléphone de la maison de santé ?", "Elle ouvre en 2024. [1]", 0.0),
    ("C'est quand la prochaine assemblée générale ?", "L'assemblée s'est réunie le 3 mars 2019. [1]", 0.0),
    ("Qu'est-ce qu'un écosystème territorial ?", "Un ensemble d'acteurs qui coopèrent. [1]", 1.0)])
def test_answer_type_signal(question, answer, expected):
    assert type_present(read_question(question), answer) == expected


def test_small_talk_and_english_frame(assistant):
    hello = assistant.chat("Bonjour, qui es-tu ?").as_dict()
    assert hello["answer_type"] == "smalltalk" and "Sève" in hello["answer"] and not hello["citations"]
    assert "I am Sève" in assistant.chat("Hello, what can you do?").answer
    english = assistant.chat("How many families grow the shared gardens of the Tilleuls district?")
    if english.grounded:
        assert english.answer.startswith("Here is what the corpus says (quoted in French):")


def test_filters_the_index_cannot_use_are_not_applied(tmp_path):
    # web pages carry no `acteurs` metadata: « fondation » read in the question must not empty the results
    root = tmp_path / "pages"
    root.mkdir()
    (root / "fonds.txt").write_text("Trois fondations familiales se regroupent dans un fonds commun pour financer "
                                    "des projets de solidarité en montagne.", encoding="utf-8")
    (root / "autre.txt").write_text("La mairie rénove la salle des fêtes avec les habitants.", encoding="utf-8")
    ing = make_ingestor(tmp_path / "d")
    ing.ingest([root])
    assistant = make_assistant(tmp_path / "d", ing)
    answer = assistant.chat("Des exemples de fondations qui se regroupent ?")
    assert answer.filters["applied"] == {} and answer.grounded and "fonds commun" in answer.answer


def test_follow_ups_ask_their_own_kind_of_question():
    from assistant.question import read_turn

    standalone = "Qu'est-ce que la plateforme ? Et avant, elles s'organisaient comment ?"
    assert read_turn("Et avant, elles s'organisaient comment ?", standalone).kind == "explanation"
    assert read_turn("Combien y en a-t-il ?", "Qu'est-ce qu'un écosystème ? Combien y en a-t-il ?").kind == "figure"
    assert read_turn("Et en Occitanie ?", "Quels sont les trois leviers ? Et en Occitanie ?").kind == "list"
    assert read_question("Qui sont les associations membres ?").kind == "list"


def test_two_actors_joined_by_et_mean_both_and_the_wording_says_et():
    from assistant.answer import describe_filters
    from assistant.understand import understand

    both = understand("Des exemples d'alliances entre une fondation et un acteur académique ?").filters
    assert both == {"acteurs_tous": ["fondation", "académique"]}
    either = understand("Des exemples avec une fondation ou une université ?").filters
    assert either == {"acteurs": ["fondation", "académique"]}
    assert describe_filters(normalize_filters(both)) == "acteurs : fondation et académique"
    assert describe_filters(normalize_filters(either)) == "acteurs : fondation ou académique"


def test_sentences_are_embedded_at_ingest_so_a_question_embeds_only_itself(assistant):
    for question in ("Combien de familles cultivent les jardins partagés ?",
                     "Qu'est-ce que le mécénat de compétences ?",
                     "Quelle part des Français souhaitent faire alliance ?"):
        assert assistant.chat(question).grounded
    assert assistant.scorer.embedded == 0
