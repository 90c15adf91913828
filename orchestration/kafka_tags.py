"""The tags a consumer run carries: the range it lands, the days it touches, its partition.

The topic sensors set them; the committer and the held-back check read them back. Re-executions
and run retries copy a run's tags, so a replayed range is still recognised.
"""

TAG_RANGE = "airstream/kafka_range"
TAG_DAYS = "airstream/kafka_range_days"
TAG_TOPIC_PARTITION = "airstream/kafka_topic_partition"
