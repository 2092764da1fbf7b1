"""Build the pipeline's configuration the same way for every entry point (CLI, demo, flows)."""

from __future__ import annotations

from backend.pipeline.classifiers import LlmCallCollector, default_classifier
from backend.pipeline.process import PipelineConfig
from backend.policy.model import Policy
from backend.settings import get_settings
from backend.triage.types import Classifier


def build_pipeline_config(
    policy: Policy, *, prefer_local: bool = False, classifier: Classifier | None = None
) -> PipelineConfig:
    settings = get_settings()
    collector = LlmCallCollector()
    return PipelineConfig(
        policy,
        classifier or default_classifier(policy, prefer_local=prefer_local, recorder=collector),
        own_addresses=frozenset({settings.mailbox.lower()}),
        llm_calls=collector,
    )
