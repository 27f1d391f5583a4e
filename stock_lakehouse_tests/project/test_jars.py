"""The Maven-fetched Spark jars add connectors without a second copy of anything in the wheel."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyspark

from stock_lakehouse.clients.spark_session import spark_jars
from stock_lakehouse.settings import get_settings

WHEEL_JARS = Path(pyspark.__file__).parent / "jars"
# Spark's build puts this empty stub into every module jar; it is identical everywhere.
ALLOWED_DUPLICATES = {"org/apache/spark/unused/UnusedStubClass.class"}


def class_names(jar: Path) -> set[str]:
    with zipfile.ZipFile(jar) as archive:
        return {
            name
            for name in archive.namelist()
            if name.endswith(".class") and not name.startswith("META-INF/")
        }


def test_connector_jars_duplicate_no_class_of_the_pyspark_wheel():
    wheel_classes: set[str] = set()
    for jar in WHEEL_JARS.glob("*.jar"):
        wheel_classes |= class_names(jar)
    duplicates = {
        jar.name: sorted(class_names(jar) & wheel_classes - ALLOWED_DUPLICATES)[:3]
        for jar in spark_jars(get_settings())
    }
    assert {name: found for name, found in duplicates.items() if found} == {}


def test_connector_jars_hold_kafka_s3a_and_delta_but_not_the_sdk_bundle():
    names = [jar.name for jar in spark_jars(get_settings())]
    for expected in ("spark-sql-kafka-0-10_2.13-4.2.0", "hadoop-aws-3.5.0", "delta-spark_4.2_2.13"):
        assert any(name.startswith(expected) for name in names), expected
    assert not any(name.startswith("bundle-") for name in names)
    size_mb = sum(jar.stat().st_size for jar in spark_jars(get_settings())) / 2**20
    assert size_mb < 60, f"{size_mb:.0f} MB: did the 686 MB AWS SDK bundle come back?"


def test_hadoop_aws_matches_the_wheels_hadoop_client():
    wheel_hadoop = {p.name for p in WHEEL_JARS.glob("hadoop-client-api-*.jar")}
    ours = [jar.name for jar in spark_jars(get_settings()) if jar.name.startswith("hadoop-aws-")]
    assert len(ours) == 1
    version = ours[0].removeprefix("hadoop-aws-").removesuffix(".jar")
    assert wheel_hadoop == {f"hadoop-client-api-{version}.jar"}
