"""boto3 access to the S3 store, built from the one S3 settings object."""

from __future__ import annotations

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.settings import S3Settings


def boto3_client_kwargs(s3: S3Settings) -> dict:
    """Keyword arguments for boto3.client('s3')."""
    return {
        "endpoint_url": s3.endpoint_url,
        "aws_access_key_id": s3.access_key_id,
        "aws_secret_access_key": s3.secret_access_key.get_secret_value(),
        "region_name": s3.region,
    }


def s3_client(s3: S3Settings, *, connect_timeout: float = 5, retries: int = 3) -> BaseClient:
    addressing = "path" if s3.path_style else "auto"
    config = Config(
        s3={"addressing_style": addressing},
        connect_timeout=connect_timeout,
        read_timeout=60,
        retries={"max_attempts": retries, "mode": "standard"},
    )
    return boto3.client("s3", config=config, **boto3_client_kwargs(s3))


def s3_answers(s3: S3Settings) -> bool:
    """True when the store accepts our credentials (list_buckets succeeds)."""
    try:
        s3_client(s3, connect_timeout=1, retries=1).list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def ensure_bucket(s3: S3Settings) -> None:
    """Create the lakehouse bucket if missing; a refusal becomes a one-line instruction."""
    client = s3_client(s3)
    try:
        client.head_bucket(Bucket=s3.bucket)
        return
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in {"404", "NoSuchBucket", "NotFound"}:
            raise UserFacingError(
                f"S3 store at {s3.endpoint_url} refused bucket {s3.bucket!r} ({code}) "
                "- check S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY in .env"
            ) from exc
    except BotoCoreError as exc:
        raise store_unreachable(s3) from exc
    client.create_bucket(Bucket=s3.bucket)


def store_unreachable(s3: S3Settings) -> UserFacingError:
    """The one line every command prints when nothing answers at S3_ENDPOINT_URL."""
    return UserFacingError(
        f"S3 store is not reachable at {s3.endpoint_url} - run 'stock-lakehouse services up' "
        "or set S3_ENDPOINT_URL"
    )


def deltalake_storage_options(s3: S3Settings) -> dict[str, str]:
    """Storage options for the `deltalake` (delta-rs) reader: Delta tables without a JVM."""
    return {
        "AWS_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3.secret_access_key.get_secret_value(),
        "AWS_REGION": s3.region,
        "AWS_ALLOW_HTTP": str(not s3.use_ssl).lower(),
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": str(not s3.path_style).lower(),
    }


def pyarrow_filesystem(s3: S3Settings):
    """A pyarrow S3 filesystem on the configured store, for writing Parquet files directly."""
    from pyarrow import fs

    return fs.S3FileSystem(
        access_key=s3.access_key_id,
        secret_key=s3.secret_access_key.get_secret_value(),
        endpoint_override=s3.endpoint_url,
        scheme="https" if s3.use_ssl else "http",
        region=s3.region,
        force_virtual_addressing=not s3.path_style,
    )
