"""Parsing templates (CEL compiled at parse time) and resolving arguments."""

from __future__ import annotations

import pytest

from ecsbg.domain.analysis.model import AnalysisRef, SecretRef
from ecsbg.domain.analysis.templates import (
    InvalidTemplate,
    parse_duration,
    parse_ref,
    parse_template,
    resolve,
)

BASE = {
    "kind": "EcsAnalysisTemplate", "metadata": {"name": "error-rate"},
    "spec": {
        "args": [{"name": "service"}, {"name": "threshold", "value": "0.05"},
                 {"name": "token", "valueFrom": {"secretKeyRef": {"name": "prom", "key": "token"}}}],
        "metrics": [{
            "name": "errors", "interval": "30s", "count": 3, "failureLimit": 1,
            "successCondition": "result[0] < 0.05",
            "provider": {"prometheus": {"address": "http://prom:9090", "bearerToken": "{{args.token}}",
                                        "query": 'rate(x{svc="{{args.service}}",ns="{{release.namespace}}"}[1m])'}},
        }],
    },
}


def _with_metric(**changes):
    metric = {**BASE["spec"]["metrics"][0], **changes}
    return {**BASE, "spec": {**BASE["spec"], "metrics": [metric]}}


def test_a_template_parses_with_its_defaults():
    t = parse_template(BASE)
    m = t.metrics[0]
    assert (m.provider, m.interval_seconds, m.count, m.failure_limit, m.consecutive_error_limit) == \
        ("prometheus", 30.0, 3, 1, 4)
    assert m.success.expression == "result[0] < 0.05"


@pytest.mark.parametrize(("changes", "problem"), [
    ({"successCondition": "result[0] <"}, "spec.metrics[0].successCondition: invalid CEL expression"),
    ({"failureCondition": "result ==== 1"}, "spec.metrics[0].failureCondition: invalid CEL expression"),
    ({"interval": "soon"}, "spec.metrics[0].interval"),
    ({"count": 0}, "spec.metrics[0].count"),
    ({"failureLimit": -1}, "spec.metrics[0].failureLimit"),
    ({"provider": {}}, "spec.metrics[0].provider must set exactly one"),
    ({"provider": {"web": {}}}, "spec.metrics[0].provider.web.url is required"),
    ({"provider": {"prometheus": {"address": "http://p"}}}, "provider.prometheus.query is required"),
    ({"name": "Bad_Name"}, "spec.metrics[0].name"),
    ({"provider": {"prometheus": {"address": "a", "query": "q", "bearerToken": "abc"}}}, "never inline"),
])
def test_bad_templates_name_the_field(changes, problem):
    with pytest.raises(InvalidTemplate) as caught:
        parse_template(_with_metric(**changes))
    assert caught.value.reason == "InvalidAnalysisTemplate"
    assert problem in str(caught.value)
    assert "EcsAnalysisTemplate/error-rate" in str(caught.value)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), (5, 5)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_resolve_binds_reference_values_defaults_secrets_and_release_facts():
    ref = AnalysisRef("error-rate", args=(("service", "web"),))
    t = resolve(parse_template(BASE), ref, {"namespace": "shop"}, {SecretRef("prom", "token"): "s3cret"})
    config = t.metrics[0].config
    assert config["query"] == 'rate(x{svc="web",ns="shop"}[1m])'
    assert config["bearerToken"] == "s3cret"


@pytest.mark.parametrize(("ref", "secrets", "reason", "text"), [
    (AnalysisRef("error-rate"), {SecretRef("prom", "token"): "x"}, "MissingArgument", "'service'"),
    (AnalysisRef("error-rate", args=(("service", "web"),)), {}, "SecretNotFound", "Secret 'prom'"),
    (AnalysisRef("error-rate", args=(("service", "web"), ("nope", "1"))), {}, "UnknownArgument", "nope"),
])
def test_resolve_errors_are_specific(ref, secrets, reason, text):
    with pytest.raises(InvalidTemplate) as caught:
        resolve(parse_template(BASE), ref, {"namespace": "shop"}, secrets)
    assert caught.value.reason == reason and text in str(caught.value)


def test_an_unknown_release_fact_is_an_error():
    template = parse_template(_with_metric(provider={"web": {"url": "http://x/{{release.nope}}"}}))
    with pytest.raises(InvalidTemplate, match="UnknownReleaseFact|release.nope"):
        resolve(template, AnalysisRef("error-rate", args=(("service", "a"),)), {"namespace": "n"},
                {SecretRef("prom", "token"): "x"})


def test_references():
    ref, problems = parse_ref({"templateName": "t", "clusterScope": True, "args": [{"name": "a", "value": 1}]}, "p")
    assert problems == [] and ref == AnalysisRef("t", True, (("a", "1"),))
    assert ref.display == "ClusterEcsAnalysisTemplate/t"
    assert parse_ref({"args": []}, "p")[1] == ["p.templateName is required"]
