"""The platform's Kafka streams: one frozen descriptor each, and the one tuple of them.

Data only. Every place that lists streams iterates `STREAMS`: the landing assets, their topic
sensors and commit steps (orchestration/definitions.py), the committer, the held-back and
held-message checks, the exporter, the loss accounting, the dbt flow groups and the catalogue
facts (owner, column schema, freshness). A clean step takes its keys from its stream, and the
e-commerce file sources name their tables by the same rule (`zone_key`).

Adding a stream: a descriptor here, its topic's contract (assets/core/contracts/), a source
adapter that publishes to the topic, its clean table's contract (spark/schemas/), a clean step
and its dbt models (docs/streaming.md).
"""

from dataclasses import dataclass

import dagster as dg

from assets.topics import ADS_TOPIC, OPENAQ_TOPIC, USERS_TOPIC, topic_key
from spark.schemas.clean_ads import CLEAN_ADS
from spark.schemas.clean_measurements import CLEAN_MEASUREMENTS
from spark.schemas.clean_users import CLEAN_USERS
from spark.schemas.columns import Column

OWNER = "team:data-platform"


def zone_key(zone: str, table: str, suffix: str = "") -> dg.AssetKey:
    """A lake table's asset key: the zone, then the table (`clean/<table>_quarantine`). The key is
    the table's address in the lake and the warehouse (orchestration/resources/lake_io.py)."""
    return dg.AssetKey([zone, f"{table}{suffix}"])


@dataclass(frozen=True)
class Stream:
    name: str  # the flow's short name, as its clean module and dbt models say it
    topic: str
    table: str  # raw/<table>, raw/<table>_rejected, clean/<table>, clean/<table>_quarantine
    group: str  # the Dagster group of every asset of the stream, and its dbt models' tag
    description: str  # what the landed table holds: the landing asset's description
    # The clean table's contract (a spark/schemas/clean_*.py module): its columns in order with
    # their Spark types, as the transform selects them; the catalogue's column schema.
    columns: tuple[Column, ...]
    # The freshness expectation of the clean table (Dagster's freshness policy, shown in the
    # UI): built within `fresh_within_hours` before each tick of the UTC cron `fresh_by`. The
    # schedule builds the day that ended at 02:00, and sensor runs follow the topic all day.
    fresh_by: str = "0 6 * * *"
    fresh_within_hours: int = 24
    owner: str = OWNER

    @property
    def contract(self):
        """The topic's current contract (assets/core/contracts/<topic>.v<N>.json)."""
        from assets.core.contracts import contract_for

        return contract_for(self.topic)

    @property
    def topic_key(self) -> dg.AssetKey:
        return topic_key(self.topic)

    @property
    def pull_key(self) -> dg.AssetKey:
        """The source adapter's asset, the pull that publishes to the topic."""
        return zone_key("api", self.table)

    @property
    def raw_key(self) -> dg.AssetKey:
        return zone_key("raw", self.table)

    @property
    def rejected_key(self) -> dg.AssetKey:
        return zone_key("raw", self.table, "_rejected")

    @property
    def clean_key(self) -> dg.AssetKey:
        return zone_key("clean", self.table)

    @property
    def quarantine_key(self) -> dg.AssetKey:
        return zone_key("clean", self.table, "_quarantine")

    @property
    def committed_key(self) -> dg.AssetKey:
        return dg.AssetKey([*self.topic_key.path[:-1], f"{self.topic_key.path[-1]}_committed"])

    @property
    def clean_step_name(self) -> str:
        return f"clean_{self.table}"

    def keys(self) -> tuple[dg.AssetKey, ...]:
        """Every asset of the stream: what the catalogue facts are given to."""
        return (
            self.pull_key,
            self.topic_key,
            self.raw_key,
            self.clean_key,
            self.quarantine_key,
            self.committed_key,
        )


OPENAQ = Stream(
    name="openaq",
    topic=OPENAQ_TOPIC,
    table="openaq_measurements",
    group="openaq",
    description="OpenAQ measurement messages of the day as received from `openaq.measurements`, with their "
    "Kafka coordinates.",
    columns=CLEAN_MEASUREMENTS,
)
USERS = Stream(
    name="users",
    topic=USERS_TOPIC,
    table="randomuser_users",
    group="users",
    description="randomuser.me user messages of the day as received from `randomuser.users`. They carry no "
    "credentials: the pull drops them before publishing (assets/producers.py `without_credentials`).",
    columns=CLEAN_USERS,
)
ADS = Stream(
    name="ads",
    topic=ADS_TOPIC,
    table="ads_events",
    group="ecommerce",
    description="Ad event messages of the day as received from `ads.events`, with their Kafka coordinates.",
    columns=CLEAN_ADS,
)

STREAMS = (OPENAQ, USERS, ADS)
