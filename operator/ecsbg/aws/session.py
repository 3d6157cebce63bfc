"""Client factory: one ECS client (and one CloudWatch client, for analysis) per (region, roleArn) (the ExternalId is the operator's, ClientSettings), created once and reused.

boto3 clients are thread-safe, sessions are not ([doc: boto3 Multithreading or multiprocessing with clients]),
so sessions and clients are only created under a lock and calls then share the clients. An assumed role uses
botocore's DeferredRefreshableCredentials: the first AssumeRole happens on the first call, and botocore renews
the credentials before they expire (advisory 15 min, mandatory 10 min before), so a long-running operator
never uses stale ones. AssumeRole itself goes through AwsCalls, so it is metered like every other call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.context
import botocore.parsers
import botocore.session
import botocore.utils
from botocore.config import Config
from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials

from ecsbg.aws.calls import AwsCalls
from ecsbg.logs import register_secret
from ecsbg.metrics.recorder import MetricsRecorder

SESSION_NAME = "ecsbg-operator"
ASSUMED_ROLE_SECONDS = 3600


@dataclass(frozen=True)
class ClientKey:
    region: str
    role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    # from an EcsReleasePolicy (ecsbg.gating): a session name and tags naming the release, for CloudTrail
    session_name: str | None = None
    session_tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ClientSettings:
    """`endpoint_url` points ECS at a local emulator (the operator reads ECSBG_AWS_ENDPOINT_URL)."""

    endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    ecr_endpoint_url: str | None = None  # tests: moto's server
    # CloudWatch for analysis; unset: botocore's own endpoint settings (AWS_ENDPOINT_URL_CLOUDWATCH, else AWS's)
    cloudwatch_endpoint_url: str | None = None
    # sent with every AssumeRole: the operator's ExternalId (ECSBG_EXTERNAL_ID, from a Secret of the platform team)
    external_id: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5  # botocore standard mode: total attempts incl. the first, exponential backoff
    max_pool_connections: int = 20

    def config(self) -> Config:
        return Config(
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=self.max_pool_connections,
        )


class _AssumeRoleProvider(CredentialProvider):
    """Inserted first in the session's credential chain, so the ECS client signs with the assumed role."""

    METHOD = "ecsbg-assume-role"

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self._fetch = fetch

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(refresh_using=self._fetch, method=self.METHOD)


class ClientFactory:
    def __init__(
        self,
        metrics: MetricsRecorder,
        settings: ClientSettings | None = None,
        base_session: Callable[[], botocore.session.Session] = botocore.session.get_session,
    ) -> None:
        self._metrics = metrics
        self._settings = settings or ClientSettings()
        self._new_botocore_session = lambda: with_fast_timestamps(base_session())
        self._lock = threading.RLock()
        self._ecs: dict[ClientKey, AwsCalls] = {}
        self._others: dict[tuple[str, ClientKey], AwsCalls] = {}  # ECR, CloudWatch, ELBv2, Auto Scaling
        self._sts: dict[str, AwsCalls] = {}
        self._base: boto3.Session | None = None

    def ecs(self, key: ClientKey) -> AwsCalls:
        with self._lock:
            calls = self._ecs.get(key)
            if calls is None:
                session = self._role_session(key) if key.role_arn else self._base_session()

                def client(config: Config) -> Any:
                    return with_cached_user_agent(without_service_events(session.client(
                        "ecs", region_name=key.region, endpoint_url=self._settings.endpoint_url, config=config)))

                once = self._settings.config().merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
                calls = self._ecs[key] = AwsCalls(client(self._settings.config()), self._metrics, service="ecs",
                                                  single_attempt_client=client(once))
            return calls

    def ecr(self, key: ClientKey) -> AwsCalls:
        """ECR (DescribeImages, digest resolution) with the same role and session as the release's ECS calls."""
        return self._other("ecr", "ecr", key, self._settings.ecr_endpoint_url)

    def cloudwatch(self, key: ClientKey) -> AwsCalls:
        """CloudWatch for automated analysis: same credentials, role assumption and metering as ECS."""
        return self._other("cloudwatch", "cloudwatch", key, self._settings.cloudwatch_endpoint_url)

    def elbv2(self, key: ClientKey) -> AwsCalls:
        """ELBv2 for spec.preflight, metered under its IAM prefix (elasticloadbalancing). Endpoint: botocore's own
        settings (AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, else AWS's)."""
        return self._other("elbv2", "elasticloadbalancing", key, None)

    def autoscaling(self, key: ClientKey) -> AwsCalls:
        """Application Auto Scaling for spec.autoScaling; endpoint botocore's (AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING)."""
        return self._other("application-autoscaling", "application-autoscaling", key, None)

    def sqs(self, region: str) -> AwsCalls:
        """SQS with the operator's own credentials (the queue is the operator's); endpoint botocore's
        (AWS_ENDPOINT_URL_SQS)."""
        return self._other("sqs", "sqs", ClientKey(region=region), None)

    def _other(self, client_name: str, service: str, key: ClientKey, endpoint_url: str | None) -> AwsCalls:
        """A client for an AWS service other than ECS, one per (service, key), with the release's role."""
        with self._lock:
            calls = self._others.get((client_name, key))
            if calls is None:
                session = self._role_session(key) if key.role_arn else self._base_session()
                client = session.client(client_name, region_name=key.region, endpoint_url=endpoint_url,
                                        config=self._settings.config())
                calls = self._others[(client_name, key)] = AwsCalls(client, self._metrics, service=service)
            return calls

    def _base_session(self) -> boto3.Session:
        if self._base is None:
            self._base = boto3.Session(botocore_session=self._new_botocore_session())
        return self._base

    def sts(self, region: str) -> AwsCalls:
        """The STS client that assumes roles for `region` (built from the operator's own credentials)."""
        with self._lock:
            return self._sts_calls(region)

    def _sts_calls(self, region: str) -> AwsCalls:
        calls = self._sts.get(region)
        if calls is None:
            client = self._base_session().client(
                "sts",
                region_name=region,
                endpoint_url=self._settings.sts_endpoint_url,
                config=self._settings.config(),
            )
            calls = self._sts[region] = AwsCalls(client, self._metrics, service="sts")
        return calls

    def _role_session(self, key: ClientKey) -> boto3.Session:
        assert key.role_arn is not None
        sts = self._sts_calls(key.region)
        params: dict[str, Any] = {
            "RoleArn": key.role_arn,
            "RoleSessionName": key.session_name or SESSION_NAME,
            "DurationSeconds": ASSUMED_ROLE_SECONDS,
        }
        if key.session_tags:  # sts:TagSession must be allowed by the role's trust policy (deploy/iam/README.md)
            params["Tags"] = [{"Key": k, "Value": v} for k, v in key.session_tags]
        external_id = key.external_id or self._settings.external_id
        if external_id:
            params["ExternalId"] = external_id
            register_secret(external_id)

        def fetch() -> dict[str, Any]:
            creds = sts.call("AssumeRole", **params)["Credentials"]
            for value in (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]):
                register_secret(value)  # ecsbg.logs: never in a log line, whatever logs it
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        core = self._new_botocore_session()
        core.get_component("credential_provider").insert_before("env", _AssumeRoleProvider(fetch))
        return boto3.Session(botocore_session=core)


