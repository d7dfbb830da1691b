"""The learned signal: pinned model files, training, artefacts, and how it joins a decision.

The embedder is the real one (the [ml] extra that `make test` installs); under CI=true a missing
extra fails instead of skipping. "Rules alone" runs in a real child process in which the extra's
imports fail, so both installs are exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.config import load_config
from connector.policy import DecisionInput, decide
from connector.schemas import BotContext, ConversationRef, Customer, Message


def _embedder():  # type: ignore[no-untyped-def]
    from connector.learned.embed import EmbedderUnavailable, load_embedder

    try:
        return load_embedder()
    except (EmbedderUnavailable, ImportError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the [ml] extra is missing under CI=true: {exc}")
        pytest.skip(f"the [ml] extra is missing: {exc}")


def said(*texts: str) -> DecisionInput:
    messages = [Message(id=f"m{i}", role="customer", text=t) for i, t in enumerate(texts)]
    return DecisionInput(
        "conversation.updated",
        ConversationRef(id="c"),
        Customer(),
        BotContext(),
        messages,
        messages,
    )


def test_a_model_file_with_other_bytes_is_refused(tmp_path: Path) -> None:
    from connector.learned.embed import EmbedderUnavailable, _verified

    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(EmbedderUnavailable, match="is not the pinned"):
        _verified(fake, "0" * 64)
    with pytest.raises(EmbedderUnavailable, match="is missing"):
        _verified(tmp_path / "absent.onnx", "0" * 64)


def test_vectors_are_unit_length_and_cached() -> None:
    embedder = _embedder()
    vectors = embedder.embed(["I want to talk to a person", "what are your opening hours"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-3
    again = embedder.embed(["I want to talk to a person"])
    assert (again[0] == vectors[0]).all()


# Synthetic labelled rows: made-up phrasings, enough for a head to separate two classes.
PERSON = ["please get me a human", "I need a real person now", "put a person on the line",
          "a human being please", "let me reach a staff member", "I demand a human operator"]  # fmt: skip
NONE = ["what time do you open", "where is the nearest branch", "how do I change my address",
        "what is the weather like", "do you sell gift cards", "is parking free on sundays"]  # fmt: skip


def _rows(path: Path) -> Path:
    rows = [
        {"id": f"p{i}", "source": "synthetic", "escalate": True, "reason": "human_request",
         "conversation": [{"role": "user", "text": t}]}
        for i, t in enumerate(PERSON)
    ] + [
        {"id": f"n{i}", "source": "synthetic", "escalate": False, "reason": "none",
         "conversation": [{"role": "user", "text": t}]}
        for i, t in enumerate(NONE)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_train_command_writes_a_versioned_artefact(tmp_path: Path) -> None:
    from connector.cli import main as cli
    from connector.learned.heads import load_artefact

    _embedder()
    rows = _rows(tmp_path / "rows.jsonl")
    out = tmp_path / "heads.npz"
    result = CliRunner().invoke(cli, ["train", str(rows), "--out", str(out)])
    assert result.exit_code == 0, result.output
    artefact = load_artefact(out)
    assert result.output.startswith(f"wrote {out}: model {artefact.version}")
    assert artefact.meta["files"][0]["rows"] == 12
    assert artefact.meta["licenses"] == ["?"] and artefact.meta["sources"] == {"synthetic": 12}
    # the same rows give the same weights, hence the same version
    again = CliRunner().invoke(cli, ["train", str(rows), "--out", str(tmp_path / "again.npz")])
    assert load_artefact(tmp_path / "again.npz").version == artefact.version, again.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "escalate": true, "conversation": []}\n', encoding="utf-8")
    failed = CliRunner().invoke(cli, ["train", str(bad), "--out", str(tmp_path / "no.npz")])
    assert failed.exit_code == 1 and failed.output.startswith("error: cannot train:")


def test_a_model_reason_names_version_score_and_threshold(tmp_path: Path) -> None:
    from connector.learned import forget_models
    from connector.learned.train import train_to

    _embedder()
    out = tmp_path / "heads.npz"
    artefact = train_to([_rows(tmp_path / "rows.jsonl")], out)
    settings = load_config(None, env={}).policy
    model = settings.model.model_copy(
        update={"artefact": str(out), "thresholds": {"human_request": 0.5}}
    )
    policy = settings.model_copy(update={"model": model})
    # no built-in pattern matches this wording; the heads learned it from the rows above
    decision = decide(said("could a staff member take over please"), policy)
    forget_models()
    assert decision.escalate and decision.rule == "model_human_request", decision
    reason = decision.reasons[0]
    assert reason.trigger == "model" and artefact.version in reason.detail
    assert "threshold 0.50" in reason.detail and "extends rule asks_for_person" in reason.detail
    assert decision.priority == "high"  # the then of the rule it extends


def test_the_model_stays_silent_when_a_rule_decided() -> None:
    _embedder()
    decision = decide(said("I want a refund"), load_config(None, env={}).policy)
    assert decision.rule == "policy_keywords"
    assert all(r.trigger != "model" for r in decision.reasons)


def test_an_unloadable_artefact_leaves_the_rules_alone(tmp_path: Path) -> None:
    settings = load_config(None, env={}).policy
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"nope")
    model = settings.model.model_copy(update={"artefact": str(broken)})
    decision = decide(said("agent please"), settings.model_copy(update={"model": model}))
    assert decision.rule == "asks_for_person"
    assert "learned model unavailable" in decision.learned[0].detail


_WITHOUT_ML = """
import sys
for name in ("onnxruntime", "tokenizers", "numpy"):
    sys.modules[name] = None  # what an install without the [ml] extra looks like to imports
from connector.config import load_config
from connector.policy import DecisionInput, decide
from connector.schemas import BotContext, ConversationRef, Customer, Message
msgs = [Message(id="1", role="customer", text=sys.argv[1])]
given = DecisionInput("conversation.updated", ConversationRef(id="c"), Customer(), BotContext(), msgs, msgs)
d = decide(given, load_config(None, env={}).policy)
print(d.rule, "|", d.learned[0].detail if d.learned else "")
"""


@pytest.mark.parametrize(
    "text,rule", [("agent please", "asks_for_person"), ("what time do you open", "None")]
)
def test_rules_work_alone_without_the_ml_extra(text: str, rule: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_ML, text], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    decided, note = done.stdout.strip().split(" | ")
    assert decided == rule
    assert "learned model unavailable" in note and "rules alone" in note


def test_sentiment_keeps_the_rules_label_unless_the_model_is_sure() -> None:
    from connector.learned.advice import learned_sentiment

    _embedder()
    model = load_config(None, env={}).policy.model
    msgs = said("ok").messages
    # the rules' Frustrated is never overruled; a disabled model changes nothing
    assert learned_sentiment(msgs, model, "Frustrated") == ("Frustrated", None)
    off = model.model_copy(update={"enabled": False})
    assert learned_sentiment(msgs, off, "Neutral") == ("Neutral", None)
    # a threshold above 1 can never be reached
    never = model.model_copy(update={"sentiment_threshold": 1.0})
    label, cue = learned_sentiment(
        said("you people are the worst, honestly").messages, never, "Neutral"
    )
    assert (label, cue) == ("Neutral", None)
