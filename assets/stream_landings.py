"""The landing asset of every stream (`raw/<table>`), one per descriptor of assets/streams.py."""

import dagster as dg

from assets.landing import landing_asset
from assets.streams import STREAMS, Stream

# A list: the code location loads every asset of a list in a module of the `assets` package.
landings = [landing_asset(s.topic, s.table, s.group, s.description) for s in STREAMS]


def landing_of(stream: Stream) -> dg.AssetsDefinition:
    return next(a for a in landings if stream.raw_key in a.keys)
