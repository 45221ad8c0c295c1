"""Run the Pulumi program offline against Pulumi's unit-test mocks and record what it declares.

``deploy(scenario)`` sets the mocks and the stack config (``set_mocks`` before the program's
modules create anything), runs ``infra.stack.build`` with a tiny stand-in archive (the real
bundle has its own test), waits for every registration and returns the recorded resources with
their inputs (camelCase, as the engine sees them; secret inputs unwrapped but remembered) and the
resolved stack outputs. Results are cached per scenario: the program is deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pulumi
import pytest

PROJECT = "exec-assistant"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_MARKER = "1b47061264138c4ac30d75fd1eb44270"
#: What the mocked Secrets Manager GetRandomPassword returns (the link-signing key's seed).
GENERATED_PASSWORD = "generated-link-key-0123456789abcdef0123456789abcdef0123456789ab"

BASE_CONFIG = {
    "slack_bot_token": "xoxb-test-token-value",
    "slack_signing_secret": "signing-secret-value",
}
FULL_CONFIG = {
    **BASE_CONFIG,
    "twilio_account_sid": "AC0123456789abcdef0123456789abcdef",
    "twilio_auth_token": "twilio-auth-token-value",
    "twilio_from_number": "+15005550006",
    "ses_from_email": "assistant@example.com",
}
SECRET_KEYS = (
    "slack_bot_token",
    "slack_signing_secret",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_from_number",
)

#: name → (stack, config). "dev" has every optional setting, "prod" none, "disabled" turns the
#: prep-notification pieces off.
SCENARIOS: dict[str, tuple[str, dict[str, str]]] = {
    "dev": ("dev", {**FULL_CONFIG, "enable_prep_notification": "true"}),
    "prod": ("prod", dict(BASE_CONFIG)),
    "disabled": ("dev", {**FULL_CONFIG, "enable_prep_notification": "false"}),
    "no-snapstart": ("dev", {**FULL_CONFIG, "enable_snapstart": "false"}),
}


def unwrap(value: Any) -> tuple[Any, bool]:
    """``value`` without Pulumi's secret sentinels, and whether it held one."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_MARKER:
            inner, _ = unwrap(value.get("value"))
            return inner, True
        found = False
        result: dict[str, Any] = {}
        for key, item in value.items():
            result[key], secret = unwrap(item)
            found = found or secret
        return result, found
    if isinstance(value, list):
        items = [unwrap(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]
    secret_inputs: frozenset[str]
    id: str
    state: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.inputs[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)

    def policy(self) -> dict[str, Any]:
        raw = self.inputs.get("policy") or self.inputs["assumeRolePolicy"]
        parsed: dict[str, Any] = json.loads(raw)
        return parsed


def _computed(typ: str, name: str, inputs: Mapping[str, Any], rid: str) -> dict[str, Any]:
    """The outputs the provider would compute, for the types whose outputs the program reads."""
    physical = str(inputs.get("name") or name)
    prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:"
    arns = {
        "aws:dynamodb/table:Table": prefix.format("dynamodb") + f"table/{physical}",
        "aws:lambda/function:Function": prefix.format("lambda") + f"function:{physical}",
        "aws:cloudwatch/logGroup:LogGroup": prefix.format("logs") + f"log-group:{physical}",
        "aws:cloudwatch/eventBus:EventBus": prefix.format("events") + f"event-bus/{physical}",
        "aws:sqs/queue:Queue": prefix.format("sqs") + physical,
        "aws:scheduler/scheduleGroup:ScheduleGroup": prefix.format("scheduler")
        + f"schedule-group/{physical}",
        "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT}:role/{physical}",
        "aws:secretsmanager/secret:Secret": prefix.format("secretsmanager")
        + f"secret:{physical}-AbCdEf",
        "aws:sesv2/configurationSet:ConfigurationSet": prefix.format("ses")
        + f"configuration-set/{inputs.get('configurationSetName')}",
    }
    state: dict[str, Any] = {"arn": arns.get(typ, f"arn:aws:mock:{REGION}:{ACCOUNT}:{rid}")}
    if typ == "aws:cloudwatch/eventRule:EventRule":
        bus = inputs.get("eventBusName")
        state["arn"] = prefix.format("events") + (
            f"rule/{bus}/{physical}" if bus else f"rule/{physical}"
        )
    elif typ == "aws:lambda/function:Function":
        state["invokeArn"] = (
            f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{state['arn']}"
            "/invocations"
        )
        state["version"] = "1" if inputs.get("publish") else "$LATEST"
        state["qualifiedArn"] = f"{state['arn']}:{state['version']}"
    elif typ == "aws:lambda/alias:Alias":
        function_arn = prefix.format("lambda") + f"function:{inputs['functionName']}"
        state["arn"] = f"{function_arn}:{physical}"
    elif typ == "aws:apigatewayv2/api:Api":
        state["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{rid}"
        state["apiEndpoint"] = f"https://{rid}.execute-api.{REGION}.amazonaws.com"
    elif typ == "aws:sqs/queue:Queue":
        state["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
    if "name" not in inputs and typ != "aws:secretsmanager/secretVersion:SecretVersion":
        state["name"] = physical
    return state


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Resource] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs, _ = unwrap(dict(args.inputs))
        secret_inputs = frozenset(key for key, value in args.inputs.items() if unwrap(value)[1])
        rid = f"{args.name}-id"
        state = {**inputs, **_computed(args.typ, args.name, inputs, rid)}
        self.resources.append(Resource(args.typ, args.name, inputs, secret_inputs, rid, state))
        return rid, state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        """Data sources: account, region, partition (no check failures)."""
        self.calls.append(args.token)
        return self._call(args.token), []

    @staticmethod
    def _call(token: str) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "id": ACCOUNT,
                "userId": "AIDATEST",
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "region": REGION,
                "name": REGION,
                "id": REGION,
                "endpoint": "",
                "description": "",
            }
        if token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            return {"randomPassword": GENERATED_PASSWORD, "id": "random"}
        if token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
                "reverseDnsPrefix": "com.amazonaws",
            }
        return {}


