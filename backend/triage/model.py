"""The local triage model: three text classifiers trained from labelled examples, saved as a
versioned artifact.

Heads (all `backend.triage.features.TextClassifier`):

* **role**: what a piece of an email is: `request` (asks for something or reports a problem),
  `context` (background, detail, greetings, intros), `chaser` ("any update?", "still
  happening"), `info` (supplies what support asked for, confirms a time) or `thanks`
  (gratitude, confirms a fix). Segmentation reads it.
* **category**: the policy's 11 categories, trained on request texts only.
* **product_area**: the policy's 9 product areas, trained on request texts only.

Training data are `TrainingExample`s: the JSONL files under `backend/triage/training/`
(written for this project), labelled mailboxes in the dev `labels.jsonl` format
(`backend.triage.labelled`), and corrections from the database. A model's version is
`<CODE_VERSION>-<hash>` where the hash covers every example, the head configuration and the
embedding weights: the same data gives the same version, any change gives a new one.

The shipped default model is trained on first use from the training files and cached (see
`default_model`); `python -m backend.triage.model build` builds it ahead of time.

Failures are ours: unknown labels in training data, an artifact that does not match its
metadata, or a missing embedding model raise `TriageModelError`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from backend.triage.embeddings import SentenceEncoder, shared_encoder
from backend.triage.features import TextClassifier, TextClassifierConfig

# Bump when anything that changes a trained model's behaviour changes in code (features,
# heads, preprocessing), so a cached artifact from older code is never reused.
CODE_VERSION = "t3"
ROLES = ("request", "context", "chaser", "info", "thanks")
TRAINING_DIR = Path(__file__).resolve().parent / "training"
ARTIFACT_FILE = "model.pkl"
INFO_FILE = "model.json"


class TriageModelError(Exception):
    """Our failure: bad training data or an unusable artifact."""


@dataclass(frozen=True)
class TrainingExample:
    text: str
    role: str = "request"
    category: str | None = None  # required for role "request"
    product_area: str | None = None  # required for role "request"
    integration: str | None = None
    source: str = ""  # where it came from, e.g. "written/how_to.jsonl", "dev/0012.eml", "correction/42"

    def key(self) -> str:
        return json.dumps([self.text, self.role, self.category, self.product_area, self.integration,
                           self.source.split("/")[0]], ensure_ascii=False)


@dataclass(frozen=True)
class ModelInfo:
    version: str
    path: str
    examples: int
    requests: int
    by_category: dict[str, int]
    by_product_area: dict[str, int]
    by_role: dict[str, int]
    sources: dict[str, int]
    train_seconds: float
    embedding_model: str
    code_version: str = CODE_VERSION


@dataclass(frozen=True)
class HeadConfigs:
    role: TextClassifierConfig = field(default_factory=lambda: TextClassifierConfig(c=4.0))
    category: TextClassifierConfig = field(default_factory=lambda: TextClassifierConfig(c=8.0))
    product_area: TextClassifierConfig = field(default_factory=lambda: TextClassifierConfig(c=8.0))
    # Sample weight per example source (the part of `source` before "/"): labelled mail from the
    # support inbox ("dev", "correction") is the real distribution, so it counts more than a
    # written example. Sources not listed weigh 1.
    source_weights: tuple[tuple[str, float], ...] = (("dev", 3.0), ("correction", 3.0))

    def weight(self, source: str) -> float:
        return dict(self.source_weights).get(source.split("/")[0], 1.0)


# --- reading and checking examples -------------------------------------------------------


def read_examples_jsonl(path: Path, *, source: str | None = None) -> list[TrainingExample]:
    """Examples from a JSONL file: {"text", "role"?, "category"?, "product_area"?, "integration"?}."""
    examples: list[TrainingExample] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(TrainingExample(
                text=str(row["text"]),
                role=str(row.get("role") or "request"),
                category=row.get("category"),
                product_area=row.get("product_area"),
                integration=row.get("integration"),
                source=str(row.get("source") or source or f"{path.parent.name}/{path.name}"),
            ))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise TriageModelError(f"{path}:{number}: bad training example ({error})") from error
    return examples


def written_training_files(directory: Path = TRAINING_DIR, *, include_dev: bool = True) -> list[Path]:
    """The training JSONL files in the repo. Files named `dev_*.jsonl` hold examples derived
    from the dev mailbox; `include_dev=False` leaves them out (for honest dev evaluation)."""
    files = sorted(directory.glob("*.jsonl"))
    return [path for path in files if include_dev or not path.name.startswith("dev_")]


def load_written_examples(directory: Path = TRAINING_DIR, *, include_dev: bool = True) -> list[TrainingExample]:
    examples: list[TrainingExample] = []
    for path in written_training_files(directory, include_dev=include_dev):
        examples.extend(read_examples_jsonl(path))
    return examples


def validate_examples(examples: Sequence[TrainingExample], categories: Sequence[str],
                      product_areas: Sequence[str]) -> None:
    problems: list[str] = []
    for example in examples:
        where = f"{example.source}: {example.text[:60]!r}"
        if not example.text.strip():
            problems.append(f"{where}: empty text")
        if example.role not in ROLES:
            problems.append(f"{where}: unknown role {example.role!r}")
        if example.role == "request":
            if example.category not in categories:
                problems.append(f"{where}: category {example.category!r} is not in the policy")
            if example.product_area not in product_areas:
                problems.append(f"{where}: product_area {example.product_area!r} is not in the policy")
    if problems:
        raise TriageModelError("invalid training examples:\n" + "\n".join(problems[:20]))


def data_version(examples: Sequence[TrainingExample], heads: HeadConfigs, encoder_digest: str) -> str:
    digest = hashlib.sha256()
    digest.update(CODE_VERSION.encode())
    digest.update(json.dumps(asdict(heads), sort_keys=True, default=str).encode())
    digest.update(encoder_digest.encode())
    for key in sorted(example.key() for example in examples):
        digest.update(key.encode())
        digest.update(b"\n")
    return f"{CODE_VERSION}-{digest.hexdigest()[:12]}"


# --- the model ---------------------------------------------------------------------------


@dataclass
class Prediction:
    labels: list[str]
    proba: NDArray[np.float64]  # (n, classes)

    def top(self, row: int, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(-self.proba[row])[:k]
        return [(self.labels[int(index)], float(self.proba[row, int(index)])) for index in order]


class TriageModel:
    """The trained heads plus the encoder they share."""

    def __init__(self, role: TextClassifier, category: TextClassifier, product_area: TextClassifier,
                 version: str, pair_counts: dict[tuple[str, str], float] | None = None) -> None:
        self.role = role
        self.category = category
        self.product_area = product_area
        self.version = version
        # Weighted count of training requests per (category, product_area): how often the two labels
        # go together, for joint decoding (`LocalClassifierConfig.pair_prior_weight`).
        self.pair_counts: dict[tuple[str, str], float] = dict(pair_counts or {})
        self.encoder: SentenceEncoder | None = None

    def attach(self, encoder: SentenceEncoder) -> TriageModel:
        self.encoder = encoder
        for head in (self.role, self.category, self.product_area):
            head.encoder = encoder
        return self

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if self.encoder is None:
            raise TriageModelError("model has no encoder attached")
        return self.encoder.encode(list(texts))

    def predict(self, head: str, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None
                ) -> Prediction:
        classifier: TextClassifier = getattr(self, head)
        if embeddings is None and texts:
            embeddings = self.embed(texts)
        return Prediction(classifier.classes, classifier.predict_proba(list(texts), embeddings))


def _fit_head(config: TextClassifierConfig, encoder: SentenceEncoder, texts: list[str], labels: list[str],
              embeddings: NDArray[np.float32], weights: list[float]) -> TextClassifier:
    return TextClassifier(config, encoder).fit(texts, labels, embeddings=embeddings, sample_weight=weights)


def train(examples: Sequence[TrainingExample], *, encoder: SentenceEncoder | None = None,
          heads: HeadConfigs | None = None, categories: Sequence[str] | None = None,
          product_areas: Sequence[str] | None = None) -> tuple[TriageModel, dict[str, object]]:
    """Train the three heads in memory. Returns the model and facts about the training run."""
    heads = heads or HeadConfigs()
    encoder = encoder or shared_encoder()
    if categories is None or product_areas is None:
        from backend.policy.model import load_policy

        policy = load_policy()
        categories = categories or policy.category_names
        product_areas = product_areas or policy.product_area_names
    unique = list({example.key(): example for example in examples}.values())
    validate_examples(unique, categories, product_areas)
    started = time.perf_counter()
    texts = [example.text for example in unique]
    embeddings = encoder.encode(texts)
    encoder.flush()
    weights = [heads.weight(example.source) for example in unique]
    role_head = _fit_head(heads.role, encoder, texts, [example.role for example in unique], embeddings, weights)
    request_rows = [index for index, example in enumerate(unique) if example.role == "request"]
    request_texts = [texts[index] for index in request_rows]
    request_embeddings = embeddings[request_rows]
    request_weights = [weights[index] for index in request_rows]
    category_head = _fit_head(heads.category, encoder, request_texts,
                              [str(unique[index].category) for index in request_rows], request_embeddings,
                              request_weights)
    area_head = _fit_head(heads.product_area, encoder, request_texts,
                          [str(unique[index].product_area) for index in request_rows], request_embeddings,
                          request_weights)
    seconds = time.perf_counter() - started
    version = data_version(unique, heads, encoder.weights_digest)
    pair_counts: dict[tuple[str, str], float] = {}
    for index in request_rows:
        pair = (str(unique[index].category), str(unique[index].product_area))
        pair_counts[pair] = pair_counts.get(pair, 0.0) + weights[index]
    model = TriageModel(role_head, category_head, area_head, version, pair_counts).attach(encoder)
    facts: dict[str, object] = {
        "examples": len(unique),
        "requests": len(request_rows),
        "by_category": dict(Counter(str(unique[i].category) for i in request_rows)),
        "by_product_area": dict(Counter(str(unique[i].product_area) for i in request_rows)),
        "by_role": dict(Counter(example.role for example in unique)),
        "sources": dict(Counter(example.source.split("/")[0] or "?" for example in unique)),
        "train_seconds": round(seconds, 2),
    }
    return model, facts


def save_model(model: TriageModel, facts: dict[str, object], out_dir: Path) -> ModelInfo:
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder = model.encoder
    model.attach(None)  # type: ignore[arg-type]  # never pickle the encoder's weights
    try:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        if encoder is not None:
            model.attach(encoder)
    temporary = out_dir / (ARTIFACT_FILE + ".tmp")
    temporary.write_bytes(payload)
    temporary.replace(out_dir / ARTIFACT_FILE)
    info = ModelInfo(
        version=model.version,
        path=str(out_dir),
        examples=int(facts["examples"]),  # type: ignore[call-overload]
        requests=int(facts["requests"]),  # type: ignore[call-overload]
        by_category=dict(facts["by_category"]),  # type: ignore[call-overload]
        by_product_area=dict(facts["by_product_area"]),  # type: ignore[call-overload]
        by_role=dict(facts["by_role"]),  # type: ignore[call-overload]
        sources=dict(facts["sources"]),  # type: ignore[call-overload]
        train_seconds=float(facts["train_seconds"]),  # type: ignore[arg-type]
        embedding_model=SentenceEncoder.name,
    )
    info_payload = asdict(info) | {"sha256": hashlib.sha256(payload).hexdigest()}
    (out_dir / INFO_FILE).write_text(json.dumps(info_payload, indent=2, sort_keys=True), encoding="utf-8")
    return info


def train_from_examples(examples: Iterable[TrainingExample], out_dir: Path, *, include_written: bool = True
                        ) -> ModelInfo:
    """Train on `examples` and save the artifact under `out_dir` (model.pkl + model.json).

    With `include_written` (the default) the repository's training files are added, so a call with
    only labelled mail and corrections (`tier0 train`) still knows every category and the
    non-request roles. Point the classifier at the result with `TIER0_TRIAGE_MODEL=<out_dir>` or
    `LocalClassifier(model=load_model(out_dir))`."""
    given = list(examples)
    model, facts = train([*load_written_examples(), *given] if include_written else given)
    return save_model(model, facts, out_dir)


def read_model_info(directory: Path) -> dict[str, object] | None:
    path = directory / INFO_FILE
    if not path.exists():
        return None
    loaded: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def load_model(directory: Path, *, encoder: SentenceEncoder | None = None) -> TriageModel:
    """Load an artifact written by `save_model`. The file is a pickle: load only artifacts this
    project wrote (the default cache or a path an operator chose), never untrusted files."""
    info = read_model_info(directory)
    artifact = directory / ARTIFACT_FILE
    if info is None or not artifact.exists():
        raise TriageModelError(f"no triage model in {directory}")
    payload = artifact.read_bytes()
    if hashlib.sha256(payload).hexdigest() != info.get("sha256"):
        raise TriageModelError(f"{artifact} does not match its {INFO_FILE} (partial write or edited file)")
    try:
        model = pickle.loads(payload)
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as error:
        # e.g. written by older code, or by code that ran this module as __main__
        raise TriageModelError(f"{artifact} cannot be loaded by this code ({error})") from error
    if not isinstance(model, TriageModel):
        raise TriageModelError(f"{artifact} is not a triage model")
    return model.attach(encoder or shared_encoder())


# --- the shipped default -----------------------------------------------------------------


def default_cache_dir() -> Path:
    configured = os.environ.get("TIER0_TRIAGE_MODEL_DIR")
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tier0")) / "triage-models"


_default_lock = threading.Lock()
_default_model: TriageModel | None = None


def default_model(cache_dir: Path | None = None) -> TriageModel:
    """The shipped model: trained from every training file in the repo (written examples plus the
    dev-mailbox-derived file), cached under `cache_dir/<version>/`. Training takes seconds; it
    happens once per data version, then every process loads the cached artifact.
    `TIER0_TRIAGE_MODEL=<dir>` loads that artifact instead (one trained by `tier0 train`)."""
    global _default_model
    with _default_lock:
        if _default_model is not None and cache_dir is None:
            return _default_model
        configured = os.environ.get("TIER0_TRIAGE_MODEL")
        if configured and cache_dir is None:
            # An artifact trained by `tier0 train` (train_from_examples) replaces the shipped one.
            _default_model = load_model(Path(configured))
            return _default_model
        examples = load_written_examples()
        encoder = shared_encoder()
        version = data_version(list({e.key(): e for e in examples}.values()), HeadConfigs(),
                               encoder.weights_digest)
        directory = (cache_dir or default_cache_dir()) / version
        try:
            model = load_model(directory, encoder=encoder)
        except TriageModelError:
            model, facts = train(examples, encoder=encoder)
            save_model(model, facts, directory)
        if cache_dir is None:
            _default_model = model
        return model


def held_out_model(cache_dir: Path) -> TriageModel:
    """The model trained on the written examples only, without those derived from the dev mailbox
    (the demo mailbox is a copy of it), cached under `cache_dir/<version>/` like the default. The
    demo classifies with it, so what it shows is what unseen mail gets, not recalled labels."""
    examples = load_written_examples(include_dev=False)
    encoder = shared_encoder()
    version = data_version(list({e.key(): e for e in examples}.values()), HeadConfigs(), encoder.weights_digest)
    directory = cache_dir / f"held-out-{version}"
    try:
        return load_model(directory, encoder=encoder)
    except TriageModelError:
        model, facts = train(examples, encoder=encoder)
        save_model(model, facts, directory)
        return model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build or train the local triage model.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train the shipped default model into its cache")
    build.add_argument("--cache-dir", type=Path, default=None)
    train_cmd = sub.add_parser("train", help="train from JSONL example files into a folder")
    train_cmd.add_argument("out_dir", type=Path)
    train_cmd.add_argument("files", type=Path, nargs="*")
    train_cmd.add_argument("--no-dev", action="store_true", help="leave out dev_*.jsonl files")
    args = parser.parse_args(argv)
    if args.command == "build":
        model = default_model(args.cache_dir)
        print(f"default triage model {model.version} in {(args.cache_dir or default_cache_dir()) / model.version}")
        return 0
    files = args.files or written_training_files(include_dev=not args.no_dev)
    examples = [example for path in files for example in read_examples_jsonl(path)]
    info = train_from_examples(examples, args.out_dir, include_written=False)
    print(json.dumps(asdict(info), indent=2))
    return 0


if __name__ == "__main__":
    # Run through the package module, not this `__main__` copy of it: the classes pickled into an
    # artifact must be importable as `backend.triage.model.TriageModel` by every later process.
    from backend.triage import model as _package_module

    raise SystemExit(_package_module.main())
