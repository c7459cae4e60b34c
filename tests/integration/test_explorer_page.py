"""The explorer page at ``GET /`` in headless Chromium, against a real server: under its
Content-Security-Policy, every test fails on a console error or a blocked load."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from datadivr import create_app
from datadivr.demo import PROTOCOL
from tests.browser import Tab, launch
from tests.conftest import LiveServer

SENDABLE = sorted(name for name, spec in PROTOCOL.events.items() if spec.direction.client_may_send)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def open_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[[], Page]]:
    """Open the explorer of ``live_server`` in a new tab, once it is connected; at the end,
    each tab must have had no console error and no policy violation."""
    tabs: list[Tab] = []

    def open_page() -> Page:
        tab = Tab.open(browser, live_server.http + "/")
        tabs.append(tab)
        expect(tab.page.locator("#state")).to_have_attribute("data-state", "open")
        expect(tab.page.locator("#client-id")).not_to_be_empty()
        return tab.page

    yield open_page
    for tab in tabs:
        tab.check()
        tab.close()


def compose(page: Page, event: str, message: object) -> None:
    """Pick ``event`` and put ``message`` (JSON, or text as it is) in the editor."""
    page.select_option("#event", event)
    page.fill("#editor", message if isinstance(message, str) else json.dumps(message))


def send_at_once(page: Page, *messages: object) -> None:
    """Send ``messages`` with the page's Send button, all in one task of the page: every one
    is on its way before the page handles anything that arrives."""
    page.evaluate(
        """(texts) => {
            for (const text of texts) {
                document.getElementById("editor").value = text;
                document.getElementById("send").click();
            }
        }""",
        [json.dumps(message) for message in messages],
    )


def ping(message_id: str) -> dict[str, object]:
    return {**PROTOCOL.events["ping"].example, "id": message_id}


def test_the_page_lists_the_events_and_shows_its_client_id(
    open_page: Callable[[], Page], live_server: LiveServer
) -> None:
    page = open_page()
    expect(page.locator("#events tr")).to_have_count(len(PROTOCOL.events))
    row = page.locator('#events tr[data-event="sum_event"]')
    expect(row).to_contain_text("client to server")
    expect(row).to_contain_text("sum_handler_result")
    # The description's Markdown: `sum_handler_result` is code, without its backticks.
    description = PROTOCOL.events["sum_event"].description
    assert "`sum_handler_result`" in description
    expect(row.locator("td.description")).to_have_text(description.replace("`", ""))
    expect(row.locator("td.description code")).to_have_text("sum_handler_result")
    expect(row.get_by_role("link")).to_have_attribute("href", "/schema/events/sum_event")
    # The schema, viewed in place; before a choice, a hint says how.
    expect(page.locator("#schema-view")).to_be_hidden()
    expect(page.locator("#schema-hint")).to_be_visible()
    row.get_by_role("button", name="View the schema of sum_event").click()
    expect(page.locator("#schema-hint")).to_be_hidden()
    expect(page.locator("#schema-name")).to_have_text("sum_event")
    expect(page.locator("#schema-json")).to_contain_text('"numbers"')
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#schema-view")).to_be_hidden()
    expect(page.locator("#schema-hint")).to_be_visible()
    # Only the events a client may send can be picked, each prefilled with its example.
    assert page.locator("#event option").all_inner_texts() == SENDABLE
    page.select_option("#event", "sum_event")
    assert json.loads(page.input_value("#editor")) == PROTOCOL.events["sum_event"].example
    expect(page.locator("#to")).to_be_disabled()
    page.select_option("#event", "msg")
    assert json.loads(page.input_value("#editor")) == {
        **PROTOCOL.events["msg"].example,
        "to": "others",
    }
    # The client id is one the server gave.
    assert page.inner_text("#client-id") in live_server.app.state.server.connections


def test_every_example_is_accepted(open_page: Callable[[], Page]) -> None:
    page = open_page()
    for event in SENDABLE:
        page.select_option("#event", event)
        page.click("#send")
    expect(page.locator("#log .entry.sent")).to_have_count(len(SENDABLE))
    # The server answers in order: once the last ping's pong is in, so is any error before it.
    send_at_once(page, ping("last"))
    expect(page.locator("#log .entry.received").first).to_contain_text('"reply_to": "last"')
    # ping is answered; the rest go to no one else: no error in any case.
    expect(page.locator("#log .entry.received", has_text="pong")).to_have_count(2)
    expect(page.locator("#log .entry.error")).to_have_count(0)


def test_a_sum_event_is_answered(open_page: Callable[[], Page]) -> None:
    page = open_page()
    compose(page, "sum_event", {"event_name": "sum_event", "payload": {"numbers": [1, 2, 3]}})
    page.click("#send")
    sent = page.locator("#log .entry.sent").first
    expect(sent).to_contain_text('"id": "explorer-1"')
    answer = page.locator("#log .entry.received", has_text="sum_handler_result")
    expect(answer).to_contain_text('"payload": 6')
    expect(answer).to_contain_text('"reply_to": "explorer-1"')
    # The newest entry comes first.
    expect(page.locator("#log .entry").first).to_contain_text("sum_handler_result")


def test_screen_readers_hear_a_line_per_entry_not_the_messages(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    log = page.locator("#log")
    assert log.get_attribute("aria-live") is None
    assert log.get_attribute("role") is None  # a list; role log would make it live
    compose(page, "sum_event", {"event_name": "sum_event", "payload": {"numbers": [1, "x"]}})
    page.click("#send")
    compose(page, "sum_event", PROTOCOL.events["sum_event"].example)
    page.click("#send")
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("role", "log")
    expect(announcer.locator("p")).to_have_text(
        [
            "received: welcome from server",
            "sent: sum_event",
            "error: validation_error",
            "sent: sum_event",
            "received: sum_handler_result from server",
        ]
    )
    # Heard, not seen.
    box = announcer.bounding_box()
    assert box is not None
    assert (box["width"], box["height"]) == (1, 1)
    page.click("#clear")
    expect(announcer.locator("p")).to_have_count(0)


def test_an_invalid_message_gets_an_error_marking_the_failing_value(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    # Another message sent before the error can arrive: it is matched to its message by
    # reply_to, not taken to answer the last one sent.
    send_at_once(
        page,
        {"event_name": "sum_event", "payload": {"numbers": [1, "two", 3]}, "id": "mine"},
        ping("after"),
    )
    error = page.locator("#log .entry.error")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("validation_error")
    expect(error.locator(".details li")).to_have_count(1)
    expect(error.locator(".details li")).to_contain_text("$.payload.numbers[1]")
    marked = error.locator(".json .hl")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-path", "$.payload.numbers[1]")
    expect(marked).to_have_text('"two"')
    expect(error.locator('.json [data-path="$.id"]').first).to_have_text('"mine"')


def test_an_error_for_a_message_no_longer_kept_marks_no_other(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    # 50 more sent before its error arrives: the first one is no longer remembered.
    invalid = {"event_name": "sum_event", "payload": {"numbers": ["one"]}, "id": "first"}
    to_no_one = {**PROTOCOL.events["msg"].example, "to": "others"}
    send_at_once(page, invalid, *({**to_no_one, "id": f"m{i}"} for i in range(50)))
    error = page.locator("#log .entry.error")
    expect(error).to_contain_text("validation_error")
    expect(error).to_contain_text("The message sent (id first) is not among the last 50")
    expect(error).not_to_contain_text("The message sent:")
    expect(error.locator(".hl, .hl-inside")).to_have_count(0)


def test_an_error_for_text_sent_as_it_is_shows_that_text(open_page: Callable[[], Page]) -> None:
    page = open_page()
    raw = '{"event_name": "sum_event", "payload": {"numbers": ["x"]}, "id": "raw-1"}'
    page.evaluate(
        """([raw, then]) => {
            const editor = document.getElementById("editor");
            editor.value = raw;
            document.getElementById("send-raw").click();
            editor.value = then;
            document.getElementById("send").click();
        }""",
        [raw, json.dumps(ping("then"))],
    )
    error = page.locator("#log .entry.error")
    expect(error).to_contain_text("validation_error")
    expect(error.locator("pre").first).to_have_text(raw)


def test_text_sent_without_an_id_gets_one_and_its_error_is_marked(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    # As written, but for the id: first, indented as the first member is.
    raw = '{\n  "event_name": "sum_event",\n  "payload": {"numbers": [1, "x"]}\n}'
    compose(page, "sum_event", raw)
    page.click("#send-raw")
    sent = page.locator("#log .entry.sent")
    expected = '{\n  "id": "explorer-1",\n  "event_name": "sum_event",\n  "payload": {"numbers": [1, "x"]}\n}'
    expect(sent.locator("pre")).to_have_text(expected)
    assert sent.locator("pre").text_content() == expected  # not only up to white space
    error = page.locator("#log .entry.error")
    expect(error).to_contain_text("validation_error")
    expect(error.locator("pre").first).to_have_text(expected)
    assert error.locator("pre").first.text_content() == expected
    for entry in (error, sent):  # marked in the error and in the message's own entry
        marked = entry.locator(".json .hl")
        expect(marked).to_have_count(1)
        expect(marked).to_have_attribute("data-path", "$.payload.numbers[1]")
        expect(marked).to_have_text('"x"')
    expect(sent.locator(".answers")).to_have_text("Answered by error: validation_error ↑")
    # An "id": null is replaced in place; an empty object gets one too.
    for written, with_id in [
        (
            '{"id": null, "event_name": "sum_event"}',
            '{"id": "explorer-2", "event_name": "sum_event"}',
        ),
        ("{}", '{"id": "explorer-3"}'),
        (
            ' \n{"event_name": "sum_event", "payload": {"id": null}}',
            ' \n{"id": "explorer-4", "event_name": "sum_event", "payload": {"id": null}}',
        ),
    ]:
        page.fill("#editor", written)
        page.click("#send-raw")
        shown = page.locator("#log .entry.sent").first.locator("pre")
        expect(shown).to_have_text(with_id)
        assert shown.text_content() == with_id
    expect(page.locator("#log .entry.error")).to_have_count(4)
    for entry in page.locator("#log .entry.sent").all():
        expect(entry.locator(".answers .refused")).to_have_count(1)


def test_errors_without_reply_to_answer_the_frames_without_an_id_in_order(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    # All sent before any answer arrives; only the frames the server cannot read an id in
    # get errors without reply_to, one each, in the order sent.
    texts = ["{not json", "[1, 2]", ping("between"), '"text"', '{"event_name": 5, "id": 7}']
    page.evaluate(
        """(texts) => {
            const editor = document.getElementById("editor");
            for (const text of texts) {
                editor.value = typeof text === "string" ? text : JSON.stringify(text);
                document.getElementById(
                    typeof text === "string" ? "send-raw" : "send"
                ).click();
            }
        }""",
        texts,
    )
    errors = page.locator("#log .entry.error")
    expect(errors).to_have_count(4)
    expect(page.locator("#log .entry.received", has_text="pong")).to_have_count(1)
    # Newest first: each error shows the text it answers, and that entry names it.
    shown = [error.locator("pre").first.inner_text() for error in errors.all()]
    assert shown == ['{"event_name": 5, "id": 7}', '"text"', "[1, 2]", "{not json"]
    for entry in page.locator("#log .entry.sent", has_text="(text)").all():
        expect(entry.locator(".answers .refused")).to_have_count(1)
    expect(errors.last).to_contain_text("invalid_json")


def test_a_reply_is_linked_to_the_message_it_answers(open_page: Callable[[], Page]) -> None:
    page = open_page()
    compose(page, "sum_event", PROTOCOL.events["sum_event"].example)
    page.click("#send")
    sent = page.locator("#log .entry.sent")
    expect(sent.locator(".answers")).to_have_text("Answered by sum_handler_result ↑")
    reply = page.locator("#log .entry.received", has_text="sum_handler_result")
    back = reply.get_by_role("button", name="to the message sent ↓")
    back.click()
    expect(sent).to_be_focused()
    sent.locator(".answers button").click()
    expect(reply).to_be_focused()


def test_a_missing_field_marks_the_object_it_is_missing_from(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    compose(page, "sum_event", {"event_name": "sum_event", "payload": {}})
    page.click("#send")
    error = page.locator("#log .entry.error")
    expect(error.locator(".details li")).to_contain_text("$.payload.numbers")
    marked = error.locator(".json .hl-inside")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-path", "$.payload")


def test_invalid_json_is_caught_in_the_page(
    open_page: Callable[[], Page], live_server: LiveServer
) -> None:
    page = open_page()
    compose(page, "sum_event", '{"event_name": "sum_event", "payload": {"numbers": [1,]}}')
    page.click("#send")
    expect(page.locator("#editor-error")).to_be_visible()
    expect(page.locator("#editor-error")).to_contain_text("Not valid JSON, nothing was sent")
    expect(page.locator("#log .entry.sent")).to_have_count(0)
    # Sent anyway, as text: the server's answer, next to the text that was sent. Only one
    # error: the first Send sent nothing.
    page.click("#send-raw")
    error = page.locator("#log .entry.error")
    expect(error).to_contain_text("invalid_json")
    expect(error).to_have_count(1)
    expect(error.locator("pre").first).to_contain_text("[1,]")
    # A valid message clears the complaint.
    compose(page, "sum_event", PROTOCOL.events["sum_event"].example)
    page.click("#send")
    expect(page.locator("#editor-error")).to_be_hidden()


def test_two_tabs_exchange_msg(open_page: Callable[[], Page]) -> None:
    alice, bob = open_page(), open_page()
    bob_id = bob.inner_text("#client-id")
    alice.select_option("#event", "msg")
    alice.fill("#to", bob_id)
    message = json.loads(alice.input_value("#editor"))
    assert message["to"] == bob_id
    message["message"] = "hello bob"
    alice.fill("#editor", json.dumps(message))
    alice.click("#send")
    received = bob.locator("#log .entry.received", has_text="hello bob")
    expect(received).to_contain_text(f"msg from {alice.inner_text('#client-id')}")
    # To others: bob gets it, alice does not.
    alice.fill("#to", "others")
    message = json.loads(alice.input_value("#editor"))
    message["message"] = "hello everyone else"
    alice.fill("#editor", json.dumps(message))
    alice.click("#send")
    expect(bob.locator("#log .entry.received", has_text="hello everyone else")).to_have_count(1)
    expect(alice.locator("#log .entry.sent")).to_have_count(2)
    expect(alice.locator("#log .entry.received", has_text="hello")).to_have_count(0)
    # To no one connected: the server says so to the sender.
    alice.fill("#to", "nobody")
    alice.click("#send")
    expect(alice.locator("#log .entry.error")).to_contain_text("unknown_recipient")


def test_the_log_is_bounded(open_page: Callable[[], Page]) -> None:
    page = open_page()
    page.select_option("#event", "scene_update")
    page.fill("#to", "all")  # every one also comes back: two entries per click
    page.evaluate(
        "(n) => { for (let i = 0; i < n; i++) document.getElementById('send').click(); }", 110
    )
    # All 110 are sent before the first echo arrives: once the last echo is in, the 20 oldest
    # entries, the first 20 sent, are gone.
    newest = page.locator("#log .entry").first
    expect(newest).to_contain_text("scene_update from")
    expect(newest).to_contain_text('"id": "explorer-110"')
    expect(page.locator("#log .entry")).to_have_count(200)
    expect(page.locator("#log .entry.received")).to_have_count(110)
    expect(page.locator("#log .entry.sent")).to_have_count(90)
    expect(page.locator("#log .entry").last).to_contain_text('"id": "explorer-21"')
    page.click("#clear")
    expect(page.locator("#log .entry")).to_have_count(0)


def test_a_large_frame_is_shown_cut_short_as_text(open_page: Callable[[], Page]) -> None:
    page = open_page()
    example = PROTOCOL.events["scene_update"].example
    obj = example["payload"]["objects"][0]
    payload = {**example["payload"], "objects": [{**obj, "id": f"o{i}"} for i in range(1000)]}
    message = {**example, "payload": payload, "to": "all", "id": "big"}
    # The page sends it as JSON.stringify writes it.
    frame = json.dumps(message, separators=(",", ":")).encode()
    assert len(frame) > 128 * 1024
    send_at_once(page, message)
    sent = page.locator("#log .entry.sent")
    expect(sent.locator(".more")).to_have_text(f"\n… {len(frame) - 64 * 1024} more bytes")
    assert len(sent.locator("pre").inner_text().encode()) < 65 * 1024
    echo = page.locator("#log .entry.received", has_text="scene_update from")
    expect(echo.locator(".more")).to_have_text(re.compile(r"^\n… \d+ more bytes$"))
    # Plain text, not a tree of values.
    for entry in (sent, echo):
        expect(entry.locator(".node")).to_have_count(0)


def test_the_policy_blocks_inline_code_and_the_tests_see_it(
    browser: Browser, live_server: LiveServer
) -> None:
    tab = Tab.open(browser, live_server.http + "/")
    try:
        expect(tab.page.locator("#state")).to_have_attribute("data-state", "open")
        tab.page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.injected = true";
                document.body.append(script);
            }"""
        )
        tab.page.wait_for_function("window.__violations.length > 0")
        assert tab.page.evaluate("window.injected") is None
        with pytest.raises(AssertionError, match="script-src"):
            tab.check()
    finally:
        tab.close()


