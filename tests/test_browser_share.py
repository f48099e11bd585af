"""A link copied on each page restores the view in a fresh browser context (another student), never
carries the first student's `?me=`, and a link's unusable settings get a note, not a crash."""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from browser import offline_page, wait_for_app
from core.inputs.links import TEXT_CAP
from test_browser_faults import no_exception

# page: (parameter, widget label, a value a student might have typed)
VIEWS = {
    "tokens": ("tok_text", "Your text", "Shared tokens: unaffable strawberries."),
    "attention": ("attn_text", "Sentence", "The teacher shared this sentence."),
    "layers": ("ly_tab", None, "Query-key map"),
    "explain": ("xp_mode", None, "A masked word"),
    "inside_bert": ("inside_text", "Your sentence", "The teacher shared this [MASK] too."),
    "augment": ("aug_text", "Your sentence", "A sentence to augment for the class."),
}


def _copied_link(page) -> str:
    page.get_by_role("button", name="🔗 Share this view").click()
    link = page.locator('[data-testid="stPopoverBody"] code').inner_text().strip()
    page.keyboard.press("Escape")
    return link


def _fresh(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = offline_page(context, [])
    page.goto(url)
    wait_for_app(page)
    no_exception(page)
    return context, page


def test_typed_inputs_travel_in_a_copied_link_and_restore_in_a_fresh_context(app_url, browser):
    context, page = _fresh(browser, app_url + "/masked")
    me = parse_qs(urlsplit(page.url).query)["me"][0]
    box = page.get_by_label("Sentence with masks")
    box.fill("The shared [MASK] was on the board.")
    box.press("Enter")
    wait_for_app(page)
    link = _copied_link(page)
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/masked" and "me" not in query and me not in link
    assert query["mlm_text"] == ["The shared [MASK] was on the board."]
    predictions = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    page.reload()  # a reload keeps the student (their id is in the address) and the view
    wait_for_app(page)
    assert parse_qs(urlsplit(page.url).query)["me"] == [me]
    assert page.get_by_label("Sentence with masks").input_value() == "The shared [MASK] was on the board."
    other, fresh = _fresh(browser, link)
    assert fresh.get_by_label("Sentence with masks").input_value() == "The shared [MASK] was on the board."
    assert parse_qs(urlsplit(fresh.url).query)["me"][0] != me  # the other student is someone else
    shown = fresh.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert shown.split("Predictions per mask")[0] == predictions.split("Predictions per mask")[0]
    context.close(), other.close()


def test_every_page_restores_its_view_from_a_link_and_shares_it_on(app_url, browser):
    """A fresh context (a student who never saw the page) opens a link: the view is restored, and
    the page's own Share link carries it on, without that student's id."""
    for slug, (param, label, value) in VIEWS.items():
        context, page = _fresh(browser, f"{app_url}/{slug}?{param}={quote(value)}")
        if label:
            assert page.get_by_label(label, exact=True).first.input_value() == value, slug
        else:  # a tab or a radio: its choice is what the page shows
            assert page.get_by_role("tab", name=value, selected=True).or_(
                page.get_by_role("radio", name=value, checked=True)).count() == 1, slug
        link = _copied_link(page)
        assert parse_qs(urlsplit(link).query).get(param) == [value] and "me=" not in link, (slug, link)
        context.close()


def test_unusable_settings_in_a_link_are_noted_and_dropped(app_url, browser):
    long = "a [MASK] " * 400  # 3,600 characters: over the cap of text a link may carry
    context, page = _fresh(browser, f"{app_url}/masked?zz=1&mlm_topk=999&mlm_tab=Nowhere"
                             f"&model=local:runs/someone/their-model&mlm_text={quote(long)}")
    note = page.locator('[data-testid="stSidebar"]').get_by_text("this page could not use", exact=False)
    assert all(name in note.inner_text() for name in ("zz", "mlm_topk", "mlm_text", "model"))
    assert "embedded" in page.locator('[data-testid="stSidebar"]').inner_text()  # not someone's folder
    assert page.get_by_label("Sentence with masks").input_value() == long[:TEXT_CAP]
    query = parse_qs(urlsplit(_copied_link(page)).query)
    assert "zz" not in query and "mlm_tab" not in query
    assert query.get("mlm_topk", ["5"]) == ["5"]  # the value the page took (its default), never the 999
    context.close()


# page: the address of a view with every input changed from its default, and a text that view shows
# only when those inputs arrived (issue 36: these pages used to drop their sentences or carry nothing).
LINKED = {
    "explain": ("xp_mode=A masked word&xp_masked=There are twelve months in a [MASK].&xp_methods=Integrated gradients&xp_steps=20",
                "There are twelve months in a [MASK]."),
    "layers": ("ly_text=The cat sat on the mat.\nA dog ran home.&ly_senses=false&ly_follow=cat",
               "A dog ran home."),
    "finetune": ("ft_task=Sentence pairs (NLI)&ft_epochs=3&ft_batch=8&ft_seed=7", "Sentence pairs (NLI)"),
}


def _main_text(page) -> str:
    return page.locator('[data-testid="stMainBlockContainer"]').inner_text()


def test_explain_layers_and_finetune_links_restore_their_inputs_and_numbers(app_url, browser):
    """A view opened from a link, then shared on and opened by another student, shows the same
    inputs and the same numbers (the sentence, the followed word, the task and its settings)."""
    for slug, (query, shown) in LINKED.items():
        context, page = _fresh(browser, f"{app_url}/{slug}?{quote(query, safe='=&')}")
        first = _main_text(page)
        assert shown in first or shown in page.locator("textarea").evaluate_all("els => els.map(e => e.value).join()"), slug
        link = _copied_link(page)
        sent = parse_qs(urlsplit(link).query)
        for key, value in parse_qs(query).items():
            assert sent.get(key) == value, (slug, key, sent.get(key), value)
        other, fresh = _fresh(browser, link)
        if slug != "finetune":  # (its time estimate is measured afresh)
            assert _main_text(fresh) == first, slug  # the same inputs give the same numbers
        if slug == "explain":
            assert fresh.get_by_label("Sentence", exact=True).input_value() == "There are twelve months in a [MASK]."
        if slug == "layers":
            assert fresh.get_by_label("Your sentences (one per line)").input_value() == "The cat sat on the mat.\nA dog ran home."
        if slug == "finetune":
            assert fresh.get_by_label("Epochs", exact=True).first.input_value() == "3"
            assert fresh.get_by_role("radio", name="Sentence pairs (NLI)", checked=True).count() == 1
        context.close(), other.close()
