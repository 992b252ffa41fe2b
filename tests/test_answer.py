from pathlib import Path

import pytest

from assistant.answer import compose_examples, refusal
from assistant.condense import condense, is_follow_up
from assistant.errors import InvalidInput, NotReady
from assistant.extractive import (
    Sentence,
    candidate_sentences,
    compose_extractive,
    read_passages,
    select_sentences,
)
from index.store import ScoredChunk
from tests.fakes import make_assistant, make_ingestor

MINI = Path(__file__).parent / "data" / "mini"


def hit(i, text, score=0.9, **meta):
    return ScoredChunk(chunk_id=f"c{i}", doc_id=f"d{i}", text=text, start=100 * i, end=100 * i + len(text),
                       score=score, metadata={"title": f"Doc {i}", **meta})


def test_citations_are_numbered_in_order_of_use_and_map_to_chunks():
    hits = [hit(0, "Phrase sans rapport avec la question posée ici."),
            hit(1, "Le mécénat de compétences met des salariés à disposition. Autre chose encore ici."),
            hit(2, "Les associations accueillent des salariés volontaires en mécénat.")]

    def scores(question, sentences):
        return [0.9 if "mécénat" in s.text else 0.1 for s in sentences]

    answer = compose_extractive("mécénat ?", hits, scores)
    assert answer.grounded
    assert [c.n for c in answer.citations] == [1, 2]
    assert [c.chunk.chunk_id for c in answer.citations] == ["c1", "c2"]
    assert "[1]" in answer.answer and "[2]" in answer.answer and "[3]" not in answer.answer
    first = answer.citations[0]
    assert first.start == 100 and first.end == 100 + len("Le mécénat de compétences met des salariés à disposition.")


def test_select_sentences_skips_near_duplicates_and_weak_ones():
    s = [Sentence(0, "Le mécénat de compétences aide les associations locales.", 0, 10),
         Sentence(1, "Le mécénat de compétences aide les associations locales !", 0, 10),
         Sentence(2, "Les collectivités animent le projet de territoire commun.", 0, 10),
         Sentence(3, "Une phrase faible sur un autre sujet entièrement.", 0, 10)]
    chosen = select_sentences(s, [0.9, 0.89, 0.88, 0.5])
    assert [c.hit_rank for c in chosen] == [0, 2]


def test_short_sentences_and_headings_are_not_candidates():
    passage = hit(0, "## Points clés\n\nOui.\n\nUne vraie phrase assez longue pour compter.")
    sentences = candidate_sentences(read_passages([passage]))
    assert [s.text for s in sentences] == ["Une vraie phrase assez longue pour compter."]


def test_refusal_asserts_nothing_but_names_closest():
    answer = refusal("q", [hit(0, "x"), hit(1, "y"), hit(2, "z", title="Doc 0")])
    assert not answer.grounded and "[" not in answer.answer
    assert "« Doc 0 »" in answer.answer and "« Doc 1 »" in answer.answer and len(answer.citations) == 2
    assert "cannot find" in refusal("q", [], "en").answer


def test_examples_answer_lists_records():
    hits = [hit(0, "Jardins\n\nUne commune crée des jardins.\n\nDescription.", doc_type="exemple",
                region="Bretagne", annee=2021, territoire="Kerbrac"), hit(1, "Texte", doc_type="fiche")]
    answer = compose_examples(hits)
    assert answer is not None
    assert "« Doc 0 » (Kerbrac, Bretagne, 2021) : Une commune crée des jardins. [1]" in answer.answer
    assert compose_examples([hits[1]]) is None
    with_resume = hit(2, "Titre\n\nDescription longue.\n\nPartenaires : A.", doc_type="exemple",
                      resume="Un résumé **court** du cas.")
    assert "Un résumé court du cas. [1]" in compose_examples([with_resume]).answer


