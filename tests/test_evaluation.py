"""The evaluation harness: synthetic rows for the mechanics, the shared dev files for the scores."""

import json
import os

import pytest

from connector.evaluation import (
    detect_kind,
    evaluate,
    evaluate_file,
    load_rows,
    main,
    policy_functions,
    report_json,
    report_text,
    signals_decide,
    to_messages,
)
from tests.helpers import SHARED_DATA, shared_data_missing

DATA = SHARED_DATA


def _row(text, **gold):
    return {
        "id": text,
        "source": "synthetic",
        "conversation": [{"role": "user", "text": text}],
        **gold,
    }


ESCALATION_ROWS = [
    _row("agent please", escalate=True, reason="human_request"),
    _row("I want a refund", escalate=True, reason="policy_topic"),
    _row("what time do you open", escalate=False, reason="none"),
    _row("I want to place an order", escalate=True, reason="buying_intent"),
]


def test_kind_is_recognised_from_the_gold_field():
    assert detect_kind(ESCALATION_ROWS) == "escalation"
    assert detect_kind([_row("x", team="billing")]) == "routing"
    assert detect_kind([_row("x", label="Neutral", unit="last_user_message")]) == "sentiment"
    with pytest.raises(ValueError):
        detect_kind([_row("x")])


def test_roles_are_mapped():
    msgs = to_messages([{"role": "user", "text": "hi"}, {"role": "assistant", "text": "hello"}])
    assert [m.role for m in msgs] == ["customer", "bot"]


def test_reference_decision_on_synthetic_rows():
    res = report_json(evaluate(ESCALATION_ROWS))
    assert set(res) == {"escalation"}
    esc = res["escalation"]
    assert (esc["precision"], esc["recall"], esc["f1"]) == (1.0, 1.0, 1.0)
    assert esc["per_reason"]["human_request"]["reason_recall"] == 1.0
    assert esc["confusion"]["none"] == {"none": 1}


def test_decision_functions_are_injectable():
    res = evaluate(ESCALATION_ROWS, escalate_fn=lambda messages: (True, "human_request"))[
        "escalation"
    ]
    assert res["recall"] == 1.0 and res["precision"] == 0.75
    routing = evaluate(
        [_row("a", team="billing"), _row("b", team="fraud")], route_fn=lambda m: "billing"
    )
    assert routing["routing"]["accuracy"] == 0.5
    assert set(routing["routing"]["per_team"]) == {"billing", "fraud"}
    sentiment = evaluate(
        [_row("a", label="Neutral", unit="last_user_message")],
        sentiment_fn=lambda m, unit: "Neutral",
    )
    assert sentiment["sentiment"]["macro_f1"] == 1.0


def test_signals_decide_priority():
    msgs = to_messages([{"role": "user", "text": "I want a refund, let me talk to a person"}])
    assert signals_decide(msgs) == (True, "human_request")
    assert signals_decide(to_messages([{"role": "user", "text": "hello"}])) == (False, "none")


