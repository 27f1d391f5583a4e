"""The real S3 store (SeaweedFS locally): objects round-trip; wrong or missing credentials fail."""

from __future__ import annotations

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import SecretStr

from stock_lakehouse.clients.s3 import s3_client

pytestmark = pytest.mark.integration


def test_put_list_get_round_trip(services, unique_name):
    client = s3_client(services.s3)
    bucket = services.s3.bucket
    bodies = {f"{unique_name}/part-{i}.txt": f"tick batch {i}".encode() * (i + 1) for i in range(5)}
    for key, body in bodies.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)

    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{unique_name}/")
    assert {obj["Key"]: obj["Size"] for obj in listed["Contents"]} == {
        key: len(body) for key, body in bodies.items()
    }
    for key, body in bodies.items():
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_wrong_secret_is_refused(services):
    wrong = services.s3.model_copy(update={"secret_access_key": SecretStr("not-the-secret")})
    with pytest.raises(ClientError) as refused:
        s3_client(wrong, retries=1).list_objects_v2(Bucket=services.s3.bucket)
    assert refused.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied"}


def test_unknown_key_and_anonymous_requests_are_refused(services):
    unknown = services.s3.model_copy(update={"access_key_id": "nobody"})
    with pytest.raises(ClientError) as refused:
        s3_client(unknown, retries=1).list_objects_v2(Bucket=services.s3.bucket)
    assert refused.value.response["Error"]["Code"] in {"InvalidAccessKeyId", "AccessDenied"}

    anonymous = boto3.client(
        "s3",
        endpoint_url=services.s3.endpoint_url,
        region_name=services.s3.region,
        config=Config(signature_version=UNSIGNED),
    )
    with pytest.raises(ClientError) as denied:
        anonymous.list_objects_v2(Bucket=services.s3.bucket)
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
