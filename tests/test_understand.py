import pytest

from assistant.understand import fold, understand, understand_turn


@pytest.mark.parametrize("question, expected", [
    ("Des exemples d'alliances en Bretagne avec une collectivité ?",
     {"region": "Bretagne", "acteurs": "collectivité"}),
    ("Je cherche des initiatives autour du logement où une fondation est partenaire.",
     {"domaine": "Logement", "acteurs": "fondation"}),
    ("Des exemples récents dans l'éducation ?", {"domaine": "Éducation et jeunesse", "annee_min": 2023}),
    ("En Île-de-France, quels écosystèmes territoriaux sont nés depuis 2020 ?",
     {"region": "Île-de-France", "type": "ecosysteme_territorial", "annee_min": 2020}),
    ("Des écosystèmes territoriaux sur le numérique inclusif lancés avant 2018 ?",
     {"domaine": "Numérique inclusif", "type": "ecosysteme_territorial", "annee_max": 2017}),
    ("bretagne : des coopérations dans l'agroalimentaire avec des boites privées ?",
     {"region": "Bretagne", "domaine": "Alimentation et agriculture", "acteurs": "entreprise"}),
    ("En PACA, des alliances où intervient une fondation ?",
     {"region": "Provence-Alpes-Côte d'Azur", "acteurs": "fondation"}),
    ("Des exemples à La Réunion ?", {"region": "Outre-mer"}),
])
def test_filters_read_in_example_questions(question, expected):
    u = understand(question, latest_year=2025)
    assert u.wants_examples and u.filters == expected


@pytest.mark.parametrize("question", [
    "Quel est le rôle des collectivités dans les alliances ?",
    "Qu'est-ce que le mécénat de compétences pour une entreprise ?",
    "Combien de démarches d'alliance figurent dans l'inventaire d'exemples ?",
    "Dans la note sur la jeunesse en 2050, comment s'appelle le premier scénario ?",
])
def test_no_filters_for_questions_that_do_not_look_for_examples(question):
    assert understand(question, latest_year=2025).filters == {}


def test_known_values_extend_detection():
    u = understand("Des exemples au Pays Basque dans le sport ?", known={"region": {"Pays Basque"}}, latest_year=2025)
    assert u.filters == {"region": "Pays Basque", "domaine": "Sport"}


def test_follow_up_replaces_filters_key_by_key():
    u = understand_turn("Et en Occitanie ?", "Des exemples de santé en Bretagne ?", None, 2025, follow_up=True)
    assert u.wants_examples and u.filters == {"region": "Occitanie", "domaine": "Santé"}
    fact = understand_turn("Combien de patients ?", "Des exemples de santé en Bretagne ?", None, 2025, True)
    assert fact.filters == {} and not fact.wants_examples


def test_fold():
    assert fold("L’Île-de-France, Œuvre") == "l'ile de france, oeuvre"