def test_the_page_presents_a_token_from_its_fragment(
    browser: Browser, serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]]
) -> None:
    with serve_app(create_app(token="s3cret")) as server:
        tab = Tab.open(browser, server.http + "/#token=s3cret")
        try:
            expect(tab.page.locator("#state")).to_have_attribute("data-state", "open")
            expect(tab.page.locator("#client-id")).not_to_be_empty()
            tab.check()
        finally:
            tab.close()
        refused = Tab.open(browser, server.http + "/")
        try:  # refused with HTTP 403, which the console reports: not checked
            expect(refused.page.locator("#state")).to_have_attribute("data-state", "closed")
            expect(refused.page.locator("#client-id")).to_be_empty()
        finally:
            refused.close()


@pytest.mark.parametrize("token", ["a/b", "abc=", "a:b@c", "(a)"])
def test_a_token_a_browser_cannot_present_is_named_and_the_events_still_load(
    browser: Browser,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    token: str,
) -> None:
    with serve_app(create_app(token=token)) as server:
        tab = Tab.open(browser, server.http + "/#token=" + quote(token, safe=""))
        try:
            state = tab.page.locator("#state")
            expect(state).to_have_attribute("data-state", "closed")
            expect(state).to_contain_text("the token cannot be sent as a WebSocket subprotocol")
            expect(tab.page.locator("#reconnect")).to_be_enabled()
            expect(tab.page.locator("#events tr")).to_have_count(len(PROTOCOL.events))
            tab.check()
        finally:
            tab.close()


