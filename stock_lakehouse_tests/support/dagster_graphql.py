"""A real Dagster webserver's GraphQL, the API the UI and Airflow use."""

from __future__ import annotations

import requests

from stock_lakehouse_tests.support.environment import PORT_OFFSET

# The backfill and supervision tests; the Airflow test has its own (13100), the dashboard 13200.
DAGSTER_PORT = 13000 + PORT_OFFSET
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
SENSORS = """
query { repositoriesOrError { ... on RepositoryConnection { nodes {
  sensors { id name sensorState { status } } } } } }
"""
STOP_SENSOR = """
mutation($id: String!) { stopSensor(id: $id) {
  __typename ... on PythonError { message } } }
"""


def graphql(query: str, port: int = DAGSTER_PORT, **variables) -> dict:
    """The query's data; GraphQL errors fail the test with their message."""
    response = requests.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables},
        timeout=60,
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]
