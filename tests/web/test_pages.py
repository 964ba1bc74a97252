"""The workbench through HTTP: sign-in, CSRF, each role's pages, officer decisions, lodging through the form."""

from __future__ import annotations

import html
import re
import uuid

from sqlalchemy import func, select

from clearway.declarations.models import Declaration
from clearway.demo import sample_declaration
from clearway.web import forms

PASSWORD = "correct-horse-battery"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, user) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "username": user.username, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


def token_for(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def lodge_via_api(client, people, broker, lrn: str, word: str | None = None) -> dict:
    data = sample_declaration(lrn, declarant_eori=sorted(broker.eoris)[0], items=2)
    if word:
        data["goods_items"][0]["description"] += f" {word}"
    response = client.post("/api/v1/declarations", json=data, headers=people.headers(broker))
    assert response.status_code == 201, response.text
    return response.json()


def test_sign_in_sets_an_http_only_cookie_and_lands_on_the_role_home(client, people):
    officer = people.create("customs_officer")
    page = client.get("/login")
    assert "Demo sign-ins" in page.text  # not production
    response = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "username": officer.username, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("clearway_token="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200 and "Work queue" in home.text and "Auto-release rate" in home.text
    logout = client.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert logout.status_code == 303
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"


def test_a_bad_sign_in_says_so(client, people):
    officer = people.create("customs_officer")
    page = client.get("/login")
    response = client.post(
        "/login", data={"csrf_token": csrf_of(page.text), "username": officer.username, "password": "wrong"}
    )
    assert response.status_code == 401
    assert "username or password is not right" in response.text
    assert "clearway_token" not in client.cookies


def test_a_post_without_the_csrf_token_is_refused(client, people):
    broker = people.create("declarant")
    sign_in(client, broker)
    decl = lodge_via_api(client, people, broker, "CSRF-1", "CONTROL-YELLOW")
    response = client.post(f"/declarations/{decl['id']}/cancel", data={"reason": "changed my mind"})
    assert response.status_code == 403 and "security token" in response.text
    wrong = client.post(f"/declarations/{decl['id']}/cancel", data={"reason": "x", "csrf_token": "forged" * 5})
    assert wrong.status_code == 403
    assert client.get(f"/api/v1/declarations/{decl['id']}", headers=people.headers(broker)).json()["status"] == (
        "documentary_check"
    )


def test_pages_render_for_each_role(client, people):
    broker = people.create("declarant")
    lodge_via_api(client, people, broker, "ROLE-G")
    red = lodge_via_api(client, people, broker, "ROLE-R", "CONTROL-RED")
    for role, expected in [
        ("customs_officer", "Work queue"),
        ("risk_analyst", "Overview"),
        ("administrator", "Per office"),
    ]:
        client.cookies.clear()
        sign_in(client, people.create(role))
        home = client.get("/")
        assert home.status_code == 200 and expected in home.text
        assert "ROLE-R" in home.text  # the red one is in the queue
        listing = client.get("/declarations?channel=red")
        assert "ROLE-R" in listing.text and "ROLE-G" not in listing.text
        detail = client.get(f"/declarations/{red['id']}")
        assert "Physical inspection" in detail.text and "test trigger word CONTROL-RED" in detail.text
    client.cookies.clear()
    sign_in(client, broker)
    home = client.get("/")
    assert "Lodge a declaration" in home.text and "Action required" in home.text
    own_red = client.get(f"/declarations/{red['id']}").text
    assert "Physical inspection" in own_red and "CONTROL-RED in goods item" not in own_red  # targeting stays secret
    assert client.get("/notifications").text.count("ROLE-") >= 1
    public = client.get("/kpi")
    assert public.status_code == 200 and "Published release figures" in public.text
    for chart in ("flow", "status", "channel", "release-times"):
        svg = client.get(f"/charts/{chart}.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert b'role="img"' in svg.content


def test_officer_records_a_result_and_releases_through_the_forms(client, people):
    broker = people.create("declarant")
    decl = lodge_via_api(client, people, broker, "OFF-1", "CONTROL-RED")
    sign_in(client, people.create("customs_officer"))
    url = f"/declarations/{decl['id']}"
    token = token_for(client, url)
    early = client.post(f"{url}/decision", data={"csrf_token": token, "decision": "release"})
    assert early.status_code == 409 and "record the physical inspection result before releasing" in early.text
    missing = client.post(f"{url}/decision", data={"csrf_token": token, "decision": "refuse"})
    assert missing.status_code == 422 and "needs a reason" in missing.text
    recorded = client.post(
        f"{url}/decision",
        data={
            "csrf_token": token,
            "decision": "record_control_result",
            "outcome": "discrepancy",
            "findings": "Item 1 is knitted, not woven",
            "corrected_hs_codes": "1 610910",
            "additional_revenue": "120.50",
            "revenue_currency": "USD",
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    page = client.get(recorded.headers["location"])
    assert "Control result recorded" in page.text and "Item 1 is knitted" in page.text
    assert "item 1 → <code>610910</code>" in page.text  # the recorded code, in the control results' table
    released = client.post(f"{url}/decision", data={"csrf_token": token, "decision": "release"})
    assert released.status_code == 200 and "Goods released" in released.text
    api = client.get(f"/api/v1/declarations/{decl['id']}", headers=people.headers(broker)).json()
    assert api["status"] == "released"


def test_officer_requests_documents_and_the_declarant_is_told_which(client, people):
    broker = people.create("declarant")
    decl = lodge_via_api(client, people, broker, "DOC-1", "CONTROL-YELLOW")
    sign_in(client, people.create("customs_officer"))
    url = f"/declarations/{decl['id']}"
    response = client.post(
        f"{url}/decision",
        data={
            "csrf_token": token_for(client, url),
            "decision": "request_documents",
            "document_codes": ["N954", "N380"],
            "other_documents": "N002 Marketing standard certificate",
        },
    )
    assert response.status_code == 200 and "Documents requested" in response.text
    client.cookies.clear()
    sign_in(client, broker)
    page = client.get(url)
    assert "Action required: provide these documents" in page.text
    assert "N954" in page.text and "EUR.1 movement certificate" in page.text and "N002" in page.text
    assert f"{url}/amend" in page.text
    amend_page = client.get(f"{url}/amend")
    assert "Customs asked for these documents" in amend_page.text


def test_a_declarant_sees_only_their_own_declarations(client, people):
    mine, theirs = people.create("declarant"), people.create("declarant")
    own = lodge_via_api(client, people, mine, "MINE-1")
    other = lodge_via_api(client, people, theirs, "THEIRS-1")
    sign_in(client, mine)
    assert client.get(f"/declarations/{own['id']}").status_code == 200
    assert client.get(f"/declarations/{other['id']}").status_code == 404
    listing = client.get("/declarations").text
    assert "MINE-1" in listing and "THEIRS-1" not in listing


def _form_values(broker, lrn: str) -> dict[str, str]:
    values, _ = forms.flatten(sample_declaration(lrn, declarant_eori=sorted(broker.eoris)[0], items=2))
    return values


def _count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Declaration))


def test_lodging_with_errors_shows_them_by_their_fields_and_stores_nothing(client, people, database):
    broker = people.create("declarant")
    sign_in(client, broker)
    page = client.get("/declarations/new")
    values = _form_values(broker, "BAD-1")
    values["goods_items[0].hs_code"] = "999999"
    values["goods_items[1].gross_mass_kg"] = "0.5"
    values["goods_items[1].net_mass_kg"] = "2"
    values["invoice.currency"] = "XXQ"
    response = client.post("/declarations/new", data={**values, "csrf_token": csrf_of(page.text)})
    assert response.status_code == 422
    assert re.search(r'id="e-goods_items\[0\]\.hs_code">unknown HS code 999999', response.text)
    assert re.search(r'id="e-invoice\.currency">.XXQ. is not an ISO 4217 currency code', html.unescape(response.text))
    assert "gross mass 0.5 kg is below net mass 2 kg" in response.text
    assert 'value="BAD-1"' in response.text  # what was typed is kept
    assert _count(database) == 0


def test_a_resubmitted_form_lodges_once(client, people, database):
    broker = people.create("declarant")
    sign_in(client, broker)
    page = client.get("/declarations/new")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    data = {**_form_values(broker, "ONCE-1"), "csrf_token": csrf_of(page.text), "idempotency_key": key}
    first = client.post("/declarations/new", data=data, follow_redirects=False)
    again = client.post("/declarations/new", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert _count(database) == 1
    detail = client.get(first.headers["location"])
    assert "Declaration lodged" in detail.text and "ONCE-1" in detail.text


def test_an_expired_session_keeps_the_form_and_comes_back(client, people, database, settings):
    broker = people.create("declarant")
    sign_in(client, broker)
    page = client.get("/declarations/new")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    data = {**_form_values(broker, "LATE-1"), "csrf_token": csrf_of(page.text), "idempotency_key": key}
    client.cookies.delete("clearway_token")  # the session ended while the form was open
    response = client.post("/declarations/new", data=data)
    assert response.status_code == 401 and "Sign in" in response.text and "is kept" in response.text
    resume = re.search(r'name="resume" value="([^"]+)"', response.text).group(1)
    assert _count(database) == 0
    login = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(response.text),
            "username": broker.username,
            "password": PASSWORD,
            "next": "/declarations/new",
            "resume": html.unescape(resume),
        },
    )
    assert login.status_code == 200 and "Send it now" in login.text and 'value="LATE-1"' in login.text
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', login.text)
    sent = client.post("/declarations/new", data={k: html.unescape(v) for k, v in fields}, follow_redirects=False)
    assert sent.status_code == 303 and _count(database) == 1


def test_declarant_cancels_with_a_reason(client, people):
    broker = people.create("declarant")
    decl = lodge_via_api(client, people, broker, "CAN-1", "CONTROL-YELLOW")
    sign_in(client, broker)
    url = f"/declarations/{decl['id']}"
    token = token_for(client, url)
    assert client.post(f"{url}/cancel", data={"csrf_token": token, "reason": " "}).status_code == 422
    done = client.post(f"{url}/cancel", data={"csrf_token": token, "reason": "order cancelled"})
    assert done.status_code == 200 and "Declaration withdrawn" in done.text


def test_an_expired_token_on_a_page_sends_to_sign_in_and_back(client, people, settings):
    from clearway.auth.security import create_access_token

    broker = people.create("declarant")
    old = create_access_token(subject=str(broker.id), role=broker.role, secret=settings.secret_key, minutes=-1)
    client.cookies.set("clearway_token", old)
    response = client.get("/declarations?status=released", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdeclarations%3Fstatus%3Dreleased&expired=1"
    assert "Your session has ended" in client.get(response.headers["location"]).text


def test_declarant_provides_requested_documents_by_amending_through_the_form(client, people):
    broker = people.create("declarant")
    decl = lodge_via_api(client, people, broker, "AMD-1", "CONTROL-YELLOW")
    officer = people.create("customs_officer")
    request = {"decision": "request_documents", "documents": [{"code": "N954", "description": "EUR.1"}]}
    assert client.post(
        f"/api/v1/declarations/{decl['id']}/decisions", json=request, headers=people.headers(officer)
    ).status_code in (200, 201)
    sign_in(client, broker)
    url = f"/declarations/{decl['id']}/amend"
    page = client.get(url)
    assert 'value="AMD-1"' in page.text and 'name="base_version" value="1"' in page.text
    values = {
        k: html.unescape(v)
        for k, v in re.findall(r'<input id="f-[^"]+" name="([^"]+)" value="([^"]*)"', page.text)
        if not k.startswith("goods_items[2]")
    }
    for name, text in re.findall(r'<textarea id="f-[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', page.text):
        values[name] = html.unescape(text)
    for name in re.findall(r'<select id="f-[^"]+" name="([^"]+)"', page.text):
        pattern = rf'name="{re.escape(name)}"[^>]*>(?:(?!</select>).)*?<option value="([^"]*)" selected'
        chosen = re.search(pattern, page.text, re.S)
        values[name] = chosen.group(1) if chosen else ""
    values["goods_items[0].documents"] += "\nN954 EUR1-2026-77"
    form = {**values, "csrf_token": csrf_of(page.text), "base_version": "1", "amend_reason": "EUR.1 attached"}
    missing_reason = client.post(url, data={**form, "amend_reason": ""})
    assert missing_reason.status_code == 422 and "say what the amendment changes" in missing_reason.text
    first = client.post(url, data=form, follow_redirects=False)
    assert first.status_code == 303, first.text[:3000]
    again = client.post(url, data=form, follow_redirects=False)  # the same form sent twice: one new version
    assert again.status_code == 303
    body = client.get(f"/api/v1/declarations/{decl['id']}", headers=people.headers(broker)).json()
    assert body["version"] == 2 and body["status"] == "documentary_check"
    assert {"code": "N954", "reference": "EUR1-2026-77"} in body["document"]["goods_items"][0]["documents"]
    detail = client.get(f"/declarations/{decl['id']}")
    assert "Amendment recorded" not in detail.text and "EUR1-2026-77" in detail.text and "Versions" in detail.text


def test_officer_queue_filters_by_office_and_declarants_do_not_see_targeting(client, people):
    broker = people.create("declarant")
    red = lodge_via_api(client, people, broker, "Q-1", "CONTROL-RED")
    sign_in(client, people.create("customs_officer"))
    office = red["office_of_lodgement"]
    other = next(o for o in ("USNYC001", "USLAX001", "USJFK001") if o != office)
    assert "Q-1" in client.get(f"/?office={office}").text
    assert "Q-1" not in client.get(f"/?office={other}").text
    client.cookies.clear()
    sign_in(client, broker)
    page = client.get(f"/declarations/{red['id']}")
    assert "Risk assessment" in page.text and "CONTROL-RED in goods item" not in page.text
    assert "Present the goods" in page.text or "present the goods" in page.text


def test_list_searches_by_lrn_or_mrn_and_pages(client, people, monkeypatch):
    from clearway.web import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    broker = people.create("declarant")
    lodged = [lodge_via_api(client, people, broker, f"PG-{n}") for n in range(3)]
    sign_in(client, broker)
    by_mrn = client.get(f"/declarations?q={lodged[1]['mrn']}").text
    assert "PG-1" in by_mrn and "PG-0" not in by_mrn
    assert "PG-2" in client.get("/declarations?q=PG-2").text
    first = client.get("/declarations")
    assert "PG-2" in first.text and "PG-1" in first.text and "PG-0" not in first.text
    older = re.search(r'href="(/declarations\?cursor=[^"]+)"', first.text).group(1)
    second = client.get(html.unescape(older))
    assert "PG-0" in second.text and "PG-2" not in second.text


def test_what_traders_type_is_shown_as_text_never_as_markup(client, people):
    broker = people.create("declarant")
    decl = lodge_via_api(client, people, broker, "XSS-1", '<script>alert("x")</script>')
    sign_in(client, people.create("customs_officer"))
    page = client.get(f"/declarations/{decl['id']}")
    assert '<script>alert("x")</script>' not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    home = client.get("/")
    assert "Control results" in home.text and "Found something" in home.text


def test_repeated_failed_sign_ins_have_to_wait(client, people):
    officer = people.create("customs_officer", username=f"slow-{uuid.uuid4().hex[:8]}")
    token = csrf_of(client.get("/login").text)
    codes = [
        client.post("/login", data={"csrf_token": token, "username": officer.username, "password": "no"}).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    blocked = client.post("/login", data={"csrf_token": token, "username": officer.username, "password": PASSWORD})
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text


def test_a_browser_gets_a_page_for_an_unknown_address_and_the_api_a_problem(client):
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "Page not found" in page.text and "text/html" in page.headers["content-type"]
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
