"""The Gradio chat in a real browser: Debian's Chromium driven by Playwright against `seve serve`."""

from pathlib import Path

import pytest

from tests.servers import chromium, seve_server

pytestmark = [pytest.mark.browser, pytest.mark.integration]
MINI = Path(__file__).parent / "data" / "mini"


@pytest.fixture(scope="module")
def server(converted_model_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("browser")
    env = {"SEVE_DATA_DIR": str(data), "SEVE_MODELS_DIR": str(converted_model_dir.parent)}
    with seve_server(MINI, env, data / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as (b, _):
        yield b


def test_gradio_chat_answers_with_sources(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(server + "/", wait_until="networkidle")
    box = page.locator("#seve-question textarea")
    box.fill("Quelle part des Français souhaitent que les organisations fassent alliance ?")
    page.locator("#seve-send").click()
    # the question shows at once, then the answer streams in (the sources come first, with the citations event)
    page.wait_for_function("() => document.querySelector('#seve-chat').innerText.includes('Quelle part des')",
                           timeout=60000)
    page.wait_for_function(
        "() => document.querySelector('#seve-chat').innerText.includes('81 %') && "
        "document.querySelector('#seve-sources').innerText.includes('[1]')", timeout=60000)
    chat = page.locator("#seve-chat").inner_text()
    assert "81 %" in chat and "[1]" in chat
    sources = page.locator("#seve-sources").inner_text()
    assert "L'ODD 17 en quelques repères" in sources
    page.screenshot(path=str(tmp_path / "gradio.png"), full_page=True)
    page.close()


def test_gradio_refuses_off_topic(server, browser):
    page = browser.new_page()
    page.goto(server + "/", wait_until="networkidle")
    page.locator("#seve-question textarea").fill("Quelle est la meilleure recette de crêpes ?")
    page.locator("#seve-question textarea").press("Enter")
    page.wait_for_function("() => document.querySelector('#seve-chat').innerText.includes('Je ne trouve pas')",
                           timeout=60000)
    page.close()


def test_widget_on_a_partner_page(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(server + "/widget/", wait_until="networkidle")
    page.locator("#seve-widget .btn").click()
    page.locator("#seve-widget input").fill("Combien de familles cultivent les jardins partagés des Tilleuls ?")
    page.locator("#seve-widget form button").click()
    page.wait_for_function(
        "() => { const r = document.querySelector('#seve-widget').shadowRoot;"
        " return r.querySelector('.bot .src') !== null; }", timeout=60000)
    bot = page.locator("#seve-widget .bot").last.inner_text()
    assert "[1]" in bot and "Jardins partagés du quartier des Tilleuls" in bot
    page.screenshot(path=str(tmp_path / "widget.png"))
    page.close()


def test_examples_tab_with_facets(server, browser):
    page = browser.new_page()
    page.goto(server + "/", wait_until="networkidle")
    page.get_by_role("tab", name="Exemples").click()
    page.locator("#seve-ex-query textarea").fill("jardins en Bretagne")
    page.locator("#seve-ex-search").click()
    page.wait_for_function("() => document.querySelector('#seve-ex-results').innerText.includes('Jardins partagés')",
                           timeout=60000)
    results = page.locator("#seve-ex-results").inner_text()
    assert "1 exemple(s)" in results and "Tutorat" not in results
    assert "Bretagne (1)" in page.locator("#seve-ex-facets").inner_text()
    page.close()


def test_chat_shows_detected_filters_and_example_cards(server, browser):
    page = browser.new_page()
    page.goto(server + "/", wait_until="networkidle")
    page.locator("#seve-question textarea").fill("Des exemples de tutorat numérique en Auvergne-Rhône-Alpes ?")
    page.locator("#seve-send").click()
    page.wait_for_function("() => document.querySelector('#seve-sources').innerText.includes('Tutorat') && "
                           "document.querySelector('#seve-filters').innerText.includes('Auvergne')", timeout=60000)
    assert "Auvergne-Rhône-Alpes" in page.locator("#seve-filters").inner_text()
    assert "Partenaires" in page.locator("#seve-sources").inner_text()
    page.close()
