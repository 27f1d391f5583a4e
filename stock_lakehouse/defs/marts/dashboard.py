"""The dashboard's pages as Dagster assets, from the dbt exposures (models/_exposures.yml).

One source for what each page reads: the exposure's `depends_on`. Dagster shows each page in the
`dashboard` group, downstream of those marts and lake tables, so lineage ends where people look.
The pages are not materialized by Dagster (Streamlit reads the published marts on each visit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from stock_lakehouse.defs.marts.project import dbt_project
from stock_lakehouse.defs.marts.translator import LakehouseDbtTranslator

DASHBOARD_GROUP = "dashboard"


def dashboard_pages(manifest: Mapping[str, Any]) -> list[dg.AssetSpec]:
    """One AssetSpec per dbt exposure of type dashboard, depending on what the page reads."""
    translator = LakehouseDbtTranslator()
    nodes = {**manifest["nodes"], **manifest["sources"]}
    pages = []
    for exposure in manifest["exposures"].values():
        if exposure["type"] != "dashboard":
            continue
        deps = [translator.get_asset_key(nodes[node]) for node in exposure["depends_on"]["nodes"]]
        pages.append(
            dg.AssetSpec(
                key=dg.AssetKey([DASHBOARD_GROUP, exposure["name"]]),
                deps=deps,
                description=exposure.get("description") or None,
                group_name=DASHBOARD_GROUP,
                kinds={"streamlit"},
                metadata={"url": dg.MetadataValue.url(exposure["url"])}
                if exposure.get("url")
                else {},
            )
        )
    return pages


def load_dashboard_pages(manifest_path: Path = dbt_project.manifest_path) -> list[dg.AssetSpec]:
    return dashboard_pages(json.loads(Path(manifest_path).read_text()))
