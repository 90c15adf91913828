"""The platform's pure core: stream types, contracts, day rules, event times and row mappings.

Nothing here imports Dagster (tests/assets/test_core_is_pure.py holds it to that): the assets,
the resources and Spark-side code all share these definitions, so a rule lives in one place.
"""
