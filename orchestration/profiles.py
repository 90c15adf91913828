"""The one place that decides the deployment profile and builds its resources.

`local` (default): everything embedded under DATA_DIR (lake + DuckDB warehouse), Spark
`local[*]`, sample sources. `prod`: PostgreSQL warehouse, a Spark master URL, live sources.
The asset graph is the same in both; only this mapping differs.

Each source's mode (`sample` or `live`) is its own variable (OPENAQ_MODE, RANDOMUSER_MODE,
ADS_EVENTS_MODE, LANDING_MODE), defaulting to SOURCES_MODE, which defaults to the profile's.
"""

import os
from pathlib import Path

import dagster as dg

from assets.dbt_project import dbt_project
from assets.streams import OPENAQ
from orchestration.resources.ads import AdEventsResource
from orchestration.resources.alerts import AlertWebhook
from orchestration.resources.cassandra import CassandraUserStore, EmbeddedUserStore
from orchestration.resources.dbt import DbtCoreCliResource
from orchestration.resources.ecommerce import LandingFolderResource
from orchestration.resources.ecommerce.pseudonym import PseudonymKeyResource, local_key_variable
from orchestration.resources.kafka import EmbeddedTopicLogResource, KafkaResource
from orchestration.resources.lake import LakeResource
from orchestration.resources.lake_io import LakeIOManager
from orchestration.resources.mongo import EmbeddedMeasurementStore, MongoMeasurementStore
from orchestration.resources.openaq import OpenAQResource
from orchestration.resources.randomuser import RandomUserResource
from orchestration.resources.spark import SparkResource
from orchestration.resources.warehouse import DuckDBWarehouse, PostgresWarehouse

PROFILES = ("local", "prod")
SOURCE_MODES = ("sample", "live")


def deployment() -> str:
    profile = os.getenv("DAGSTER_DEPLOYMENT", "local")
    if profile not in PROFILES:
        raise ValueError(f"DAGSTER_DEPLOYMENT must be one of {PROFILES}, got {profile!r}")
    return profile


def data_dir() -> Path:
    """DATA_DIR as an absolute path, exported back: dbt runs in a subprocess from dbt/, where a
    relative path would point somewhere else."""
    path = Path(os.getenv("DATA_DIR", "data")).resolve()
    os.environ["DATA_DIR"] = str(path)
    return path


def _optional_secret(name: str):
    # dg.EnvVar fails at run start when unset; a key that is optional must stay None instead.
    return dg.EnvVar(name) if os.getenv(name) else None


def source_mode(variable: str, default: str) -> str:
    """A source's mode: its own variable, else SOURCES_MODE, else the profile's default (empty
    counts as unset: compose passes unset variables as ""). An unknown value fails here, at
    load, naming the variable it came from, not at the first pull."""
    own, shared = os.getenv(variable, "").strip(), os.getenv("SOURCES_MODE", "").strip()
    name, value = (variable, own) if own else ("SOURCES_MODE", shared)
    if not value:
        return default
    if value not in SOURCE_MODES:
        raise ValueError(f"{name} must be one of {SOURCE_MODES}, got {value!r}")
    return value


def _csv(name: str) -> list[str]:
    return [part.strip() for part in os.getenv(name, "").split(",") if part.strip()]


def openaq_resource(default_mode: str) -> OpenAQResource:
    return OpenAQResource(
        mode=source_mode("OPENAQ_MODE", default_mode),
        base_url=os.getenv("OPENAQ_BASE_URL", "https://api.openaq.org/v3"),
        api_key=_optional_secret("OPENAQ_API_KEY"),
        countries=_csv("OPENAQ_COUNTRIES"),
        location_ids=[int(i) for i in _csv("OPENAQ_LOCATION_IDS")],
        bbox=os.getenv("OPENAQ_BBOX") or None,
        rate_limits=os.getenv("OPENAQ_RATE_LIMITS", "60/60,2000/3600"),
        rate_limit_path=str(data_dir() / "ratelimits.sqlite"),
        # The sample source's size: `make bench` scales the day with these.
        sample_locations=int(os.getenv("OPENAQ_SAMPLE_LOCATIONS", "20")),
        sample_interval_minutes=int(os.getenv("OPENAQ_SAMPLE_INTERVAL_MINUTES", "60")),
    )


def randomuser_resource(default_mode: str) -> RandomUserResource:
    return RandomUserResource(
        mode=source_mode("RANDOMUSER_MODE", default_mode),
        base_url=os.getenv("RANDOMUSER_BASE_URL", "https://randomuser.me/api/1.4/"),
        users_per_day=int(os.getenv("RANDOMUSER_USERS_PER_DAY", "1000")),
        nationalities=_csv("RANDOMUSER_NATIONALITIES"),
        rate_limits=os.getenv("RANDOMUSER_RATE_LIMITS", "20000/300"),
        rate_limit_path=str(data_dir() / "ratelimits.sqlite"),
    )


def ads_resource(default_mode: str) -> AdEventsResource:
    # No public ad API: live mode without ADS_EVENTS_URL skips the pull (an empty ad day, the
    # reason in the pull's metadata), so live air quality runs with no ad server configured.
    return AdEventsResource(mode=source_mode("ADS_EVENTS_MODE", default_mode), url=os.getenv("ADS_EVENTS_URL") or None)


