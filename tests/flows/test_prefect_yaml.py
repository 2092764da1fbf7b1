"""Every deployment in prefect.yaml points at a real flow, with parameters that flow accepts."""

from __future__ import annotations

import importlib
import inspect

import yaml
from prefect import Flow

from backend.paths import REPO_ROOT


def test_deployments_point_at_flows_with_valid_parameters() -> None:
    document = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = document["deployments"]
    assert deployments, "prefect.yaml declares no deployment"
    for deployment in deployments:
        path, _, name = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow_object = getattr(module, name)
        assert isinstance(flow_object, Flow), deployment["name"]
        accepted = set(inspect.signature(flow_object.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted, deployment["name"]
        for schedule in deployment.get("schedules", []):
            assert schedule.get("interval", 1) > 0 and ("interval" in schedule or "cron" in schedule)
