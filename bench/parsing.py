"""CPU to parse the ECS answers every in-flight pass reads: the operator's JSON parser against botocore's own.

`python -m bench.parsing [--repeat N]`. The answers are the unit tests' samples (tests/unit/aws/samples.py: a
service with its deployments, load balancers and service connect, a service deployment, a service revision),
serialized as ECS sends them (epoch timestamps), ten services per DescribeServices as the observer batches them.
Both parsers parse with the operator's own ECS model (ecsbg.aws.session drops each service's `events` from it)
and its epoch timestamp parser, so the ratio is the parse walk alone: botocore's `JSONParser` (the baseline)
against `ecsbg.aws.session._WireOrderJSONParser`, a new parser per answer as botocore's endpoint makes one per
response. Each figure is the best of five rounds of N parses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "operator"))

import boto3  # noqa: E402
import botocore.parsers  # noqa: E402
from tests.unit.aws import samples  # noqa: E402

from ecsbg.aws.session import _timestamp, _WireOrderJSONParser, without_service_events  # noqa: E402


def answers() -> dict[str, dict[str, Any]]:
    services = [samples.service(serviceName=f"web-{i}", serviceArn=f"{samples.SERVICE['serviceArn']}-{i}")
                for i in range(10)]
    return {
        "DescribeServices (10 services)": {"services": services, "failures": []},
        "DescribeServiceDeployments (2)": {"serviceDeployments": [samples.deployment(), samples.deployment()]},
        "DescribeServiceRevisions (2)": {"serviceRevisions": [samples.revision(samples.REV_BLUE, samples.TD_41),
                                                              samples.revision(samples.REV_GREEN, samples.TD_42)]},
    }


def best_of(parse: Callable[[], Any], repeat: int) -> float:
    """Seconds of CPU per parse, the best of five rounds."""
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(repeat):
            parse()
        rounds.append((time.process_time() - started) / repeat)
    return min(rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.parsing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args(argv)
    client = without_service_events(boto3.client("ecs", region_name="us-east-1", aws_access_key_id="bench",
                                                 aws_secret_access_key="bench"))
    model = client.meta.service_model
    print("| answer | botocore's JSONParser (baseline) | ecsbg's parser | ratio |\n|---|---|---|---|")
    for (name, answer), operation in zip(answers().items(), ("DescribeServices", "DescribeServiceDeployments",
                                                             "DescribeServiceRevisions"), strict=True):
        body = json.dumps(answer, default=lambda value: value.timestamp() if isinstance(value, datetime)
                          else str(value)).encode()
        output = model.operation_model(operation).output_shape
        # a parser per answer, as botocore's endpoint makes one per response
        def theirs() -> Any:
            return botocore.parsers.JSONParser(timestamp_parser=_timestamp)

        def ours() -> Any:
            return _WireOrderJSONParser(timestamp_parser=_timestamp)

        def response(body: bytes = body) -> dict[str, Any]:
            return {"body": body, "headers": {}, "status_code": 200}

        if ours().parse(response(), output) != theirs().parse(response(), output):
            print(f"{name}: the parsers disagree", file=sys.stderr)
            return 1
        baseline = best_of(lambda o=output: theirs().parse(response(), o), args.repeat)
        measured = best_of(lambda o=output: ours().parse(response(), o), args.repeat)
        print(f"| {name} | {baseline * 1000:.3f} ms | {measured * 1000:.3f} ms | {measured / baseline:.2f} x |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
