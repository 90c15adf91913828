"""The code location of the committer benchmark: the real committer over an embedded topic log
at BENCH_TOPICS_PATH and a lake at BENCH_LAKE, and nothing else, so the daemon evaluates only
the sensor being measured."""

import os

import dagster as dg

from orchestration.committer import kafka_offset_committer
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource

defs = dg.Definitions(
    sensors=[kafka_offset_committer],
    resources={
        "kafka": EmbeddedTopicLogResource(path=os.environ["BENCH_TOPICS_PATH"]),
        "lake": LakeResource(root=os.environ["BENCH_LAKE"]),
    },
)
