"""The Lambda functions: specs (handler contract strings, memory, timeout) and their creation.

Each function gets its own log group (created here, so retention is ours and not the Lambda
default of "never expire"), its own role and one inline policy: the logs statement plus what the
caller grants. Logs are JSON (Lambda's ``loggingConfig``), one object per line.

SnapStart (config ``enable_snapstart``, default on) applies to the functions whose cold start a
person waits for or that a burst of events fans out to — the Slack bot, the prep trigger and the
webhooks (``FunctionSpec.snapstart``). SnapStart only serves *published versions*: such a
function is published on every change and gets the alias :data:`ALIAS` pointing at its newest
version, and everything that invokes it (API Gateway, the EventBridge rule) targets the alias, never
``$LATEST``. The runtime hooks are in :mod:`exec_assistant.snapshots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.config import StackConfig
from infra.naming import resource_name, tags

RUNTIME = "python3.13"  # SnapStart needs a managed Python runtime >= 3.12
#: The alias the invokers target when SnapStart is on (it follows the newest published version).
ALIAS = "live"
ARCHITECTURE = "x86_64"  # matches the bundle's manylinux2014_x86_64 wheels (infra/bundle.py)


@dataclass(frozen=True)
class FunctionSpec:
    component: str
    handler: str
    memory_mb: int
    timeout_s: int
    description: str
    #: the stack secrets (package names) this function reads: their ARNs go to its environment
    secrets: tuple[str, ...] = ()
    #: whether the function sends email (gets SES_FROM_EMAIL, SES_CONFIGURATION_SET and
    #: ses:SendEmail)
    sends_email: bool = False
    #: whether the function needs the API's public address (PUBLIC_BASE_URL): it verifies
    #: Twilio's signatures, or sends SMS with a status callback or emails with action links
    public_url: bool = False
    #: whether the function runs with SnapStart when the stack enables it
    snapstart: bool = False
    #: whether the function writes prep briefs (gets the Bedrock writer's settings and
    #: ``bedrock:InvokeModel`` on its model when the stack configures ``bedrock_model_id``)
    writes_briefs: bool = False


#: What a function that may send a notification reads: the channels' credentials and the key
#: that signs the email's action links.
NOTIFYING_SECRETS = (
    "slack_bot_token",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_from_number",
    "action_link_secret",
)

PREP_TRIGGER = FunctionSpec(
    component="prep-trigger",
    handler="exec_assistant.workflows.prep_trigger_handler.lambda_handler",
    memory_mb=512,
    timeout_s=60,
    description="MeetingPrepRequired → notify the executive (Slack, then SMS, then email)",
    secrets=NOTIFYING_SECRETS,
    sends_email=True,
    public_url=True,
    snapstart=True,
)
SLACK_BOT = FunctionSpec(
    component="slack-bot",
    handler="exec_assistant.interfaces.slack_bot.lambda_handler",
    memory_mb=512,
    timeout_s=30,
    description="Slack events, slash commands and buttons (POST /slack/webhook)",
    secrets=("slack_bot_token", "slack_signing_secret"),
    snapstart=True,
    writes_briefs=True,  # the prep conversation ends with the brief in the DM
)
CALENDAR_MONITOR = FunctionSpec(
    component="calendar-monitor",
    handler="exec_assistant.workflows.calendar_monitor.lambda_handler",
    memory_mb=512,
    timeout_s=120,
    description="Imports registered feeds, finds meetings entering their prep window and "
    "publishes MeetingPrepRequired",
    secrets=("slack_bot_token",),  # a moved or cancelled meeting's delivered DM is edited
)

DIGEST = FunctionSpec(
    component="digest",
    handler="exec_assistant.workflows.digest.lambda_handler",
    memory_mb=512,
    timeout_s=60,
    description="MorningDigestDue → the executive's morning digest DM",
    secrets=("slack_bot_token",),
)

#: Twilio's webhooks and the email action links (exec_assistant/interfaces/webhooks.py says why
#: this is not the Slack bot's function). It sends nothing itself: an answer edits the Slack DM
#: (and opens prep there), and a failed SMS receipt publishes a follow-up MeetingPrepRequired
#: that the prep trigger walks on the next channels (exec_assistant/workflows/receipts.py).
#: Someone waits on each request (Twilio gives up after 15 s, a browser later).
WEBHOOKS = FunctionSpec(
    component="webhooks",
    handler="exec_assistant.interfaces.webhooks.lambda_handler",
    memory_mb=512,
    timeout_s=30,
    description="SMS replies, SMS delivery receipts, email action links "
    "(POST /twilio/sms, POST /twilio/status, GET/POST /actions/{token})",
    # the DM; Twilio's signatures (RequestValidator); the email links' key
    secrets=("slack_bot_token", "twilio_auth_token", "action_link_secret"),
    public_url=True,  # the URL Twilio signs
    snapstart=True,
)
#: SES's events for the stack's configuration set (bounce, complaint, delivery, reject): the
#: receipt goes to the ledger, and a bounce or complaint publishes the follow-up cycle for the
#: prep trigger, as an SMS receipt does; it reads no secret and sends nothing.
EMAIL_EVENTS = FunctionSpec(
    component="email-events",
    handler="exec_assistant.workflows.email_events.lambda_handler",
    memory_mb=512,
    timeout_s=60,
    description="SES bounce/complaint/delivery/reject events → the notification ledger",
)


@dataclass(frozen=True)
class DeployedFunction:
    spec: FunctionSpec
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    #: the :data:`ALIAS` alias when the function runs with SnapStart
    alias: aws.lambda_.Alias | None = None

    @property
    def invoke_arn(self) -> pulumi.Output[str]:
        """The ARN invokers target: the alias with SnapStart, else the function."""
        arn: pulumi.Output[str] = (self.alias or self.function).arn
        return arn

    @property
    def qualifier(self) -> pulumi.Output[str] | None:
        """The alias name for permissions and invoke configs (``None``: unqualified)."""
        if self.alias is None:
            return None
        name: pulumi.Output[str] = self.alias.name
        return name


@dataclass(frozen=True)
class Endpoints:
    """What the stack tells the functions about its public face and its email."""

    #: the HTTP API's endpoint (PUBLIC_BASE_URL)
    public_base_url: pulumi.Input[str]
    #: the SES configuration set's name (SES_CONFIGURATION_SET); ``None`` without email
    ses_configuration_set: pulumi.Input[str] | None = None


def function_environment(
    spec: FunctionSpec,
    cfg: StackConfig,
    shared: Mapping[str, pulumi.Input[str]],
    secrets: Mapping[str, aws.secretsmanager.Secret],
    endpoints: Endpoints,
) -> dict[str, pulumi.Input[str]]:
    """``shared`` plus this function's secret ARNs (never values), the SES sender and
    configuration set, the public address and the Bedrock brief writer's settings."""
    variables = dict(shared)
    for name in spec.secrets:
        if name in secrets:
            variables[f"{name.upper()}_SECRET_ARN"] = secrets[name].arn
    if spec.sends_email and cfg.ses_from_email:
        variables["SES_FROM_EMAIL"] = cfg.ses_from_email
        if endpoints.ses_configuration_set is not None:
            variables["SES_CONFIGURATION_SET"] = endpoints.ses_configuration_set
    if spec.public_url:
        variables["PUBLIC_BASE_URL"] = endpoints.public_base_url
    if spec.writes_briefs and cfg.bedrock is not None:
        variables["BRIEF_WRITER"] = "bedrock"
        variables["BEDROCK_MODEL_ID"] = cfg.bedrock.model_id
        if cfg.bedrock.region is not None:
            variables["BEDROCK_REGION"] = cfg.bedrock.region
    return variables