def landing_resource(lake_root: Path, default_mode: str) -> LandingFolderResource:
    # Live: the sample writer writes nothing; the folder holds only what the shop's exports drop.
    return LandingFolderResource(
        landing_dir=os.getenv("LANDING_DIR", str(lake_root / "landing")),
        mode=source_mode("LANDING_MODE", default_mode),
    )


def kafka_resource() -> KafkaResource:
    return KafkaResource(
        bootstrap_servers=dg.EnvVar("KAFKA_BOOTSTRAP_SERVERS"),
        security_protocol=os.getenv("KAFKA_SECURITY_PROTOCOL") or None,
        sasl_mechanism=os.getenv("KAFKA_SASL_MECHANISM") or None,
        sasl_username=_optional_secret("KAFKA_SASL_USERNAME"),
        sasl_password=_optional_secret("KAFKA_SASL_PASSWORD"),
        schema_registry_url=os.getenv("SCHEMA_REGISTRY_URL") or None,
    )


def cassandra_resource() -> CassandraUserStore:
    return CassandraUserStore(
        hosts=_csv("CASSANDRA_HOSTS") or ["127.0.0.1"],
        keyspace=os.getenv("CASSANDRA_KEYSPACE", "spark_streams"),
        consistency=os.getenv("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM"),
        username=_optional_secret("CASSANDRA_USERNAME"),
        password=_optional_secret("CASSANDRA_PASSWORD"),
    )


def resources_for(profile: str) -> dict:
    return with_io_managers(_resources(profile))


def with_io_managers(resources: dict) -> dict:
    """The lake IO manager over the profile's lake and warehouse: the same in both profiles.
    Tests that swap the lake or the warehouse rebuild it with this."""
    io_manager = LakeIOManager(lake=resources["lake"], warehouse=resources["warehouse"])
    return {**resources, "lake_io_manager": io_manager}


def _resources(profile: str) -> dict:
    lake_root = data_dir()
    common = {
        "lake": LakeResource(root=str(lake_root)),
        "dbt": DbtCoreCliResource(
            project_dir=dbt_project, target=profile, parse_state_dir=str(lake_root / ".dbt-parse-state")
        ),
        "alerts": AlertWebhook(url=_optional_secret("ALERT_WEBHOOK_URL")),
        "landing": landing_resource(lake_root, default_mode="sample" if profile == "local" else "live"),
        "pseudonym_key": PseudonymKeyResource(
            key=local_key_variable(lake_root) if profile == "local" else dg.EnvVar("PII_HASH_KEY")
        ),
    }
    if profile == "local":
        # DuckDB creates its file but not the folder, and on a fresh clone dbt's seeds (the
        # plausibility rules) can be the first thing built, before any lake write made it.
        lake_root.mkdir(parents=True, exist_ok=True)
        # Embedded stand-ins with the same interfaces: a laptop runs the whole flow, sensors
        # included (the SQLite files are safe across the daemon's and the runs' processes).
        return {
            **common,
            "openaq": openaq_resource(default_mode="sample"),
            "randomuser": randomuser_resource(default_mode="sample"),
            "ads": ads_resource(default_mode="sample"),
            "kafka": EmbeddedTopicLogResource(path=str(lake_root / "topics.sqlite")),
            "spark": SparkResource(start_server=True),
            "warehouse": DuckDBWarehouse(path=str(lake_root / "warehouse.duckdb")),
            "measurement_store": EmbeddedMeasurementStore(path=str(lake_root / "mongo.sqlite")),
            "user_store": EmbeddedUserStore(path=str(lake_root / "cassandra.sqlite")),
        }
    return {
        **common,
        "openaq": openaq_resource(default_mode="live"),
        "randomuser": randomuser_resource(default_mode="live"),
        "ads": ads_resource(default_mode="live"),
        "kafka": kafka_resource(),
        "measurement_store": MongoMeasurementStore(
            uri=dg.EnvVar("MONGO_URI"),
            database=os.getenv("MONGO_DATABASE", "airstream"),
            collection=os.getenv("MONGO_COLLECTION", OPENAQ.table),
        ),
        "user_store": cassandra_resource(),
        # sc://: a client of the Spark Connect server in front of the cluster (the compose stack's
        # spark-connect); spark://: a classic driver in the step process, on the cluster directly.
        "spark": SparkResource(master=dg.EnvVar("SPARK_MASTER_URL"), driver_memory="4g"),
        "warehouse": PostgresWarehouse(
            host=os.getenv("WAREHOUSE_HOST", "127.0.0.1"),
            port=int(os.getenv("WAREHOUSE_PORT", "5432")),
            user=os.getenv("WAREHOUSE_USER", "postgres"),
            password=_optional_secret("WAREHOUSE_PASSWORD"),
            dbname=os.getenv("WAREHOUSE_DB", "warehouse"),
            # The role dbt grants each mart to: the catalogue table the API serves gets the same.
            reader_role=os.getenv("WAREHOUSE_READER_ROLE", "marts_reader"),
        ),
    }
