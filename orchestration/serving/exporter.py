"""The platform's Prometheus exporter (`make metrics`, default 127.0.0.1:9464/metrics).

Every scrape reads the sources afresh: the Dagster instance (DAGSTER_HOME: materialization
metadata, check evaluations, runs, so queued and failed runs report even when no asset was
written), the topics (end and committed offsets, DLQ sizes), the lake's raw zone (held
messages, from the holding area's Parquet footers, and the messages moved out of it) and the
warehouse (mart row counts, read as the API reads it: a DuckDB snapshot or the PostgreSQL
reader role). A source
that fails is reported as `airstream_exporter_source_up{source} 0`; the others still answer.
"""

import logging
import os
import time
import warnings
from collections import defaultdict
from datetime import timedelta

import dagster as dg
from prometheus_client import start_http_server
from prometheus_client.core import CollectorRegistry

from assets.core import clock as platform_clock
from assets.landing.held import held_days, released_rows
from assets.streams import STREAMS
from assets.topics import LANDING_GROUP
from orchestration.resources.kafka import EmbeddedTopicLogResource, KafkaResource, dlq_topic
from orchestration.resources.lake import LakeResource
from orchestration.serving import platform_metrics as pm
from orchestration.serving.readers import reader_for
from orchestration.serving.settings import ServingSettings, from_env

log = logging.getLogger(__name__)
TOPICS = tuple(s.topic for s in STREAMS)
RECENT_RUNS = 500
CHECK_EVENTS = 5000
MATERIALIZATIONS_PER_ASSET = 500


def topic_log(settings: ServingSettings):
    """The topics as the runs see them; built from plain values, since outside a Dagster run
    an `EnvVar` field would not be resolved."""
    if settings.profile == "local":
        return EmbeddedTopicLogResource(path=str(settings.data_dir / "topics.sqlite"))
    return KafkaResource(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        security_protocol=os.getenv("KAFKA_SECURITY_PROTOCOL") or None,
        sasl_mechanism=os.getenv("KAFKA_SASL_MECHANISM") or None,
        sasl_username=os.getenv("KAFKA_SASL_USERNAME") or None,
        sasl_password=os.getenv("KAFKA_SASL_PASSWORD") or None,
    )


class PlatformCollector:
    def __init__(
        self,
        settings: ServingSettings,
        instance: dg.DagsterInstance | None = None,
        clock=time.time,
        now=platform_clock.now,
    ):
        self.settings = settings
        self.instance = instance or dg.DagsterInstance.get()
        self.reader = reader_for(settings)
        self.topics = topic_log(settings)
        self.lake = LakeResource(root=str(settings.data_dir))  # the lake root is DATA_DIR in both profiles
        # Two clocks: `clock` (system seconds) measures ages against the event log's real
        # stamps; `now` (the platform's clock, assets/core/clock.py) decides days: the window
        # of days reported and when a held message is overdue.
        self.clock, self.now = clock, now

    # -- the instance ---------------------------------------------------------------------
    def asset_rows(self) -> dict:
        first_day = (self.now().date() - timedelta(days=self.settings.metrics_days)).isoformat()
        rows = {}
        # Only assets that report rows per day: the others would cost a query each per scrape.
        latest = self.instance.get_latest_materialization_events(self.instance.get_asset_keys())
        counted = [k for k, e in latest.items() if e is not None and "per_day" in e.asset_materialization.metadata]
        for key in counted:
            result = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key), limit=MATERIALIZATIONS_PER_ASSET, ascending=False
            )
            by_day = defaultdict(list)
            for record in result.records:
                materialization = record.asset_materialization
                if record.partition_key and "per_day" in materialization.metadata:
                    metadata = {k: v.value for k, v in materialization.metadata.items()}
                    by_day[record.partition_key].append(metadata)
            for day, metadatas in by_day.items():
                if day >= first_day or self.settings.metrics_days <= 0:
                    counts = pm.day_rows(metadatas, day)
                    if counts:
                        rows[(pm.asset_label(key.path), day)] = counts
        return rows

    def last_success(self) -> dict:
        events = self.instance.get_latest_materialization_events(self.instance.get_asset_keys())
        return {pm.asset_label(k.path): e.timestamp for k, e in events.items() if e is not None}

    def latest_checks(self) -> dict:
        with warnings.catch_warnings():  # no replacement that needs no check keys yet
            warnings.simplefilter("ignore", DeprecationWarning)
            records = self.instance.get_event_records(
                dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION),
                limit=CHECK_EVENTS,
                ascending=False,
            )
        latest = {}
        for record in records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            key = (pm.asset_label(evaluation.asset_key.path), evaluation.check_name)
            latest.setdefault(key, (evaluation.passed, evaluation.severity.value))
        return latest

    def runs(self) -> tuple[dict, list]:
        counts = {
            s: self.instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus(s)])) for s in pm.RUN_STATUSES
        }
        recent = []
        for record in self.instance.get_run_records(limit=RECENT_RUNS):
            run = record.dagster_run
            finished = record.start_time is not None and record.end_time is not None
            recent.append(
                pm.RunSample(run.job_name, run.status.value, record.end_time - record.start_time if finished else None)
            )
        return counts, recent

    # -- topics and warehouse -------------------------------------------------------------
    def topic_samples(self) -> list:
        return [
            pm.TopicSample(
                t,
                self.topics.end_offsets(t),
                self.topics.committed(LANDING_GROUP, t),
                self.topics.topic_size(dlq_topic(t)),
            )
            for t in TOPICS
        ]

    def held_samples(self) -> list:
        """The holding area of each flow, and its messages moved into the raw days of the window."""
        first_day = self.now().date() - timedelta(days=self.settings.metrics_days)
        samples = []
        for flow in STREAMS:
            days = self.lake.table_days("raw", flow.table)
            days = [d for d in days if d >= first_day or self.settings.metrics_days <= 0]
            released = {d: released_rows(self.lake, flow.table, d) for d in sorted(days)}
            samples.append(
                pm.HeldSample(flow.topic, held_days(self.lake, flow.table), {d: n for d, n in released.items() if n})
            )
        return samples

    def mart_rows(self) -> dict:
        tables = self.reader.rows(
            "select table_name from information_schema.tables where table_schema = 'marts'"
            " and table_type = 'BASE TABLE' order by 1",
            [],
        )
        # Names come from the catalogue, not from a client, and are quoted.
        return {
            t["table_name"]: self.reader.rows(f'select count(*) as n from marts."{t["table_name"]}"', [])[0]["n"]
            for t in tables
        }

    def collect(self):
        up = {}
        sources = {
            "dagster_assets": lambda: (
                pm.row_families(self.asset_rows()) + pm.freshness_families(self.last_success(), self.clock())
            ),
            "dagster_checks": lambda: pm.check_families(self.latest_checks()),
            "dagster_runs": lambda: pm.run_families(*self.runs()),
            "topics": lambda: pm.topic_families(self.topic_samples(), LANDING_GROUP),
            "lake": lambda: pm.held_families(self.held_samples(), self.now(), self.settings.held_alert_days),
            "warehouse": lambda: pm.warehouse_families(self.mart_rows()),
        }
        for name, read in sources.items():
            try:
                families = read()
                up[name] = True
            except Exception:  # one source down must not blank the others
                log.exception("exporter: reading %s failed", name)
                up[name] = False
                continue
            yield from families
        yield from pm.source_families(up)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    settings = from_env()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(settings))
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    log.info("airstream exporter on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
