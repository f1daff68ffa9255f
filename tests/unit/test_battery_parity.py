"""Parity with the official implementation (vita-epfl/RDM 391e274): the 14 encoders of our paper battery are the
official registry's, in its panel order, with its checkpoints, input resolutions, pools, dimensions and split
(tests/data/official/battery_official.json, dumped from the official ``all_specs()``)."""

import json
from pathlib import Path

from rdm_core.representation.paper import SPECS

OFFICIAL = json.loads((Path(__file__).parents[1] / "data" / "official" / "battery_official.json").read_text())
SPLITS = {"train": "train", "held_out": "heldout"}  # the official spelling -> ours


def test_battery_equals_the_official_registry():
    ours = list(SPECS)
    assert [s.name for s in ours] == [o["name"] for o in OFFICIAL["specs"]]
    for spec, o in zip(ours, OFFICIAL["specs"]):
        assert (spec.input_size, spec.pool.lower(), spec.dim, spec.split) == \
            (o["input_res"], o["pool"], o["dim"], SPLITS[o["split"]]), spec.name
        if o["source"] in ("timm", "webssl", "radio"):  # hub ids; the other families load one fixed file
            assert spec.checkpoint.removeprefix("timm/") == o["model_id"], spec.name