def test_reports_render(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ESCALATION_ROWS) + "\n", encoding="utf-8")
    assert "ESCALATION" in report_text(evaluate_file(path))
    assert main([str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["escalation"]["f1"] == 1.0


def _dev_file(name):
    path = DATA / name
    if not path.exists():
        shared_data_missing(f"{path} is missing")
    return path


# Floors that memorising rows cannot meet. The rules were tuned on the dev files, so their dev
# scores say little about new conversations (issue 16: F1 0.98 on dev, 0.77 on held-out rows);
# their floors sit well below today's dev figures and only catch a rule that breaks outright.
# The learned model is held to its own cross-validation: heads fitted without one fold must
# score on that fold about what cross-validation on the rest predicted.
RULES_FLOORS = {
    "escalation_dev.jsonl": ("escalation", "f1", 0.85),
    "repeated_failure_escalation_dev.jsonl": ("escalation", "f1", 0.70),
    "frustration_escalation_dev.jsonl": ("escalation", "f1", 0.50),
    "routing_dev.jsonl": ("routing", "accuracy", 0.80),
    "sentiment_dev.jsonl": ("sentiment", "macro_f1", 0.50),
}
HUMAN_REQUEST_FLOOR = 0.85
FOLD_TOLERANCE = 0.15  # one fold is ~50 rows: its score alone moves by about 0.1


@pytest.fixture(scope="module")
def settings():  # type: ignore[no-untyped-def]
    from connector.config import load_config

    return load_config(None, env={})


@pytest.fixture(scope="module")
def rules_only(settings):  # type: ignore[no-untyped-def]
    from connector.crossval import _with_model

    return policy_functions(_with_model(settings, None, enabled=False))


@pytest.mark.parametrize("name", sorted(RULES_FLOORS))
def test_rules_alone_stay_above_a_floor(name, rules_only):  # type: ignore[no-untyped-def]
    kind, metric, floor = RULES_FLOORS[name]
    result = report_json(evaluate_file(_dev_file(name), **rules_only))[kind]
    assert result[metric] >= floor, (name, metric, result[metric])
    if name == "escalation_dev.jsonl":
        assert result["per_reason"]["human_request"]["recall"] >= HUMAN_REQUEST_FLOOR


def _model_or_skip():  # type: ignore[no-untyped-def]
    from connector.learned import active_model

    model, why = active_model(None)
    if model is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the learned model is unavailable under CI=true: {why}")
        pytest.skip(f"the learned model is unavailable: {why}")
    return model


@pytest.mark.parametrize(
    "name,kind,metric",
    [
        ("escalation_dev.jsonl", "escalation", "f1"),
        ("frustration_escalation_dev.jsonl", "escalation", "f1"),
        ("routing_dev.jsonl", "routing", "accuracy"),
    ],
)
def test_model_on_a_held_back_fold_scores_what_cross_validation_predicted(  # type: ignore[no-untyped-def]
    name, kind, metric, settings
):
    from connector.crossval import _with_model, assign_folds, cross_validate
    from connector.learned import LearnedModel, register_model
    from connector.learned.heads import Artefact
    from connector.learned.train import fit_heads

    base = _model_or_skip()
    rows = load_rows(_dev_file(name))
    folds = assign_folds(rows, 5)
    rest = [r for r, f in zip(rows, folds, strict=True) if f != 0]
    held = [r for r, f in zip(rows, folds, strict=True) if f == 0]
    predicted = cross_validate(rest, settings, 4)[0][kind][metric]
    heads = {**base.artefact.heads, **fit_heads(rest, base.embedder)}
    register_model(
        "memory:test-held-back", LearnedModel(Artefact(heads, {"version": "m-test"}), base.embedder)
    )
    scored = evaluate(held, **policy_functions(_with_model(settings, "memory:test-held-back")))
    assert abs(scored[kind][metric] - predicted) <= FOLD_TOLERANCE, (
        predicted,
        scored[kind][metric],
    )


def test_evaluate_cross_validates_a_file_the_model_was_trained_on(settings):  # type: ignore[no-untyped-def]
    from connector.crossval import evaluate_honestly

    _model_or_skip()
    result = report_json(evaluate_honestly(load_rows(_dev_file("escalation_dev.jsonl")), settings))
    assert result["validation"].startswith("5-fold cross-validation")
    assert result["versions"]["policy"].startswith("p-")
    assert result["versions"]["model"].startswith("m-")
    esc = result["escalation"]
    assert set(esc["per_source"]) == set(result["rules_only"]["escalation"]["per_source"])
    # the per-rule breakdown: what each rule caught and what it fired on wrongly
    assert esc["per_rule"]["asks_for_person"]["caught"] > 0
    assert {"fired", "caught", "wrongly_fired", "decided", "decided_wrongly"} <= set(
        esc["per_rule"]["asks_for_person"]
    )


def test_evaluate_command_json_shape(tmp_path):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from connector.cli import main as cli

    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ESCALATION_ROWS) + "\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["evaluate", str(path), "--json"])
    assert out.exit_code == 0, out.output
    esc = json.loads(out.output)["escalation"]
    assert {"precision", "recall", "f1", "per_reason"} <= set(esc)
    assert esc["per_reason"]["human_request"]["recall"] == 1.0
    text = CliRunner().invoke(cli, ["evaluate", str(path)])
    assert text.exit_code == 0 and "ESCALATION" in text.output and "gold \\ pred" in text.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversation": []}\n', encoding="utf-8")
    failed = CliRunner().invoke(cli, ["evaluate", str(bad)])
    assert failed.exit_code == 1 and "not a labelled JSONL file" in failed.output


def test_text_report_says_how_the_figures_were_obtained(tmp_path):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from connector.cli import main as cli

    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ESCALATION_ROWS) + "\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["evaluate", str(path)])
    assert out.exit_code == 0, out.output
    assert "VALIDATION" in out.output and "VERSIONS    policy p-" in out.output
    assert "RULES ALONE  escalation" in out.output
    assert "wrongly_fired" in out.output  # the per-rule breakdown
