"""Run by test_airflow_dag.py with .venv-airflow's Python (Airflow is not in .venv).

Loads the DAG folder as Airflow's parser does, then prints as JSON the import errors, the task's
retry settings and the partition key the task computes for each kind of DAG run: a scheduled run
after Friday's (from the DAG's own timetable), `airflow dags test DAG 2026-03-02`, a manual run
without logical date, and a day before Dagster's first partition.

    python airflow_dag_probe.py DAGS_FOLDER DAG_ID TASK_ID
"""

import json
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import DataInterval, TimeRestriction
from dagster_airlift.in_airflow.partition_utils import (
    PartitionDefinitionType,
    PartitioningInformation,
    TimeWindowPartitioningInformation,
)

# What Dagster's daily partitions report through GraphQL: 2026-01-01 onwards, keys YYYY-MM-DD.
DAYS = [(datetime(2026, 1, 1) + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(365)]
PARTITIONS = PartitioningInformation(
    PartitionDefinitionType.TIME_WINDOW, DAYS, TimeWindowPartitioningInformation("%Y-%m-%d")
)


def main(dags_folder: str, dag_id: str, task_id: str) -> dict:
    bag = DagBag(dag_folder=dags_folder)
    if bag.import_errors:
        return {"import_errors": bag.import_errors}
    dag = bag.dags[dag_id]
    task = dag.get_task(task_id)
    timetable = coerce_to_core_timetable(dag.timetable)

    def key(logical_date: datetime | None, run_after: datetime) -> str:
        context = {"dag_run": SimpleNamespace(run_after=run_after)}
        # Airflow 3 leaves both keys out of the context of a run without logical date.
        if logical_date is not None:
            interval = timetable.infer_manual_data_interval(run_after=logical_date)
            context.update(logical_date=logical_date, data_interval_end=interval.end)
        try:
            return task.get_partition_key(context, PARTITIONS)
        except Exception as error:
            return type(error).__name__

    friday = datetime(2026, 3, 6, 22, 30, tzinfo=UTC)  # 17:30 in New York
    scheduled = timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(friday, friday),
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    scheduled_context = {
        "dag_run": SimpleNamespace(run_after=scheduled.run_after),
        "logical_date": scheduled.logical_date,
        "data_interval_end": scheduled.data_interval.end,
    }
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    return {
        "import_errors": {},
        "retries": task.retries,
        "retry_delay_seconds": task.retry_delay.total_seconds(),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "next_after_friday": scheduled.logical_date.isoformat(),
        "next_after_friday_key": task.get_partition_key(scheduled_context, PARTITIONS),
        "dags_test_2026_03_02": key(midnight, run_after=datetime.now(UTC)),
        "no_logical_date": key(None, run_after=datetime(2026, 3, 4, 9, 15, tzinfo=UTC)),
        "before_first_partition": key(datetime(2025, 12, 31, tzinfo=UTC), datetime.now(UTC)),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
