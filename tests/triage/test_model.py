"""Training, versioning and the saved artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.triage.model import (
    CODE_VERSION,
    HeadConfigs,
    TrainingExample,
    TriageModelError,
    data_version,
    load_model,
    load_written_examples,
    read_examples_jsonl,
    train_from_examples,
    validate_examples,
    written_training_files,
)

CATEGORIES = ["how_to", "billing"]
AREAS = ["dashboard", "billing"]


def small_set() -> list[TrainingExample]:
    return [
        TrainingExample("How do I export calls?", "request", "how_to", "dashboard"),
        TrainingExample("Where is the analytics report?", "request", "how_to", "dashboard"),
        TrainingExample("How can I print a transcript?", "request", "how_to", "dashboard"),
        TrainingExample("Our invoice is wrong, please correct it.", "request", "billing", "billing"),
        TrainingExample("We were charged twice this month.", "request", "billing", "billing"),
        TrainingExample("Please update the card on file.", "request", "billing", "billing"),
        TrainingExample("Thanks!", "thanks"),
        TrainingExample("Thank you so much.", "thanks"),
        TrainingExample("Hope you are well.", "context"),
        TrainingExample("We are a small store.", "context"),
        TrainingExample("Any update?", "chaser"),
        TrainingExample("Still waiting on this.", "chaser"),
        TrainingExample("Here are the numbers: 1, 2, 3.", "info"),
        TrainingExample("Tuesday at 10 works.", "info"),
    ]


def test_same_data_same_version_and_different_data_different_version() -> None:
    examples = small_set()
    heads = HeadConfigs()
    first = data_version(examples, heads, "w")
    assert data_version(list(reversed(examples)), heads, "w") == first  # order does not matter
    assert first.startswith(f"{CODE_VERSION}-")
    changed = [*examples[:-1], TrainingExample("Wednesday at 10 works.", "info")]
    assert data_version(changed, heads, "w") != first
    relabelled = [TrainingExample(e.text, e.role, "how_to" if e.category == "billing" else e.category,
                                  e.product_area) for e in examples]
    assert data_version(relabelled, heads, "w") != first
    assert data_version(examples, heads, "other-weights") != first


def test_train_save_load_round_trip(tmp_path: Path) -> None:
    info = train_from_examples(small_set(), tmp_path / "model", include_written=False)
    assert (tmp_path / "model" / "model.pkl").exists()
    stored = json.loads((tmp_path / "model" / "model.json").read_text())
    assert stored["version"] == info.version and stored["requests"] == 6
    model = load_model(tmp_path / "model")
    assert model.version == info.version
    prediction = model.predict("category", ["We got charged twice on the card"])
    assert prediction.labels[int(prediction.proba[0].argmax())] == "billing"


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    train_from_examples(small_set(), tmp_path, include_written=False)
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(artifact.read_bytes() + b"x")
    with pytest.raises(TriageModelError, match="does not match"):
        load_model(tmp_path)


def test_an_artifact_this_code_cannot_unpickle_is_refused(tmp_path: Path) -> None:
    # What `python -m backend.triage.model build` used to write: classes pickled as `__main__.*`.
    import hashlib
    import pickle

    train_from_examples(small_set(), tmp_path, include_written=False)
    payload = pickle.dumps(object()).replace(b"builtins", b"__main__").replace(b"object", b"TriageModel")
    (tmp_path / "model.pkl").write_bytes(payload)
    info = json.loads((tmp_path / "model.json").read_text())
    info["sha256"] = hashlib.sha256(payload).hexdigest()
    (tmp_path / "model.json").write_text(json.dumps(info))
    with pytest.raises(TriageModelError, match="cannot be loaded"):
        load_model(tmp_path)


def test_the_build_command_writes_an_artifact_other_processes_load(tmp_path: Path) -> None:
    import subprocess
    import sys

    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(json.dumps({"text": e.text, "role": e.role, "category": e.category,
                                            "product_area": e.product_area}) for e in small_set()))
    subprocess.run([sys.executable, "-m", "backend.triage.model", "train", str(tmp_path / "out"), str(small)],
                   check=True, capture_output=True)
    assert load_model(tmp_path / "out").predict("category", ["Our invoice is wrong"]).labels


def test_labels_outside_the_policy_are_rejected() -> None:
    bad = [*small_set(), TrainingExample("Pam is broken", "request", "complaint", "dashboard")]
    with pytest.raises(TriageModelError, match="not in the policy"):
        validate_examples(bad, CATEGORIES, AREAS)
    with pytest.raises(TriageModelError, match="unknown role"):
        validate_examples([TrainingExample("hello", "greeting")], CATEGORIES, AREAS)


def test_written_training_files_are_valid_and_cover_the_policy() -> None:
    from backend.policy.model import load_policy

    policy = load_policy()
    examples = load_written_examples(include_dev=False)
    validate_examples(examples, policy.category_names, policy.product_area_names)
    requests = [e for e in examples if e.role == "request"]
    assert len(requests) >= 500
    assert {e.category for e in requests} == set(policy.category_names)
    assert {e.product_area for e in requests} == set(policy.product_area_names)
    assert {e.role for e in examples} == {"request", "context", "chaser", "info", "thanks"}
    assert not [p for p in written_training_files(include_dev=False) if p.name.startswith("dev_")]


def test_bad_jsonl_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "ok", "role": "thanks"}\n{not json}\n')
    with pytest.raises(TriageModelError, match=r"x.jsonl:2"):
        read_examples_jsonl(path)


def test_an_artifact_named_in_the_environment_replaces_the_shipped_model(tmp_path: Path, monkeypatch) -> None:
    import backend.triage.model as model_module

    info = train_from_examples(small_set(), tmp_path, include_written=False)
    monkeypatch.setenv("TIER0_TRIAGE_MODEL", str(tmp_path))
    monkeypatch.setattr(model_module, "_default_model", None)
    assert model_module.default_model().version == info.version
    monkeypatch.setattr(model_module, "_default_model", None)  # do not leak the small model
