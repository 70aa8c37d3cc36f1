import socket

import boto3
from pymongo import MongoClient


def test_infra_serves_mongodb_redis_and_s3(infra):
    mongo = MongoClient(infra.env["MONGODB_URI"], serverSelectionTimeoutMS=5000)
    assert mongo.admin.command("ping")["ok"] == 1.0

    with socket.create_connection(("127.0.0.1", infra.config.ports["redis"])) as conn:
        conn.sendall(b"PING\r\n")
        assert conn.recv(16) == b"+PONG\r\n"

    s3 = boto3.client(
        "s3",
        endpoint_url=infra.env["S3_ENDPOINT_URL"],
        aws_access_key_id="narrative",
        aws_secret_access_key="narrative-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="probe")
    s3.put_object(Bucket="probe", Key="k", Body=b"v")
    assert s3.get_object(Bucket="probe", Key="k")["Body"].read() == b"v"
