"""Suggestions through the service and the HTTP API, and the misclassification check for risk."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from clearway.auth.deps import get_current_user
from clearway.classification import service, views
from clearway.errors import ClearwayError, InvalidInput


def test_suggest_gives_nomenclature_texts_and_reasons(use_small_model):
    result = service.suggest(description="mens cotton tshirt", limit=3)
    assert result.model_version == "test"
    best = result.suggestions[0]
    assert best.hs_code == "610910"
    assert best.chapter.code == "61" and "knitted" in best.chapter.description.lower()
    assert best.heading.code == "6109" and "T-shirts" in best.heading.description
    assert best.subheading.code == "610910" and "cotton" in best.subheading.description.lower()
    assert best.why
    assert len(result.suggestions) == 3


@pytest.mark.parametrize(
    ("description", "limit", "field"),
    [
        ("", 5, "description"),
        ("   ", 5, "description"),
        ("x" * 501, 5, "description"),
        ("dog food", 0, "limit"),
        ("dog food", 11, "limit"),
    ],
)
def test_suggest_rejects_bad_input(use_small_model, description, limit, field):
    with pytest.raises(InvalidInput) as caught:
        service.suggest(description=description, limit=limit)
    assert caught.value.errors[0]["field"] == field


def test_declared_code_far_from_description_is_flagged(small_model):
    check = service.check_declared_code("soldering iron station", "9503.00.00", model=small_model, min_confidence=0.0)
    assert check is not None
    assert check.declared_code == "950300"
    assert check.suggested_codes[0] == "851511"
    assert "8515.11" in check.message and "9503.00" in check.message
    assert 0.0 <= check.confidence <= 1.0


def test_declared_code_close_to_description_is_not_flagged(small_model):
    check = service.check_declared_code("soldering iron station", "851511", model=small_model, min_confidence=0.0)
    assert check is None
    # Same chapter, other heading: not "far".
    assert (
        service.check_declared_code("soldering iron station", "8516.10", model=small_model, min_confidence=0.0) is None
    )


def test_check_is_silent_on_unreadable_input_or_low_confidence(small_model):
    assert service.check_declared_code("soldering iron", "95", model=small_model) is None
    assert service.check_declared_code("", "950300", model=small_model) is None
    assert service.check_declared_code("soldering iron", "950300", model=small_model, min_confidence=1.01) is None


@pytest.fixture
def client(use_small_model):
    app = FastAPI()
    app.include_router(views.router)
    app.dependency_overrides[get_current_user] = lambda: object()

    @app.exception_handler(ClearwayError)
    async def _problem(request, exc: ClearwayError):  # the lead's app maps these the same way
        from fastapi.responses import JSONResponse

        return JSONResponse(exc.problem(), status_code=exc.status)

    return TestClient(app)


def test_api_suggest(client):
    response = client.post("/api/v1/classification/suggest", json={"description": "mens cotton tshirt", "limit": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "mens cotton tshirt"
    assert body["model_version"] == "test"
    assert len(body["suggestions"]) == 2
    first = body["suggestions"][0]
    assert first["hs_code"] == "610910"
    assert set(first) == {"hs_code", "confidence", "chapter", "heading", "subheading", "why"}
    assert first["heading"] == {"code": "6109", "description": first["heading"]["description"]}
    assert first["why"] and isinstance(first["why"][0], str)


def test_api_default_limit_is_five(client):
    response = client.post("/api/v1/classification/suggest", json={"description": "dog food"})
    assert response.status_code == 200
    assert len(response.json()["suggestions"]) == 5


@pytest.mark.parametrize(
    "body", [{"description": ""}, {"description": "x" * 501}, {"description": "a", "limit": 11}, {"limit": 3}]
)
def test_api_rejects_invalid_bodies(client, body):
    assert client.post("/api/v1/classification/suggest", json=body).status_code == 422


def test_api_requires_a_user(use_small_model):
    app = FastAPI()
    app.include_router(views.router)
    from clearway.errors import Unauthenticated

    def no_user():
        raise Unauthenticated("no token")

    app.dependency_overrides[get_current_user] = no_user

    @app.exception_handler(ClearwayError)
    async def _problem(request, exc: ClearwayError):
        from fastapi.responses import JSONResponse

        return JSONResponse(exc.problem(), status_code=exc.status)

    response = TestClient(app).post("/api/v1/classification/suggest", json={"description": "dog food"})
    assert response.status_code == 401


def test_warm_up_loads_the_model_and_never_raises(use_small_model, monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(use_small_model, "rank", lambda texts, limit: calls.append(texts) or [["230910"]])
    service.warm_up_classifier()
    assert calls == [["warm-up"]]

    def broken():
        raise OSError("model directory unreadable")

    monkeypatch.setattr(service, "get_model", broken)
    service.warm_up_classifier()
    assert "could not be warmed up" in caplog.text


def test_confidence_of_the_check_is_the_suggested_chapters_not_one_subheadings(small_model):
    # Sibling subheadings of one chapter share the model's confidence ("live horses": breeding or other horses); the
    # check asks about the chapter, so it adds them up and speaks even when no single subheading is sure enough.
    suggestions = small_model.suggest("live horses", limit=5)
    chapter = sum(s.confidence for s in suggestions if s.hs_code[:2] == "01")
    assert suggestions[0].hs_code[:2] == "01" and suggestions[0].confidence < 0.8 <= chapter
    check = service.check_declared_code("live horses", "950300", model=small_model, min_confidence=0.8)
    assert check is not None and check.confidence == round(chapter, 4)
    assert f"{chapter:.0%} for chapter 01" in check.message
