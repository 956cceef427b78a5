"""Copy a run directory to an S3-compatible bucket (boto3, imported only when configured).

Credentials come from the standard AWS chain (`AWS_SHARED_CREDENTIALS_FILE` points at a
secret file in the container). Only ciphertexts and the manifest are uploaded; the
bucket's own lifecycle rule keeps them 90 days (seed: 90 days S3).
"""

from __future__ import annotations

from pathlib import Path

from .config import Offsite


class OffsiteError(RuntimeError):
    pass


def upload_run(run: Path, offsite: Offsite) -> list[str]:
    try:
        import boto3
    except ImportError:
        raise OffsiteError("off-site copy configured but boto3 is not installed in this image") from None
    client = boto3.client("s3", endpoint_url=offsite.endpoint)
    keys = []
    for path in sorted(run.iterdir()):
        if path.is_file():
            key = "/".join(part for part in (offsite.prefix.strip("/"), run.name, path.name) if part)
            client.upload_file(str(path), offsite.bucket, key)
            keys.append(key)
    return keys