def test_condense_follow_ups():
    history = [{"role": "user", "content": "Qu'est-ce que le mécénat de compétences ?"},
               {"role": "assistant", "content": "C'est ..."}]
    assert condense("Et pour les collectivités ?", history) == \
        "Qu'est-ce que le mécénat de compétences ? Et pour les collectivités ?"
    assert condense("Quel est le rôle des fondations dans les alliances territoriales ?", history) == \
        "Quel est le rôle des fondations dans les alliances territoriales ?"
    assert condense("Et en Bretagne ?", []) == "Et en Bretagne ?"
    assert is_follow_up("lesquels ?")


def test_chat_grounded_and_refused(assistant):
    answer = assistant.chat("Quelle part des Français souhaitent que les organisations fassent alliance ?")
    assert answer.grounded and "81 %" in answer.answer and "[1]" in answer.answer
    assert answer.citations[0].chunk.metadata["title"] == "L'ODD 17 en quelques repères"
    off = assistant.chat("Quelle est la recette du kouign-amann au beurre salé ?")
    assert not off.grounded and "Je ne trouve pas" in off.answer


def test_chat_follow_up_uses_history(assistant):
    history = [{"role": "user", "content": "Parle-moi des jardins partagés du quartier des Tilleuls"},
               {"role": "assistant", "content": "..."}]
    answer = assistant.chat("Combien de familles ?", history)
    assert answer.standalone_question.startswith("Parle-moi des jardins")
    assert answer.grounded
    assert answer.citations[0].chunk.metadata["title"] == "Jardins partagés du quartier des Tilleuls"


def test_chat_validates_input(assistant, tmp_path):
    with pytest.raises(InvalidInput, match="vide"):
        assistant.chat("   ")
    with pytest.raises(InvalidInput, match="trop longue"):
        assistant.chat("x" * 5000)
    empty = make_assistant(tmp_path / "empty", make_ingestor(tmp_path / "empty"))
    with pytest.raises(NotReady, match="vide"):
        empty.chat("Une question ?")


def test_examples_with_filters_and_relaxation(assistant):
    answer = assistant.chat("Des exemples de jardins partagés en Bretagne ?")
    assert answer.grounded and answer.filters["detected"] == {"region": ["Bretagne"]}
    assert answer.filters["applied"] == {"doc_type": ["exemple"], "region": ["Bretagne"]}
    assert "« Jardins partagés du quartier des Tilleuls »" in answer.answer
    assert all(c.chunk.metadata["region"] == "Bretagne" for c in answer.citations)
    none = assistant.chat("Des exemples de jardins partagés en Corse ?")
    assert none.filters["relaxed"] and not none.grounded
    assert none.answer.startswith("Aucun document du corpus ne correspond à tous ces critères (région : Corse)")
    assert none.citations  # the closest examples without the filter
    off = assistant.chat("Des exemples de jardins partagés en Corse ?", detect_filters=False)
    assert off.filters["detected"] == {} and off.grounded


def test_concurrent_chats_do_not_mix_questions(assistant):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["Quelle part des Français souhaitent faire alliance ?", "Combien de familles cultivent les jardins ?",
                 "Combien de seniors bénéficient du tutorat numérique ?"]
    expected = {q: assistant.chat(q).answer for q in questions}
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(lambda q: (q, assistant.chat(q).answer), questions * 8))
    assert all(answer == expected[q] for q, answer in got)


@pytest.mark.parametrize(("marked", "seen"), [
    ("**gras** et __souligné__ ici", "gras et souligné ici"),
    ("un `code` à lire", "un code à lire"),
    ("la colonne snake__case et x__y__z", "la colonne snake__case et x__y__z"),  # underscores inside words stay
    ("fin __mot__.", "fin mot."),
])
def test_plain_drops_emphasis_marks_not_underscores_inside_words(marked, seen):
    from assistant.answer import plain
    from ingest.structure import clean

    assert plain(marked) == seen == clean(marked)