def create_function(
    spec: FunctionSpec,
    cfg: StackConfig,
    *,
    code: pulumi.Archive,
    environment: Mapping[str, pulumi.Input[str]],
) -> DeployedFunction:
    name = resource_name(spec.component, cfg.env)
    snapstart = spec.snapstart and cfg.enable_snapstart
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/lambda/{name}",
        retention_in_days=cfg.log_retention_days,
        tags=tags(cfg.env),
    )
    role = iam.service_role(
        resource_name(f"{spec.component}-role", cfg.env), "lambda.amazonaws.com", cfg.env
    )
    function = aws.lambda_.Function(
        name,
        name=name,
        description=spec.description,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=spec.handler,
        memory_size=spec.memory_mb,
        timeout=spec.timeout_s,
        role=role.arn,
        code=code,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(environment)),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="JSON", log_group=log_group.name
        ),
        publish=snapstart,
        snap_start=(
            aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions") if snapstart else None
        ),
        tags=tags(cfg.env),
        opts=pulumi.ResourceOptions(depends_on=[log_group]),
    )
    alias = (
        aws.lambda_.Alias(
            f"{name}-{ALIAS}",
            name=ALIAS,
            function_name=function.name,
            function_version=function.version,
            description="The newest published version (SnapStart serves published versions)",
        )
        if snapstart
        else None
    )
    return DeployedFunction(
        spec=spec, function=function, role=role, log_group=log_group, alias=alias
    )


def grant(
    deployed: DeployedFunction, cfg: StackConfig, statements: Sequence[iam.Statement]
) -> aws.iam.RolePolicy:
    """The function's one inline policy: write its own logs, plus ``statements``."""
    return iam.attach_policy(
        deployed.role,
        resource_name(f"{deployed.spec.component}-policy", cfg.env),
        [iam.logs_statement(deployed.log_group.arn), *statements],
    )
