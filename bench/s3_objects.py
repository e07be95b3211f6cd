#!/usr/bin/env python3
"""Plain S3 operations for bench/run_s3_bench.sh, with boto3.

    s3_objects.py mkbucket BUCKET
    s3_objects.py put BUCKET KEY FILE      upload FILE; prints the transfer's seconds
    s3_objects.py get BUCKET KEY FILE      download to FILE; prints the transfer's seconds
    s3_objects.py bytes BUCKET PREFIX      prints "BYTES OBJECTS" under PREFIX/
    s3_objects.py rm BUCKET PREFIX         deletes every object (and unfinished upload) under PREFIX/

Endpoint and credentials come from AWS_ENDPOINT_URL, AWS_REGION,
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (what scripts/rgw.sh env prints).
put and get are the floor of the benchmark: the raw file moved with boto3's
managed transfer (multipart, parallel parts, its defaults). They time the
transfer alone, inside the process, so the floor excludes the interpreter's
start and boto3's import, which take longer than small transfers.
"""
import os
import sys
import time

import boto3


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )


def objects_under(s3, bucket, prefix):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    for page in pages:
        yield from page.get("Contents", [])


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    op, bucket = argv[1], argv[2]
    s3 = client()
    if op == "mkbucket":
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    elif op == "put":
        key, path = argv[3], argv[4]
        start = time.perf_counter()
        s3.upload_file(path, bucket, key)
        print(f"{time.perf_counter() - start:.3f}")
    elif op == "get":
        key, path = argv[3], argv[4]
        start = time.perf_counter()
        s3.download_file(bucket, key, path)
        print(f"{time.perf_counter() - start:.3f}")
    elif op == "bytes":
        total = count = 0
        for obj in objects_under(s3, bucket, argv[3]):
            total += obj["Size"]
            count += 1
        print(total, count)
    elif op == "rm":
        prefix = argv[3]
        keys = [{"Key": o["Key"]} for o in objects_under(s3, bucket, prefix)]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
        uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/")
        for u in uploads.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    else:
        sys.exit(f"s3_objects.py: unknown operation {op}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