@pytest.mark.parametrize("fragment", ["token=a+b", "token=a%2Bb", "x=1&token=a+b"])
def test_a_plus_in_the_token_stays_a_plus(
    browser: Browser,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    fragment: str,
) -> None:
    with serve_app(create_app(token="a+b")) as server:
        tab = Tab.open(browser, server.http + "/#" + fragment)
        try:
            expect(tab.page.locator("#state")).to_have_attribute("data-state", "open")
            expect(tab.page.locator("#client-id")).not_to_be_empty()
            tab.check()
        finally:
            tab.close()


def test_the_page_tells_when_the_server_is_gone(
    browser: Browser, serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]]
) -> None:
    with serve_app(create_app()) as server:
        tab = Tab.open(browser, server.http + "/")
        expect(tab.page.locator("#state")).to_have_attribute("data-state", "open")
        expect(tab.page.locator("#reconnect")).to_be_disabled()
    try:
        expect(tab.page.locator("#state")).to_have_attribute("data-state", "closed")
        expect(tab.page.locator("#reconnect")).to_be_enabled()
        compose(tab.page, "sum_event", PROTOCOL.events["sum_event"].example)
        tab.page.click("#send")
        expect(tab.page.locator("#editor-error")).to_have_text("Not connected, nothing was sent.")
        tab.check()
    finally:
        tab.close()


def test_without_the_explorer_there_is_no_page(
    browser: Browser, serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]]
) -> None:
    with serve_app(create_app(explorer=False)) as server:
        context = browser.new_context()
        try:
            response = context.new_page().goto(server.http + "/")
            assert response is not None
            assert response.status == 404
        finally:
            context.close()
