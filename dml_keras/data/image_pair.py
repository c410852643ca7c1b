"""`ImagePair`: what every pair source yields, below the readers that make them (folders, CSVs, shards)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ImagePair:
    """One aligned HR/LR pair: a short `name` and the two image paths (or record references into a shard)."""

    name: str
    hr: str
    lr: str