@dataclass
class Deployment:
    env: str
    resources: list[Resource]
    outputs: dict[str, Any]
    config: dict[str, str] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, **match: Any) -> Resource:
        found = [r for r in self.of_type(typ) if all(r.get(k) == v for k, v in match.items())]
        assert len(found) == 1, f"expected one {typ} matching {match}, found {len(found)}"
        return found[0]

    def function(self, component: str) -> Resource:
        return self.one(
            "aws:lambda/function:Function", name=f"exec-assistant-{component}-{self.env}"
        )

    def invoke_arn(self, component: str) -> str:
        """What invokers target: the function's ``live`` alias under SnapStart, else itself."""
        name = f"exec-assistant-{component}-{self.env}"
        aliases = [a for a in self.of_type("aws:lambda/alias:Alias") if a["functionName"] == name]
        return str((aliases[0] if aliases else self.function(component)).state["arn"])

    def role(self, component: str) -> Resource:
        return self.one("aws:iam/role:Role", name=f"exec-assistant-{component}-role-{self.env}")

    def function_policy(self, component: str) -> dict[str, Any]:
        policy = self.one(
            "aws:iam/rolePolicy:RolePolicy", name=f"exec-assistant-{component}-policy-{self.env}"
        )
        return policy.policy()

    def statements(self, component: str) -> dict[str, dict[str, Any]]:
        """The function policy's statements by Sid."""
        return {s["Sid"]: s for s in self.function_policy(component)["Statement"]}

    def arn(self, typ: str, name: str) -> str:
        return str(self.one(typ, name=name).state["arn"])


def run_program(
    stack: str, config: Mapping[str, str], program: Callable[[], object] | None = None
) -> Deployment:
    """Set the mocks and config, then build the stack (never the real bundle) or run
    ``program`` instead."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{key}": value for key, value in config.items()},
        [f"{PROJECT}:{key}" for key in SECRET_KEYS if key in config],
    )
    from infra.config import load_config
    from infra.stack import build

    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any] | None:
        if program is not None:
            program()
            return None
        exports = build(load_config(), pulumi.AssetArchive({"index.py": pulumi.StringAsset("")}))
        names = list(exports)
        return pulumi.Output.all(*exports.values()).apply(
            lambda values: outputs.update(zip(names, values, strict=True))
        )

    run()
    return Deployment(env=stack, resources=mocks.resources, outputs=outputs, config=dict(config))


@cache
def deployment(scenario: str) -> Deployment:
    stack, config = SCENARIOS[scenario]
    return run_program(stack, config)


@pytest.fixture(params=sorted(SCENARIOS))
def any_deployment(request: pytest.FixtureRequest) -> Deployment:
    return deployment(str(request.param))


@pytest.fixture
def dev() -> Deployment:
    return deployment("dev")


@pytest.fixture
def prod() -> Deployment:
    return deployment("prod")


@pytest.fixture
def disabled() -> Deployment:
    return deployment("disabled")


@pytest.fixture
def run() -> Iterator[Callable[[str, Mapping[str, str]], Deployment]]:
    """Run the program with an ad-hoc stack/config (not cached)."""
    yield run_program
