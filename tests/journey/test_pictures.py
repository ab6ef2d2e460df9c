"""The journey map and the service blueprint: every stage and touchpoint label in the SVG as
text, the line of visibility, measured backstage steps, real PNG files, and unsafe names drawn
as plain text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from cxroi.analyses.journey import journey_init, journey_picture
from cxroi.errors import CxroiError
from cxroi.journey import dump, load, parse
from cxroi.journey.document import BackstageStep
from cxroi.journey.pictures import blueprint_figure, map_figure, save_figure
from tests.models._workspaces import simulated_workspace

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    ws, _ = simulated_workspace(tmp_path_factory.mktemp("pictures") / "ws", customers=1500,
                                seed=2)  # fmt: skip
    journey_init(ws)
    return ws


def _texts(path: Path) -> str:
    """The SVG's text, its lines joined by spaces (a wrapped label is one <text> per line)."""
    root = ET.parse(path).getroot()  # well-formed XML
    return " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def test_the_map_holds_every_stage_and_touchpoint_label(sim, tmp_path):
    out = tmp_path / "map.svg"
    r = journey_picture(sim, "map", out)
    j = load(Path(sim.path) / "journey.yaml")
    text = _texts(out)
    for s in j.stages:
        assert s.name in text
    for t in j.touchpoints:
        assert t.name in text
    assert "emotion curve" in text and "n = " in text
    assert r.params["path"] == str(out)


def test_the_blueprint_has_its_lanes_the_line_of_visibility_and_backstage_timings(sim, tmp_path):
    path = Path(sim.path) / "journey.yaml"
    j = load(path)
    # the delivery touchpoint gets lanes; its backstage step is measured by the checkout events
    stages = []
    for s in j.stages:
        tps = tuple(
            replace(t, customer_action="Receives the parcel", frontstage="Courier at the door",
                    backstage=(BackstageStep("Order packed", "checkout"),
                               BackstageStep("Carrier handover")),
                    support=("warehouse system",))
            if t.id == "delivery" else t
            for t in s.touchpoints
        )  # fmt: skip
        stages.append(replace(s, touchpoints=tps))
    path.write_text(dump(replace(j, stages=tuple(stages))))
    out = tmp_path / "blueprint.svg"
    journey_picture(sim, "blueprint", out)
    text = _texts(out)
    for word in ("line of visibility", "Customer actions", "Frontstage", "Backstage",
                 "Support processes", "Receives the parcel", "warehouse system",
                 "Carrier handover"):  # fmt: skip
        assert word in text
    checkout = sim.table("events").to_pandas().query("touchpoint == 'checkout'")
    assert f"Order packed ({len(checkout):,} events" in text
    for s in j.stages:
        assert s.name in text
    for t in j.touchpoints:
        assert t.id in text
    journey_init(sim, force=True)


def test_png_files_are_png(sim, tmp_path):
    for kind in ("map", "blueprint"):
        out = tmp_path / f"{kind}.png"
        journey_picture(sim, kind, out)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert oct(out.stat().st_mode & 0o777) != "0o600"  # not the temporary file's mode


def test_names_are_drawn_as_text_never_as_markup_or_maths(tmp_path):
    j = parse("stages: [{id: s, name: '<script>alert(1)</script>', touchpoints: "
              "[{id: t, name: '$5 fee & <b>bold</b>'}]}]")  # fmt: skip
    m = pd.DataFrame({"touchpoint": ["t"], "metric": ["nps"], "value": [12.0], "n": [40]})
    out = save_figure(map_figure(j, m), tmp_path / "m.svg")
    raw = out.read_text()
    assert "<script>" not in raw and "<b>" not in raw
    text = _texts(out)
    assert "<script>alert(1)</script>" in text and "$5 fee & <b>bold</b>" in text
    save_figure(blueprint_figure(j, m, pain_points={"t"}), tmp_path / "b.svg")
    assert "pain point" in _texts(tmp_path / "b.svg")


def test_bad_requests_are_one_line(sim, tmp_path):
    with pytest.raises(CxroiError, match=r"--out .*m\.pdf: write a \.svg or \.png file"):
        journey_picture(sim, "map", tmp_path / "m.pdf")
    with pytest.raises(CxroiError, match=r"--metric 'colour': choose one of ces, "):
        journey_picture(sim, "map", tmp_path / "m.svg", metric="colour")
    with pytest.raises(CxroiError, match="folder .* does not exist"):
        journey_picture(sim, "map", tmp_path / "nowhere" / "m.svg")
    assert not list(tmp_path.iterdir())  # nothing half-written
