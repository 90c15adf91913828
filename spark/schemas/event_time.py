"""Which texts are event times: one grammar, defined here without a pyspark import, so that the
Python parser (`parse_utc` in assets/core/event_time.py) and the Spark one (`utc_ntz` in
spark/transforms/event_time.py) accept exactly the same stamps. Spark sits below the assets, so
the rule lives at the bottom.

An ISO 8601 calendar date, optionally a time (hh:mm:ss, up to 9 fraction digits) and after it
optionally "Z" or an offset (+hh, +hhmm, +hh:mm), with spaces around allowed. A stamp without an
offset is UTC (the OpenAQ fields are UTC by name). Each parser alone accepts extras the other
refuses (Python: "T05:00Z", week dates, the basic format, offsets past 18 h; Spark: a " UTC"
suffix, a leading "+"): the grammar keeps them out of both. Written with [0-9], not \\d, which
also matches non-ASCII digits in Python.
"""

_OFFSET = r"(?:Z|[+-](?:0[0-9]|1[0-7])(?::?[0-5][0-9])?|[+-]18(?::?00)?)"
STAMP = rf" *[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(?:[T ][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?:\.[0-9]{{1,9}})?{_OFFSET}?)? *"
