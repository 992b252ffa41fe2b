import shutil
from pathlib import Path

import pytest

from index.filters import FilterError, matches, normalize_filters, to_where
from tests.fakes import make_ingestor

MINI = Path(__file__).parent / "data" / "mini"


def test_normalize_and_where():
    f = normalize_filters({"region": "Bretagne", "acteurs": ["association", "entreprise"], "annee_min": "2020"})
    assert f == {"region": ["Bretagne"], "acteurs": ["association", "entreprise"], "annee_min": [2020]}
    assert to_where(f) == {"$and": [
        {"region": "Bretagne"},
        {"$or": [{"acteurs": {"$contains": "association"}}, {"acteurs": {"$contains": "entreprise"}}]},
        {"annee": {"$gte": 2020}},
    ]}
    assert to_where({}) is None
    assert normalize_filters({"region": ""}) == {}


@pytest.mark.parametrize("bad, word", [({"pays": "France"}, "inconnu"), ({"annee": "récent"}, "année"),
                                       ({"annee_min": [2019, 2020]}, "une seule")])
def test_bad_filters_are_explained(bad, word):
    with pytest.raises(FilterError, match=word):
        normalize_filters(bad)


def test_matches_agrees_with_semantics():
    meta = {"region": "Bretagne", "acteurs": ["association"], "annee": 2021}
    assert matches(meta, normalize_filters({"region": "Bretagne", "annee_min": 2020}))
    assert not matches(meta, normalize_filters({"acteurs": "entreprise"}))
    assert not matches(meta, normalize_filters({"annee_max": 2020}))


def test_filtered_retrieval_returns_only_matching(tmp_path):
    root = tmp_path / "c"
    shutil.copytree(MINI, root)
    ing = make_ingestor(tmp_path / "d")
    ing.ingest([root])
    from index.retrieval import Retriever

    retriever = Retriever(ing.store.vector, ing.embedder)
    for filters in ({"region": "Bretagne"}, {"acteurs": "fondation"}, {"doc_type": "exemple", "annee_max": 2020},
                    {"domaine": "Emploi et insertion"}):
        hits = retriever.retrieve("jardins seniors mécénat alliances", 10, filters)
        assert hits, filters
        assert all(matches({**h.metadata}, normalize_filters(filters)) for h in hits), filters
    assert retriever.retrieve("jardins", 10, {"region": "Corse"}) == []
