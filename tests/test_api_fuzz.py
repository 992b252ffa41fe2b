"""The API fuzzed against its own OpenAPI schema (schemathesis, a bounded number of generated requests per
route): no 5xx, and every error is `{"error", "message"}` in the language the request asked for."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from assistant.api import create_api
from tests.fakes import mini_assistant

EXAMPLES = 25  # per route, language and mode: bounded, so the suite stays fast
SEEN: dict[str, int] = {"cases": 0, "5xx": 0}
# Words that tell a message's language: pydantic's English in a French message, French in an English one.
NOT_FRENCH = ("Field required", "Input should", "String should", "Extra inputs", "Not Found", "Method Not Allowed")
NOT_ENGLISH = ("attendu", "champ", "Requête", "inconnu", "introuvable", "permise", "vide")


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    assistant = mini_assistant(tmp_path_factory.mktemp("fuzz"))
    app = create_api(lambda: assistant)
    app.state.assistant = assistant  # schemathesis calls the app without running its lifespan
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _expected_lang(case, header: str) -> str:
    body = case.body if isinstance(case.body, dict) else {}
    if body.get("lang") in ("fr", "en") and case.path.startswith("/api/chat"):
        return body["lang"]
    query = case.query or {}
    lang = query.get("lang")
    if isinstance(lang, str) and lang:
        return "en" if lang.split(",")[0].strip().lower().startswith("en") else "fr"
    return header


def _check(case, header: str) -> None:
    response = case.call(headers={"Accept-Language": header})
    SEEN["cases"] += 1
    SEEN["5xx"] += response.status_code >= 500
    assert response.status_code < 500, (case.method, case.path, case.query, case.body, response.text[:500])
    if response.status_code < 400 or case.path.startswith("/sources/"):
        return  # the source view answers in HTML, with its own 404 page
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error", "message"}, (case.path, body)
    message = body["message"]
    assert isinstance(message, str) and message.strip()
    lang = _expected_lang(case, header)
    wrong = NOT_FRENCH if lang == "fr" else NOT_ENGLISH
    assert not any(w in message for w in wrong), (lang, case.method, case.path, case.query, case.body, message)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valides", "invalides"])
@pytest.mark.parametrize("header", ["fr", "en"])
def test_fuzzed_requests(api_schema, mode, header):
    """Requests generated from the schema, valid ones and invalid ones, for every route."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/chat", "/api/chat/stream", "/api/search", "/api/examples"}
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def run(case):
            _check(case, header)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid: a route without parameters
            assert mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and \
                operation.method.upper() == "GET", operation.label


def test_fuzzing_ran_and_found_no_5xx():
    """Runs after the fuzzing above (same module): it really generated requests, and none got a 5xx."""
    print(f"\nschemathesis : {SEEN['cases']} requêtes générées, {SEEN['5xx']} réponses 5xx")
    assert SEEN["cases"] >= 400 and SEEN["5xx"] == 0