def with_fast_timestamps(session: botocore.session.Session) -> botocore.session.Session:
    """Clients of `session` parse epoch timestamps (what the JSON protocols of ECS and most services carry) as UTC
    datetimes directly. botocore's default builds a dateutil tzlocal() for each one, about 8.6 us a timestamp:
    one DescribeServices of ten services carries hundreds (each service's last 100 events), and at 1,000
    releases that parsing was 4 % of the operator's CPU. Same instants, aware as before; strings (ISO 8601, as
    STS answers) still go through botocore's parser."""
    factory = _ParserFactory()
    factory.set_parser_defaults(timestamp_parser=_timestamp)
    session.register_component("response_parser_factory", factory)
    return session


class _ParserFactory(botocore.parsers.ResponseParserFactory):
    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "json":  # ECS, and the other JSON-protocol services
            return _WireOrderJSONParser(**self._defaults)
        return super().create_parser(protocol_name)


class _WireOrderJSONParser(botocore.parsers.JSONParser):
    """botocore's JSON parser, with one parse function per shape built once (`_structure`, `_value`) instead of
    botocore's walk: botocore looks up each of a structure's members in the answer (a service has about 40, most
    absent) and finds a handler by name for every value, list item and map entry, which made parsing a tenth of the
    operator's CPU with 1,000 releases starting at once and a fifth with 1,000 deployments in flight. Same
    result: members the model does not know, and nulls, are dropped; wire names are mapped to member names;
    null list items stay; unions and documents take botocore's path. Only the order of keys may differ (the
    wire's). tests/unit/aws/test_session.py compares both parsers' results."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # botocore makes a parser per response (endpoint.py), so the functions are shared by every parser that
        # parses the same way (class, timestamp and blob parsers; a bound method by its function): one kept per
        # instance made each answer build its shape's functions again (a mass start took a third more CPU)
        flavour = (type(self), self._timestamp_parser, getattr(self._blob_parser, "__func__", self._blob_parser))
        self._compiled = _BUILT.setdefault(flavour, {})

    def _handle_structure(self, shape: Any, value: Any) -> Any:
        if value is None or shape.is_document_type or shape.is_tagged_union:
            return super()._handle_structure(shape, value)
        found = self._compiled.get(id(shape))
        if found is None or found[0] is not shape:
            # built aside and published whole: threads share the client, and a structure's function is
            # complete only once its members' are (another thread may build the same one meanwhile: no harm)
            build = _Build()
            parse = self._structure(shape, build)  # another thread's, if it published it meanwhile
            self._compiled.update(build.done)
            return parse(value)
        return found[1](value)

    def _structure(self, shape: Any, build: _Build) -> Callable[[Any], Any]:
        """The parse function of a (non-null) structure of `shape`."""
        for known in (self._compiled, build.done):
            found = known.get(id(shape))
            if found is not None and found[0] is shape:
                return found[1]
        if shape.name in build.path:  # a recursive shape (botocore resolves each level as a new object)
            return build.path[shape.name]
        wire: dict[str, tuple[str, Callable[[Any], Any] | None]] = {}

        def parse(value: Mapping[str, Any]) -> dict[str, Any]:
            parsed = {}
            for key, raw in value.items():
                member = wire.get(key)
                if member is not None and raw is not None:
                    fn = member[1]
                    parsed[member[0]] = raw if fn is None else fn(raw)
            return parsed

        build.path[shape.name] = parse
        for name, member_shape in shape.members.items():
            wire[member_shape.serialization.get("name", name)] = (name, self._value(member_shape, build))
        del build.path[shape.name]
        build.done[id(shape)] = (shape, parse)
        return parse

    def _value(self, shape: Any, build: _Build) -> Callable[[Any], Any] | None:
        """The parse function of a non-null value of `shape`; None: the value as it is (botocore has no handler
        for its type: strings, numbers, booleans)."""
        kind = shape.type_name
        if kind == "structure" and not (shape.is_document_type or shape.is_tagged_union):
            return self._structure(shape, build)
        if kind == "list":
            item = self._value(shape.member, build)
            if item is None:
                return list
            return lambda node: [None if i is None else item(i) for i in node]
        if kind == "map":
            return self._map(shape, build)
        handler = getattr(self, f"_handle_{kind}", None)
        return None if handler is None else functools.partial(handler, shape)

    def _map(self, shape: Any, build: _Build) -> Callable[[Any], Any]:
        key, value, value_shape = self._value(shape.key, build), self._value(shape.value, build), shape.value
        if key is None and value is None:
            return dict

        def parse(node: Mapping[str, Any]) -> dict[Any, Any]:  # botocore hands a null value to its handler
            return {k if key is None else key(k): v if value is None else (
                value(v) if v is not None else self._parse_shape(value_shape, v)) for k, v in node.items()}

        return parse


# per parser flavour: id(shape) -> (shape, its parse function), kept with the shape (ids are reused once freed)
_BUILT: dict[tuple[Any, ...], dict[int, tuple[Any, Callable[[Any], Any]]]] = {}


@dataclass
class _Build:
    """One build of parse functions: those done (id(shape) -> (shape, function)), and the structures being built
    on the way to this one, by name."""

    done: dict[int, tuple[Any, Callable[[Any], Any]]] = field(default_factory=dict)
    path: dict[str, Callable[[Any], Any]] = field(default_factory=dict)


def _timestamp(value: Any) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return botocore.utils.parse_timestamp(value)


def without_service_events(client: Any) -> Any:
    """`client` parses DescribeServices and UpdateService answers without each service's `events` (its last 100
    event messages): nothing in ecsbg reads them, and parsing them made a DescribeServices of ten services 3.4 ms
    instead of 0.9 ms, with a hundred such calls per idle poll of 1,000 releases (and an UpdateService answers with
    the whole service too). botocore parses a structure member by member of the client's own model (this
    client's; other clients and the model files are untouched), so the member is dropped from the Service shape
    each operation answers with. tests/unit/aws/test_session.py fails if a botocore upgrade changes this."""
    model = client.meta.service_model
    model.operation_model("DescribeServices").output_shape.members["services"].member.members.pop("events", None)
    model.operation_model("UpdateService").output_shape.members["service"].members.pop("events", None)
    return client


def with_cached_user_agent(client: Any) -> Any:
    """`client` builds its User-Agent header once per set of feature ids instead of twice per request: botocore
    sanitizes each of its dozen components on every call (about an eighth of a call's CPU, 0.15 ms, with 5,000
    calls for 1,000 releases starting at once). The string depends only on the client's settings, fixed at
    creation, and the feature ids of the request's context (botocore.useragent._build_feature_metadata), which
    are the cache key. tests/unit/aws/test_session.py compares it with botocore's own string."""
    creator = client._user_agent_creator
    build = creator.to_string
    built: dict[frozenset[str], str] = {}

    def to_string() -> str:
        context = botocore.context.get_context()
        key = frozenset(context.features) if context is not None else frozenset()
        found = built.get(key)
        if found is None:
            found = built[key] = build()
        return found

    creator.to_string = to_string  # the request-created handler calls self.to_string(): the instance's wins
    return client
