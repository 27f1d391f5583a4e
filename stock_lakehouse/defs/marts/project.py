"""The dbt project as Dagster sees it: where it lives and where its manifest is prepared.

The manifest is built by `make manifest` (dbt parse), which `make setup`, `make test` and
`make demo` run; importing the definitions never runs dbt.
"""

from dagster_dbt import DbtProject

from stock_lakehouse.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
